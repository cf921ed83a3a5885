"""Oriented boxes: Euler rotations, 3D box corners, rotated-rectangle IoU and the IoU of
single-axis (yaw) oriented 3D boxes, as C++/CUDA kernels sharing one source of math
(``csrc/oriented/oriented.h``).

Conventions (what each layout means):

* ``rotation_matrix(angles, seq)`` is ``scipy.spatial.transform.Rotation.from_euler(seq, angles,
  degrees).as_matrix()``: lower-case axes are extrinsic (about the fixed frame, the first applied
  first), upper-case intrinsic (about the rotating frame); one to three axes, no axis twice in a row.
* An oriented 3D box ``[..., 6 + len(seq)]`` = (cx, cy, cz, sx, sy, sz, ``*angles``) is the set
  ``{c + R·u : |u_k| ≤ s_k / 2}`` with ``R = rotation_matrix(angles, seq)``. A single-axis ``seq``
  ("z", "y", ...) is the 7-DoF yaw box most datasets use.
* A rotated rectangle ``[..., 5]`` = (cx, cy, w, h, θ) is ``{c + R(θ)·u : |u| ≤ (w/2, h/2)}`` with
  ``R(θ) = [[cos θ, −sin θ], [sin θ, cos θ]]``.
* A size ≤ 0 or any non-finite number makes a box degenerate: IoU 0 (also against itself).

IoU is exact up to double rounding (a convex polygon clip, the shoelace area, and for yaw boxes
the overlap along the axis), computed in double on every path, in [0, 1]. The IoUs are
differentiable in torch with respect to centres, sizes and angles (``oriented_grad.h``).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Optional, Tuple

from verireward._native import _C
from verireward._backend import Call, broadcast_lead, data_ptr, pair_function, wants_grad

Array = Any
_AXES = {"x": 0, "y": 1, "z": 2}


def parse_seq(op: str, seq: Any, name: str = "seq") -> Tuple[Tuple[int, ...], bool]:
    """(axis codes, intrinsic) of a scipy-style Euler sequence, else ValueError naming it."""
    if not isinstance(seq, str) or not 1 <= len(seq) <= 3 or any(c.lower() not in _AXES for c in seq):
        raise ValueError(f"{op}: argument '{name}' must be 1 to 3 of 'xyz' (extrinsic) or 'XYZ' (intrinsic), got {seq!r}")
    if not (seq.islower() or seq.isupper()):
        raise ValueError(f"{op}: argument '{name}' mixes extrinsic (lower-case) and intrinsic (upper-case) axes: {seq!r}")
    if any(seq[i] == seq[i + 1] for i in range(len(seq) - 1)):
        raise ValueError(f"{op}: argument '{name}' has the same axis twice in a row: {seq!r}")
    return tuple(_AXES[c.lower()] for c in seq), seq.isupper()


def angle_unit(op: str, degrees: Any) -> float:
    if not isinstance(degrees, bool):
        raise TypeError(f"{op}: argument 'degrees' must be a bool, got {type(degrees).__name__}")
    return math.pi / 180.0 if degrees else 1.0


def _euler(op: str, call: Call, data: Array, name: str, width: int, k: int, axes, intrinsic: bool, unit: float,
           boxes: bool, aabb: bool = False):
    call.shape(data, name, f"[..., {width}]", data.ndim >= 1 and data.shape[-1] == width)
    lead = tuple(data.shape[:-1])
    flat = call.contiguous(data.reshape(-1, width))
    n = flat.shape[0]
    out = call.empty((n, 24 if boxes else 9))
    args = _C.EulerArgs()
    args.dtype, args.device, args.n, args.k, args.intrinsic, args.aabb, args.unit = (
        call.dtype_code, call.device(), n, k, intrinsic, aabb, unit)
    args.axis0, args.axis1, args.axis2 = (tuple(axes) + (0, 0, 0))[:3]
    if boxes:
        args.boxes = data_ptr(flat)
    else:
        args.angles = data_ptr(flat)
    args.out = data_ptr(out)
    _C.euler_rows(args)
    return out.reshape(*lead, 8, 3) if boxes else out.reshape(*lead, 3, 3)


def rotation_matrix(angles: Array, seq: str, *, degrees: bool = False) -> Array:
    """``[..., len(seq)]`` Euler angles → ``[..., 3, 3]`` rotation matrices, exactly what
    ``scipy.spatial.transform.Rotation.from_euler(seq, angles, degrees).as_matrix()`` means.

    Args:
        angles: ``[..., k]`` floats, k = len(seq) (torch or numpy; float32/float64).
        seq: 1 to 3 axes, ``"xyz"``-style (extrinsic) or ``"XYZ"``-style (intrinsic).
        degrees: angles in degrees (else radians).
    """
    op = "rotation_matrix"
    axes, intrinsic = parse_seq(op, seq)
    call = Call(op)
    angles = call.floats(angles, "angles")
    return _euler(op, call, angles, "angles", len(axes), len(axes), axes, intrinsic, angle_unit(op, degrees), boxes=False)


def box_corners_3d(boxes: Array, seq: Optional[str] = None, *, degrees: bool = False) -> Array:
    """The 8 corners ``[..., 8, 3]`` of 3D boxes. Corner c has, on axis d, the upper side when bit
    d of c is set (c = 0: all lower sides; c = 7: all upper).

    Args:
        boxes: ``seq=None``: axis-aligned ``[..., 6]`` (x1, y1, z1, x2, y2, z2), corners in any
            order; otherwise oriented ``[..., 6 + len(seq)]`` (cx, cy, cz, sx, sy, sz, ``*angles``),
            corner c = ``center + R·(±sx/2, ±sy/2, ±sz/2)``.
        seq, degrees: the rotation, as in :func:`rotation_matrix`.
    """
    op = "box_corners_3d"
    call = Call(op)
    boxes = call.floats(boxes, "boxes")
    if seq is None:
        return _euler(op, call, boxes, "boxes", 6, 0, (), False, 1.0, boxes=True, aabb=True)
    axes, intrinsic = parse_seq(op, seq)
    return _euler(op, call, boxes, "boxes", 6 + len(axes), len(axes), axes, intrinsic, angle_unit(op, degrees), boxes=True)


class _Spec(NamedTuple):
    """Which oriented IoU: kind 0 rotated 2D, 1 yaw-only 3D about ``axis``, 2 general 3D."""

    kind: int
    axis: int
    unit: float
    axes: Tuple[int, ...] = ()
    intrinsic: bool = False

    @property
    def width(self) -> int:
        return 5 if self.kind == 0 else 7 if self.kind == 1 else 6 + len(self.axes)

    def args(self, call: Call) -> Any:
        args = _C.OrientedArgs()
        args.dtype, args.device, args.kind, args.axis, args.unit = call.dtype_code, call.device(), self.kind, self.axis, self.unit
        args.k, args.intrinsic = len(self.axes), self.intrinsic
        args.axis0, args.axis1, args.axis2 = (tuple(self.axes) + (0, 0, 0))[:3]
        return args


def _checked(op: str, a: Array, b: Array, spec: _Spec, pairwise: bool) -> Tuple[Call, Array, Array]:
    call = Call(op)
    a = call.floats(a, "a")
    b = call.floats(b, "b")
    width, kind = spec.width, spec.kind
    layout = ("(cx, cy, w, h, θ)" if kind == 0 else "(cx, cy, cz, sx, sy, sz, angle)" if kind == 1
              else f"(cx, cy, cz, sx, sy, sz, {len(spec.axes)} angles)")
    for x, name in ((a, "a"), (b, "b")):
        want = f"[N, {width}] {layout}" if pairwise else f"[..., {width}] {layout}"
        ok = (x.ndim == 2 if pairwise else x.ndim >= 1) and x.shape[-1] == width
        call.shape(x, name, want, ok)
    return call, a, b


def _elementwise(op: str, a: Array, b: Array, spec: _Spec, grad: Optional[Array] = None):
    """IoU [*lead] of broadcast rows; with grad [*lead], the gradients (d a, d b) instead."""
    call, a, b = _checked(op, a, b, spec, pairwise=False)
    lead = broadcast_lead(call, a, b, "a", "b")
    a_rows, a_stride = call.rows(a, lead, spec.width)
    b_rows, b_stride = call.rows(b, lead, spec.width)
    args = spec.args(call)
    args.n = math.prod(lead)
    args.a, args.a_stride, args.b, args.b_stride = data_ptr(a_rows), a_stride, data_ptr(b_rows), b_stride
    if grad is None:
        out = call.empty(lead)
        args.out = data_ptr(out)
        _C.oriented_iou(args)
        return out
    grad = call.contiguous(call.floats(grad, "grad"))
    ga, gb = call.empty((*lead, spec.width)), call.empty((*lead, spec.width))
    args.grad_out, args.grad_a, args.grad_b = data_ptr(grad), data_ptr(ga), data_ptr(gb)
    _C.oriented_iou_backward(args)
    return ga.sum_to_size(a.shape), gb.sum_to_size(b.shape)


_FUNCTION = pair_function("OrientedIoU", lambda a, b, op, spec: _elementwise(op, a, b, spec),
                          lambda a, b, op, spec, grad: _elementwise(op, a, b, spec, grad))


def _iou(op: str, a: Array, b: Array, spec: _Spec, pairwise: bool) -> Array:
    if pairwise:
        call, a, b = _checked(op, a, b, spec, pairwise=True)
        if wants_grad(a, b):  # every pair as one broadcast elementwise call, so autograd sees it
            return _FUNCTION.apply(a[:, None, :], b[None, :, :], op, spec)
        a, b = call.contiguous(a), call.contiguous(b)
        out = call.empty((a.shape[0], b.shape[0]))
        args = spec.args(call)
        args.n, args.m, args.a_stride, args.b_stride = a.shape[0], b.shape[0], spec.width, spec.width
        args.a, args.b, args.out = data_ptr(a), data_ptr(b), data_ptr(out)
        _C.oriented_iou_pairwise(args)
        return out
    if wants_grad(a, b):
        return _FUNCTION.apply(a, b, op, spec)
    return _elementwise(op, a, b, spec)


_GRAD_DOC = """Differentiable for torch inputs that require grad, with respect to every number of both boxes
    (centres, sizes, angles): an analytic backward kernel (Reynolds' transport theorem over the
    clipped faces, exact up to double rounding; ``csrc/oriented/oriented_grad.h``). Where the IoU
    is not differentiable (coincident faces) it is one one-sided value; where the IoU is 0 (apart,
    degenerate or non-finite boxes) the gradient is 0."""


def iou_2d_rotated(a: Array, b: Array, *, degrees: bool = False) -> Array:
    op = "iou_2d_rotated"
    return _iou(op, a, b, _Spec(0, 0, angle_unit(op, degrees)), pairwise=False)


iou_2d_rotated.__doc__ = f"""IoU of rotated rectangles ``[..., 5]`` = (cx, cy, w, h, θ), elementwise with broadcasting over
    leading dims → ``[...]`` in [0, 1]. ``|A ∩ B| / (|A| + |B| − |A ∩ B|)``, the intersection by
    clipping B against A in A's frame (exact up to double rounding).

    {_GRAD_DOC}
    """


def pairwise_iou_2d_rotated(a: Array, b: Array, *, degrees: bool = False) -> Array:
    """IoU of every rotated rectangle in ``a [N, 5]`` with every one in ``b [M, 5]`` → ``[N, M]``
    (differentiable as :func:`iou_2d_rotated`; with grad the pairs are materialized, ``N·M`` rows)."""
    op = "pairwise_iou_2d_rotated"
    return _iou(op, a, b, _Spec(0, 0, angle_unit(op, degrees)), pairwise=True)


def _oriented(op: str, a: Array, b: Array, seq: str, degrees: bool, pairwise: bool) -> Array:
    axes, intrinsic = parse_seq(op, seq)
    unit = angle_unit(op, degrees)
    if len(axes) == 1:  # the yaw-only fast path: a rectangle clip across the axis times the overlap along it
        return _iou(op, a, b, _Spec(1, axes[0], unit), pairwise)
    return _iou(op, a, b, _Spec(2, 0, unit, axes, intrinsic), pairwise)


def iou_3d_oriented(a: Array, b: Array, seq: str = "z", *, degrees: bool = False) -> Array:
    return _oriented("iou_3d_oriented", a, b, seq, degrees, pairwise=False)


iou_3d_oriented.__doc__ = f"""IoU of oriented 3D boxes ``[..., 6 + len(seq)]`` (cx, cy, cz, sx, sy, sz, ``*angles``),
    elementwise with broadcasting → ``[...]`` in [0, 1]; each box is ``{{c + R·u : |u_k| ≤ s_k/2}}``
    with ``R = rotation_matrix(angles, seq)``.

    Exact up to double rounding. A single-axis ``seq`` (the 7-DoF yaw box, e.g. ``"z"``) takes the
    fast path: the rotated rectangle across the axis, clipped as in :func:`iou_2d_rotated`, times the
    overlap along it. Two or three axes (Qwen3-VL's 9-DoF ``bbox_3d``, ``seq="xyz"`` in degrees) clip
    one box's faces by the other's six half-spaces in the first box's frame and integrate the
    clipped polyhedron (the divergence theorem); the two paths agree to 1e-9 on yaw boxes.

    {_GRAD_DOC} Angle gradients are per written unit (per degree with ``degrees=True``).
    """


def pairwise_iou_3d_oriented(a: Array, b: Array, seq: str = "z", *, degrees: bool = False) -> Array:
    """IoU of every oriented box in ``a [N, 6 + len(seq)]`` with every one in ``b [M, 6 + len(seq)]`` → ``[N, M]``
    (differentiable as :func:`iou_3d_oriented`; with grad the pairs are materialized, ``N·M`` rows)."""
    return _oriented("pairwise_iou_3d_oriented", a, b, seq, degrees, pairwise=True)


def box_rotation(op: str, args: Any, seq: Optional[str], degrees: bool, dim: int = 3) -> int:
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


__all__ = ["rotation_matrix", "box_corners_3d", "iou_2d_rotated", "pairwise_iou_2d_rotated", "iou_3d_oriented",
           "pairwise_iou_3d_oriented"]
