"""Batched box geometry: IoU, projection with near-plane clipping, containment, reprojection consistency.

Every op takes torch tensors (CPU or CUDA) or numpy arrays, float32 or float64, and returns the same
kind on the same device. The math runs in double precision whatever the storage type, in C++
(OpenMP) or CUDA kernels that share one ``__host__ __device__`` implementation (``csrc/``).

Conventions shared by every op (see verireward/SEMANTICS.md):

* A 2D box is ``(x1, y1, x2, y2)``, a 3D box ``(x1, y1, z1, x2, y2, z2)``; a box is the axis-aligned
  hull of its two corners, so swapped corners describe the same box.
* Any non-finite coordinate makes a box invalid: IoU 0, containment 0, projection invalid.
* Zero extent on any axis gives IoU 0, also against itself; touching boxes give exactly 0.

Why this file passes 400 lines: its ops are thin wrappers over the kernels that share the
conventions above and one argument-checking path; split, each part would restate them.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Tuple, Union

import numpy as np

from verireward._native import _C
from verireward._backend import Call, broadcast_lead, data_ptr, pair_function, torch_module, wants_grad
from verireward.oriented import angle_unit, parse_seq

Array = Any  # torch.Tensor | numpy.ndarray
ImageSize = Union[None, Tuple[float, float], Array]


# ---------------------------------------------------------------------------------------------------
# IoU
# ---------------------------------------------------------------------------------------------------


def _iou_setup(op: str, a: Array, b: Array, dim: int):
    call = Call(op)
    a = call.floats(a, "a")
    b = call.floats(b, "b")
    width = 2 * dim
    for x, name in ((a, "a"), (b, "b")):
        call.shape(x, name, f"[..., {width}]", x.ndim >= 1 and x.shape[-1] == width)
    lead = broadcast_lead(call, a, b, "a", "b")
    n = math.prod(lead)
    a_rows, a_stride = call.rows(a, lead, width)
    b_rows, b_stride = call.rows(b, lead, width)
    args = _C.IouArgs()
    args.dim, args.dtype, args.device, args.n = dim, call.dtype_code, call.device(), n
    args.a, args.a_stride, args.b, args.b_stride = data_ptr(a_rows), a_stride, data_ptr(b_rows), b_stride
    return call, args, lead, (a_rows, b_rows)  # the rows are returned to keep them alive


def _iou_forward(op: str, a: Array, b: Array, dim: int) -> Array:
    call, args, lead, _keep = _iou_setup(op, a, b, dim)
    out = call.empty(lead)
    args.out = data_ptr(out)
    _C.iou_elementwise(args)
    return out


def _iou_backward(op: str, a: Array, b: Array, dim: int, grad: Array) -> Tuple[Array, Array]:
    call, args, lead, _keep = _iou_setup(op, a, b, dim)
    grad = call.contiguous(call.floats(grad, "grad"))
    ga, gb = call.empty((*lead, 2 * dim)), call.empty((*lead, 2 * dim))
    args.grad_out, args.grad_a, args.grad_b = data_ptr(grad), data_ptr(ga), data_ptr(gb)
    _C.iou_elementwise_backward(args)
    return ga.sum_to_size(a.shape), gb.sum_to_size(b.shape)


_IOU_FUNCTION = pair_function("BoxIoU", lambda a, b, dim, op: _iou_forward(op, a, b, dim),
                              lambda a, b, dim, op, grad: _iou_backward(op, a, b, dim, grad))


def _iou(op: str, a: Array, b: Array, dim: int) -> Array:
    if wants_grad(a, b):
        return _IOU_FUNCTION.apply(a, b, dim, op)
    return _iou_forward(op, a, b, dim)


def iou_2d(a: Array, b: Array) -> Array:
    """Intersection over union of 2D boxes, elementwise with broadcasting over leading dims.

    ``IoU(A, B) = |A ∩ B| / (|A| + |B| − |A ∩ B|)`` for axis-aligned boxes (the GRCA paper's bbox2d
    reward), computed in double. Degenerate (zero-area) or non-finite boxes give 0; the result is in
    [0, 1].

    Args:
        a: ``[..., 4]`` boxes ``(x1, y1, x2, y2)`` (corners in any order).
        b: ``[..., 4]``, broadcastable against ``a`` over the leading dims.

    Returns:
        ``[...]`` IoU, same kind, dtype and device as the inputs. Differentiable for torch inputs
        that require grad (an analytic backward kernel; the gradient is 0 where the IoU is 0 by rule).

    Example:
        >>> import torch, verireward as vr
        >>> vr.iou_2d(torch.tensor([0., 0., 2., 2.]), torch.tensor([1., 1., 3., 3.]))
        tensor(0.1429)
    """
    return _iou("iou_2d", a, b, 2)


def iou_3d(a: Array, b: Array) -> Array:
    """Intersection over union of axis-aligned 3D boxes, elementwise with broadcasting.

    ``IoU(A, B) = vol(A ∩ B) / (vol(A) + vol(B) − vol(A ∩ B))`` (the GRCA paper's bbox3d reward).

    Args:
        a: ``[..., 6]`` boxes ``(x1, y1, z1, x2, y2, z2)`` (corners in any order).
        b: ``[..., 6]``, broadcastable against ``a``.

    Returns:
        ``[...]`` IoU in [0, 1]; differentiable for torch inputs that require grad.
    """
    return _iou("iou_3d", a, b, 3)


def _pairwise(op: str, a: Array, b: Array, dim: int) -> Array:
    call = Call(op)
    a = call.floats(a, "a")
    b = call.floats(b, "b")
    width = 2 * dim
    for x, name in ((a, "a"), (b, "b")):
        call.shape(x, name, f"[N, {width}]", x.ndim == 2 and x.shape[1] == width)
    a, b = call.contiguous(a), call.contiguous(b)
    out = call.empty((a.shape[0], b.shape[0]))
    args = _C.IouArgs()
    args.dim, args.dtype, args.device = dim, call.dtype_code, call.device()
    args.n, args.m = a.shape[0], b.shape[0]
    args.a, args.b, args.out = data_ptr(a), data_ptr(b), data_ptr(out)
    _C.iou_pairwise(args)
    return out


def pairwise_iou_2d(a: Array, b: Array) -> Array:
    """IoU of every box in ``a [N, 4]`` with every box in ``b [M, 4]`` → ``[N, M]``.

    ``out[i, j] == iou_2d(a[i], b[j])`` exactly (the same kernel code). Not differentiable.
    """
    return _pairwise("pairwise_iou_2d", a, b, 2)


def pairwise_iou_3d(a: Array, b: Array) -> Array:
    """IoU of every 3D box in ``a [N, 6]`` with every box in ``b [M, 6]`` → ``[N, M]``."""
    return _pairwise("pairwise_iou_3d", a, b, 3)


# ---------------------------------------------------------------------------------------------------
# Projection and RPC
# ---------------------------------------------------------------------------------------------------


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


def _box_seq(op: str, args: Any, seq: Optional[str], degrees: bool, dim: int = 3) -> int:
    """Sets an args struct's rotation fields for oriented boxes; returns the box row width."""
    if seq is None:
        if degrees is not False:
            raise ValueError(f"{op}: argument 'degrees' needs seq (axis-aligned boxes have no angles)")
        return 2 * dim
    axes, intrinsic = parse_seq(op, seq)
    if dim == 2 and len(axes) != 1:
        raise ValueError(f"{op}: 2D boxes turn in their plane: argument 'seq' must be one axis ('z'), got {seq!r}")
    args.oriented, args.k, args.intrinsic, args.unit = True, len(axes), intrinsic, angle_unit(op, degrees)
    args.axis0, args.axis1, args.axis2 = (tuple(axes) + (0, 0, 0))[:3]
    return 5 if dim == 2 else 6 + len(axes)


def project_box_3d(
    boxes: Array,
    K: Array,
    R: Array,
    t: Array,
    near: float = 1e-4,
    image_size: ImageSize = None,
    *,
    seq: Optional[str] = None,
    degrees: bool = False,
) -> Tuple[Array, Array]:
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
            :mod:`verireward.oriented`; the same near-plane rule; a size <= 0 is invalid).
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
    width = _box_seq(call.op, args, seq, degrees)
    call.shape(boxes, "boxes", f"[N, {width}]", boxes.ndim == 2 and boxes.shape[1] == width)
    n = boxes.shape[0]
    boxes = call.contiguous(boxes)
    args, _keep = _camera_args(call, n, K, R, t, near, image_size, args)
    out, valid = call.empty((n, 4)), call.empty((n,), "bool")
    args.dtype, args.device, args.n = call.dtype_code, call.device(), n
    args.boxes3d, args.out, args.valid = data_ptr(boxes), data_ptr(out), data_ptr(valid)
    _C.project_box(args)
    return out, valid


