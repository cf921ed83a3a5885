"""The fraction of keypoints inside a box (GRCA Eq. 8), for axis-aligned and oriented boxes
(``csrc/containment/``)."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from verireward._native import _C
from verireward._backend import Call, data_ptr, torch_module
from verireward.ops.oriented import box_rotation

Array = Any  # torch.Tensor | numpy.ndarray


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
    width = box_rotation(call.op, args, seq, degrees, dim)
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


__all__ = ["keypoint_containment"]
