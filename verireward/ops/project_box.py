"""Projection of 3D boxes through pinhole cameras with near-plane clipping, and the reprojection
consistency (RPC, GRCA Eq. 13) of a 2D and a 3D box (``csrc/project_box/``). Conventions as in
:mod:`verireward.ops.box_iou`."""

from __future__ import annotations

import math
from typing import Any, Optional, Tuple, Union

import numpy as np

from verireward._native import _C
from verireward._backend import Call, data_ptr, torch_module
from verireward.ops.oriented import box_rotation

Array = Any  # torch.Tensor | numpy.ndarray
ImageSize = Union[None, Tuple[float, float], Array]


def _camera_args(call: Call, n: int, K: Array, R: Array, t: Array, near: float, image_size: ImageSize, args: Any = None):
    """Validates K [N|1, 3, 3] (or [3, 3]), R likewise, t [N|1, 3] (or [3]), near, image_size and
    fills a ProjectArgs (a new one, or `args`); returns it with the arrays it points into."""
    args = args if args is not None else _C.ProjectArgs()
    keep = []
    for x, name, tail in ((K, "K", (3, 3)), (R, "R", (3, 3)), (t, "t", (3,))):
        x = call.floats(x, name)
        ok = tuple(x.shape) == tail or (
            x.ndim == len(tail) + 1 and tuple(x.shape[1:]) == tail and x.shape[0] in (1, n)
        )
        expected = f"[{n}|1, {', '.join(map(str, tail))}] or [{', '.join(map(str, tail))}]"
        call.shape(x, name, expected, ok)
        x = call.contiguous(x)
        stride = math.prod(tail) if (x.ndim == len(tail) + 1 and x.shape[0] == n and n != 1) else 0
        keep.append(x)
        setattr(args, name, data_ptr(x))
        setattr(args, f"{name}_stride", stride)
    args.near = call.positive(near, "near")
    if image_size is not None:
        if isinstance(image_size, (tuple, list)):
            if len(image_size) != 2:
                raise call.value_error(f"argument 'image_size' must be (width, height), got {image_size!r}")
            w, h = (call.positive(v, "image_size") for v in image_size)
            if call.kind == "numpy":
                img = np.array([w, h], dtype=call.ref.dtype)
            else:
                img = torch_module().tensor([w, h], dtype=call.ref.dtype, device=call.ref.device)
        else:
            img = call.floats(image_size, "image_size")
            call.shape(img, "image_size", f"[{n}|1, 2] or [2]",
                       tuple(img.shape) == (2,) or (img.ndim == 2 and img.shape[1] == 2 and img.shape[0] in (1, n)))
            img = call.contiguous(img)
        keep.append(img)
        args.img = data_ptr(img)
        args.img_stride = 2 if (img.ndim == 2 and img.shape[0] == n and n != 1) else 0
    return args, keep


def project_box_3d(boxes: Array, K: Array, R: Array, t: Array, near: float = 1e-4, image_size: ImageSize = None, *,
                   seq: Optional[str] = None, degrees: bool = False) -> Tuple[Array, Array]:
    """Enclosing 2D box of the visible part of each axis-aligned 3D box (GRCA Eq. 11, GRCA Eq. 12).

    Each world point ``X`` maps to the homogeneous image point ``h = K (R X + t)`` and the pixel
    ``(h₁/h₃, h₂/h₃)``. The box is clipped against the near plane ``h₃ = near`` (``h₃`` is the
    camera-frame depth ``z_c`` for any pinhole K, whose last row is (0, 0, 1)): corners with
    ``h₃ < near`` are never divided through; the points where the box's edges cross the plane
    replace them, and the result is the axis-aligned box enclosing the projections of the visible
    corners and those crossing points — the exact enclosing box of the visible solid's image.

    Args:
        boxes: ``[N, 6]`` world-frame boxes ``(x1, y1, z1, x2, y2, z2)``, or with ``seq`` oriented
            boxes ``[N, 6 + len(seq)]`` ``(cx, cy, cz, sx, sy, sz, *angles)`` (see
            :mod:`verireward.ops.oriented`; the same near-plane rule; a size <= 0 is invalid).
        K: ``[N|1, 3, 3]`` or ``[3, 3]`` intrinsics.
        R: ``[N|1, 3, 3]`` or ``[3, 3]`` world-to-camera rotation (any 3×3 is accepted).
        t: ``[N|1, 3]`` or ``[3]`` translation: ``X_c = R X_w + t``.
        near: the clipping depth, > 0.
        image_size: optional ``(W, H)`` or ``[N|1, 2]``: clip the result to ``[0, W] × [0, H]``.
            Without it nothing is clipped to the image.

    Returns:
        ``(boxes2d [N, 4], valid [N] bool)``. ``valid`` is False — and the box ``(0, 0, 0, 0)`` —
        when no part of the box is at depth ≥ near, an input or the result is not finite, or with
        ``image_size``, the projection lies entirely outside the image.
    """
    call = Call("project_box_3d")
    boxes = call.floats(boxes, "boxes")
    args = _C.ProjectArgs()
    width = box_rotation(call.op, args, seq, degrees)
    call.shape(boxes, "boxes", f"[N, {width}]", boxes.ndim == 2 and boxes.shape[1] == width)
    n = boxes.shape[0]
    boxes = call.contiguous(boxes)
    args, _keep = _camera_args(call, n, K, R, t, near, image_size, args)
    out, valid = call.empty((n, 4)), call.empty((n,), "bool")
    args.dtype, args.device, args.n = call.dtype_code, call.device(), n
    args.boxes3d, args.out, args.valid = data_ptr(boxes), data_ptr(out), data_ptr(valid)
    _C.project_box(args)
    return out, valid