def rpc(
    boxes2d: Array,
    boxes3d: Array,
    K: Array,
    R: Array,
    t: Array,
    near: float = 1e-4,
    image_size: ImageSize = None,
    *,
    seq: Optional[str] = None,
    degrees: bool = False,
) -> Array:
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
    width = _box_seq(call.op, args, seq, degrees)
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


# ---------------------------------------------------------------------------------------------------
# Containment
# ---------------------------------------------------------------------------------------------------


def keypoint_containment(points: Array, counts: Optional[Array], boxes: Array, *, seq: Optional[str] = None,
                         degrees: bool = False) -> Array:
    """Fraction of each sample's keypoints inside its box (GRCA Eq. 8, KPA-2D / KPA-3D).

    ``r_i = (1 / M_i) Σ_{m < M_i} 1[k_im ∈ B_i]`` with ``M_i = counts[i]``. The box is closed (a point
    on its boundary is inside) and is the hull of its corners. ``M_i = 0`` (no predicted points) or a
    non-finite box gives 0; a point with a non-finite coordinate is outside.

    Args:
        points: ``[N, K, D]`` with D = 2 or 3, padded; only the first ``counts[i]`` rows count.
        counts: ``[N]`` integers in ``[0, K]``, or None for all K points.
        boxes: ``[N|1, 2D]`` boxes, the same float dtype as ``points``; with ``seq``, oriented boxes:
            3D ``[N|1, 6 + len(seq)]`` ``(cx, cy, cz, sx, sy, sz, *angles)``, or 2D ``[N|1, 5]``
            ``(cx, cy, w, h, θ)`` with ``seq="z"`` (the rectangle turns in its plane). A point is
            inside when ``|R^T (p − c)|_k <= s_k/2`` on every axis (closed); a size <= 0: none is.
        seq, degrees: the rotation, as in :func:`verireward.rotation_matrix`.

    Returns:
        ``[N]`` in [0, 1].
    """
    call = Call("keypoint_containment")
    points = call.floats(points, "points")
    call.shape(points, "points", "[N, K, 2|3]", points.ndim == 3 and points.shape[2] in (2, 3))
    n, k, dim = points.shape
    boxes = call.floats(boxes, "boxes")
    args = _C.ContainmentArgs()
    width = _box_seq(call.op, args, seq, degrees, dim)
    call.shape(boxes, "boxes", f"[{n}|1, {width}]",
               boxes.ndim == 2 and boxes.shape[1] == width and boxes.shape[0] in (1, n))
    if counts is None:
        if call.kind == "numpy":
            counts = np.full((n,), k, dtype=np.int64)
        else:
            counts = torch_module().full((n,), k, dtype=torch_module().int64, device=points.device)
    counts = call.ints(counts, "counts")
    call.shape(counts, "counts", f"[{n}]", tuple(counts.shape) == (n,))
    call.int_range(counts, "counts", k, "K = points.shape[1]")
    points, boxes = call.contiguous(points), call.contiguous(boxes)
    out = call.empty((n,))
    args.dim, args.dtype, args.device, args.n, args.K = dim, call.dtype_code, call.device(), n, k
    args.points, args.counts, args.boxes, args.out = data_ptr(points), data_ptr(counts), data_ptr(boxes), data_ptr(out)
    args.box_stride = width if (boxes.shape[0] == n and n != 1) else 0
    _C.keypoint_containment(args)
    return out


__all__ = [
    "pinhole_camera",
    "iou_2d",
    "iou_3d",
    "pairwise_iou_2d",
    "pairwise_iou_3d",
    "project_box_3d",
    "rpc",
    "keypoint_containment",
]
