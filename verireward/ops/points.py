"""Point-patch masking for SPA's negative inputs (SPA §3.2, Fig. 5; the Point-MAE grouping):
farthest point sampling picks patch centres, k-nearest neighbours form the patches, and a random
set of patches is masked. FPS and KNN are C++ (OpenMP, SIMD) and CUDA kernels sharing their math
(``csrc/points/points.h``); the masking is a few torch operations on their output.

Rules (the same on every path; see ``points.h``): FPS starts from point 0 and takes the farthest
point next, the lowest index among equals; KNN returns each centre's K nearest points by squared
distance (in double), ascending, ties by lower index, so the centre is its own first neighbour.
Coordinates are the first 3 channels; they must be finite.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from verireward._native import _C
from verireward._backend import Call, check_int, check_number, data_ptr, numel, torch_tensor

Array = Any


def _xyz_soa(call: Call, points: Array, name: str = "points") -> Array:
    """points [B, P, 3+C] (float) -> contiguous float64 [B, 3, P], after the checks."""
    pts = call.floats(points, name)
    call.shape(pts, name, "[B, P, 3 + C]", pts.ndim == 3 and pts.shape[2] >= 3)
    if pts.shape[1] < 1:
        raise call.value_error(f"argument '{name}' has P = 0 points per cloud; a cloud needs at least one point")
    xyz = pts[..., :3]
    if call.kind == "numpy":
        soa = np.ascontiguousarray(np.transpose(xyz, (0, 2, 1)), dtype=np.float64)
        ok = bool(np.isfinite(soa).all())
    else:
        import torch

        soa = xyz.detach().transpose(1, 2).to(torch.float64).contiguous()
        ok = bool(torch.isfinite(soa).all())
    if not ok:
        raise call.value_error(f"argument '{name}' has a NaN or infinite coordinate")
    return soa


def _index_array(call: Call, shape) -> Array:
    call.check_output_size(shape, 8)
    if call.kind == "numpy":
        return np.empty(shape, dtype=np.int64)
    import torch

    return torch.empty(shape, dtype=torch.int64, device=call.first.device)


def _float64(call: Call, shape) -> Array:
    call.check_output_size(shape, 8)
    if call.kind == "numpy":
        return np.empty(shape, dtype=np.float64)
    import torch

    return torch.empty(shape, dtype=torch.float64, device=call.first.device)


_count = check_int


def _fps(call: Call, soa: Array, num: int) -> Array:
    B, _, P = soa.shape
    out = _index_array(call, (B, num))
    mind = _float64(call, (B, P))
    args = _C.PointArgs()
    args.device, args.B, args.P, args.G = call.device(), B, P, num
    args.xyz, args.mind, args.centres = data_ptr(soa), data_ptr(mind), data_ptr(out)
    _C.farthest_point_sampling(args)
    return out


def _knn(call: Call, soa: Array, centres: Array, k: int):
    B, _, P = soa.shape
    G = centres.shape[1]
    idx = _index_array(call, (B, G, k))
    dist = _float64(call, (B, G, k))
    args = _C.PointArgs()
    args.device, args.B, args.P, args.G, args.K = call.device(), B, P, G, k
    args.xyz, args.centres, args.dist, args.idx = data_ptr(soa), data_ptr(centres), data_ptr(dist), data_ptr(idx)
    _C.knn(args)
    return idx, dist


def farthest_point_sampling(points: Array, num: int) -> Array:
    """``[B, num]`` int64 indices of ``num`` farthest-point-sampled points of each cloud.

    Args:
        points: ``[B, P, 3 + C]`` floats (torch CPU/CUDA or numpy); the first 3 channels are xyz.
        num: centres per cloud, in ``[1, P]`` (P >= 1).
    """
    call = Call("farthest_point_sampling")
    soa = _xyz_soa(call, points)
    num = _count(call.op, num, "num", 1, max(soa.shape[2], 1), f"P = {soa.shape[2]} points")
    return _fps(call, soa, num)


def knn_indices(points: Array, centres: Array, k: int, *, return_distances: bool = False) -> Any:
    """``[B, G, k]`` int64: for each centre ``centres[b, g]`` (a point index), the indices of its k
    nearest points in cloud b, nearest first (ties: lower index). With ``return_distances`` also
    their squared distances ``[B, G, k]`` (float64).

    Args:
        points: ``[B, P, 3 + C]`` floats.
        centres: ``[B, G]`` integer point indices in ``[0, P)`` (e.g. :func:`farthest_point_sampling`).
        k: neighbours per centre, in ``[1, P]``.
    """
    call = Call("knn_indices")
    soa = _xyz_soa(call, points)
    B, _, P = soa.shape
    c = call.ints(centres, "centres")
    call.shape(c, "centres", f"[{B}, G]", c.ndim == 2 and c.shape[0] == B)
    k = _count(call.op, k, "k", 1, max(P, 1), f"P = {P} points")
    if numel(c):
        call.int_range(c.reshape(-1), "centres", P - 1, "point indices")
    idx, dist = _knn(call, soa, call.contiguous(c), k)
    return (idx, dist) if return_distances else idx


@dataclass
class MaskedPoints:
    """What :func:`mask_point_patches` did. ``points``: the masked clouds ``[B, P, 3+C]``
    (``"remove"``: the kept points first, in their original order, then zero padding; ``"centre"``:
    every masked point replaced by its patch centre). ``counts [B]``: points kept (``"remove"``) or
    P. ``centres [B, G]``, ``patches [B, G, K]``: point indices; ``distances [B, G, K]``: squared
    distances of the patch points to their centre (float64); ``masked_patches [B, G]`` and
    ``masked_points [B, P]``: bool."""

    points: Any
    counts: Any
    centres: Any
    patches: Any
    distances: Any
    masked_patches: Any
    masked_points: Any


def mask_point_patches(points: Array, num_groups: int, group_size: int, ratio: float, generator: Optional[Any] = None,
                       *, mode: str = "remove") -> MaskedPoints:
    """SPA's 3D masking (Fig. 5): FPS centres, KNN patches, and ``floor(ratio · num_groups)``
    patches of each cloud masked at random (exactly that many; Point-MAE's count).

    A point is masked when it belongs to any masked patch. ``mode="remove"`` drops masked points
    (the kept points move to the front, order preserved, zero padding after; ``counts`` says how
    many); ``mode="centre"`` replaces each masked point (all its channels) by the centre of the
    masked patch nearest to it (lowest patch index among equals), keeping P points.

    Args:
        points: ``[B, P, 3 + C]`` torch floats (CPU or CUDA); the first 3 channels are xyz.
        num_groups: patches per cloud G, in ``[1, P]``.
        group_size: points per patch K, in ``[1, P]``.
        ratio: the fraction of patches to mask, in ``[0, 1]`` (the paper recommends 0.25–0.5).
        generator: a ``torch.Generator`` (on the points' device) for the choice of patches; the
            same seed gives the same masks. FPS and KNN are deterministic.
        mode: ``"remove"`` or ``"centre"``.
    """
    import torch

    op = "mask_point_patches"
    torch_tensor(op, "points", points)
    call = Call(op)
    soa = _xyz_soa(call, points)
    B, P = points.shape[0], points.shape[1]
    G = _count(op, num_groups, "num_groups", 1, max(P, 1), f"P = {P} points")
    K = _count(op, group_size, "group_size", 1, max(P, 1), f"P = {P} points")
    ratio = check_number(op, ratio, "ratio", lambda v: 0.0 <= v <= 1.0, "a number in [0, 1]")
    if mode not in ("remove", "centre"):
        raise ValueError(f"{op}: argument 'mode' must be 'remove' or 'centre', got {mode!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"{op}: argument 'generator' must be a torch.Generator or None, got {type(generator).__name__}")
    dev = points.device
    centres = _fps(call, soa, G)
    patches, dist = _knn(call, soa, centres, K)
    n_mask = int(ratio * G)
    order = torch.rand(B, G, generator=generator, device=dev).argsort(dim=1)
    masked_patches = torch.zeros(B, G, dtype=torch.bool, device=dev)
    masked_patches.scatter_(1, order[:, :n_mask], True)
    member = masked_patches[:, :, None].expand(B, G, K)
    hits = torch.zeros(B, P, dtype=torch.uint8, device=dev)
    hits.scatter_reduce_(1, patches.reshape(B, G * K), member.reshape(B, G * K).to(torch.uint8), reduce="amax")
    masked_points = hits.bool()
    if mode == "remove":
        keep = ~masked_points
        order_kept = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)  # kept first, in order
        out = torch.gather(points, 1, order_kept[:, :, None].expand_as(points)).clone()
        counts = keep.sum(1)
        out[torch.arange(P, device=dev)[None, :] >= counts[:, None]] = 0
    else:
        # the nearest masked centre of each masked point (lowest patch index among equals)
        big = torch.tensor(float("inf"), dtype=torch.float64, device=dev)
        d = torch.where(member, dist, big).reshape(B, G * K)
        flat = patches.reshape(B, G * K)
        best = torch.full((B, P), float("inf"), dtype=torch.float64, device=dev).scatter_reduce(1, flat, d, reduce="amin")
        gidx = torch.arange(G, device=dev)[None, :, None].expand(B, G, K).reshape(B, G * K)
        hit = member.reshape(B, G * K) & (d == torch.gather(best, 1, flat))
        owner = torch.full((B, P), G, dtype=torch.int64, device=dev).scatter_reduce(
            1, flat, torch.where(hit, gidx, torch.full_like(gidx, G)), reduce="amin")
        src = torch.gather(centres, 1, owner.clamp(max=G - 1))  # the centre's point index
        src = torch.where(masked_points, src, torch.arange(P, device=dev)[None, :].expand(B, P))
        out = torch.gather(points, 1, src[:, :, None].expand_as(points))
        counts = torch.full((B,), P, dtype=torch.int64, device=dev)
    return MaskedPoints(out, counts, centres, patches, dist, masked_patches, masked_points)


__all__ = ["farthest_point_sampling", "knn_indices", "mask_point_patches", "MaskedPoints"]
