"""Batched IoU of axis-aligned boxes, 2D and 3D, elementwise and pairwise (``csrc/box_iou/``).

Every op takes torch tensors (CPU or CUDA) or numpy arrays, float32 or float64, and returns the same
kind on the same device. The math runs in double precision whatever the storage type, in C++
(OpenMP) or CUDA kernels that share one ``__host__ __device__`` implementation (``csrc/``).

Conventions shared by every op (see verireward/SEMANTICS.md):

* A 2D box is ``(x1, y1, x2, y2)``, a 3D box ``(x1, y1, z1, x2, y2, z2)``; a box is the axis-aligned
  hull of its two corners, so swapped corners describe the same box.
* Any non-finite coordinate makes a box invalid: IoU 0, containment 0, projection invalid.
* Zero extent on any axis gives IoU 0, also against itself; touching boxes give exactly 0.

"""

from __future__ import annotations

import math
from typing import Any, Tuple

from verireward._native import _C
from verireward._backend import Call, broadcast_lead, data_ptr, pair_function, wants_grad

Array = Any  # torch.Tensor | numpy.ndarray


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


__all__ = ["iou_2d", "iou_3d", "pairwise_iou_2d", "pairwise_iou_3d"]