def rpc(boxes2d: Array, boxes3d: Array, K: Array, R: Array, t: Array, near: float = 1e-4,
        image_size: ImageSize = None, *, seq: Optional[str] = None, degrees: bool = False) -> Array:
    """Reprojection consistency (GRCA Eq. 13): ``IoU(B2D, B_proj)`` per sample.

    ``B_proj`` is :func:`project_box_3d` of the predicted 3D box (near-plane clipped); a projection
    that is invalid (box entirely behind the camera, non-finite input) gives 0, as does a
    non-finite or degenerate 2D box. Fused in one kernel.

    Args:
        boxes2d: ``[N, 4]`` predicted 2D boxes in pixels.
        boxes3d: ``[N, 6]`` predicted 3D boxes in the world frame (with ``seq``: oriented
            ``[N, 6 + len(seq)]``).
        K, R, t, near, image_size, seq, degrees: as in :func:`project_box_3d`.

    Returns:
        ``[N]`` in [0, 1].
    """
    call = Call("rpc")
    boxes2d = call.floats(boxes2d, "boxes2d")
    boxes3d = call.floats(boxes3d, "boxes3d")
    args = _C.ProjectArgs()
    width = box_rotation(call.op, args, seq, degrees)
    call.shape(boxes3d, "boxes3d", f"[N, {width}]", boxes3d.ndim == 2 and boxes3d.shape[1] == width)
    n = boxes3d.shape[0]
    call.shape(boxes2d, "boxes2d", f"[{n}, 4]", tuple(boxes2d.shape) == (n, 4))
    boxes2d, boxes3d = call.contiguous(boxes2d), call.contiguous(boxes3d)
    args, _keep = _camera_args(call, n, K, R, t, near, image_size, args)
    out = call.empty((n,))
    args.dtype, args.device, args.n = call.dtype_code, call.device(), n
    args.boxes2d, args.boxes3d, args.out = data_ptr(boxes2d), data_ptr(boxes3d), data_ptr(out)
    _C.rpc(args)
    return out


def pinhole_camera(fx: Any, fy: Any, cx: Any, cy: Any, *, like: Any = None) -> Tuple[Array, Array, Array]:
    """``(K, R, t)`` of a pinhole camera whose frame is the world frame (R = I, t = 0), the camera
    Qwen3-VL's 3D grounding answers in: ``K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]``. Numbers give
    ``[3, 3]``, ``[3, 3]``, ``[3]``; arrays ``[N]`` give ``[N, 3, 3]``, ``[N, 3, 3]``, ``[N, 3]``.
    torch tensors (float64) unless ``like`` is a numpy array (or the inputs are)."""
    vals = [fx, fy, cx, cy]
    np_out = isinstance(like, np.ndarray) or any(isinstance(v, np.ndarray) for v in vals)
    arr = [np.asarray(v.detach().cpu() if hasattr(v, "detach") else v, dtype=np.float64) for v in vals]
    shape = np.broadcast_shapes(*(a.shape for a in arr))
    if len(shape) > 1:
        raise ValueError(f"pinhole_camera: fx, fy, cx, cy must be numbers or [N] arrays, got shape {list(shape)}")
    fx_, fy_, cx_, cy_ = (np.broadcast_to(a, shape) for a in arr)
    if not all(np.isfinite(a).all() for a in (fx_, fy_, cx_, cy_)) or (fx_ <= 0).any() or (fy_ <= 0).any():
        raise ValueError("pinhole_camera: fx and fy must be finite and > 0, cx and cy finite")
    K = np.zeros(shape + (3, 3))
    K[..., 0, 0], K[..., 1, 1], K[..., 0, 2], K[..., 1, 2], K[..., 2, 2] = fx_, fy_, cx_, cy_, 1.0
    R = np.broadcast_to(np.eye(3), shape + (3, 3)).copy()
    t = np.zeros(shape + (3,))
    if np_out:
        return K, R, t
    torch = torch_module()
    if torch is None:
        import torch
    return torch.from_numpy(K), torch.from_numpy(R), torch.from_numpy(t)


__all__ = ["project_box_3d", "rpc", "pinhole_camera"]
