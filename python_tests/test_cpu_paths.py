"""Every compiled CPU path — the scalar functor loop (the code the CUDA kernels run), the
default-target 4-lane loop and its AVX2 clone — gives bitwise identical results."""

from __future__ import annotations

import math

import numpy as np
import pytest

import verireward as vr
from verireward import _C

PATHS = ["scalar", "sse2"] + (["avx2"] if _C.cpu_path() == "avx2" else [])


@pytest.fixture
def restore_path():
    yield
    _C.set_cpu_path("auto")


def hostile_boxes(rng, n: int, dim: int, dtype):
    lo = rng.uniform(-100, 100, size=(n, dim))
    hi = lo + rng.choice([0.0, 1e-3, 1.0, 40.0], size=(n, dim))
    box = np.concatenate([hi, lo], 1) if rng.random() < 0.5 else np.concatenate([lo, hi], 1)
    mask = rng.random(box.shape) < 0.03
    box[mask] = rng.choice([math.nan, math.inf, -math.inf, 1e300, -1e300], size=mask.sum())
    box[rng.random(n) < 0.1] = box[0]  # repeats: identical pairs
    with np.errstate(over="ignore"):
        return box.astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("dim", [2, 3])
def test_paths_agree_bitwise(restore_path, dtype, dim):
    rng = np.random.default_rng(dim)
    a, b = hostile_boxes(rng, 1001, dim, dtype), hostile_boxes(rng, 1001, dim, dtype)
    elementwise = vr.iou_2d if dim == 2 else vr.iou_3d
    pairwise = vr.pairwise_iou_2d if dim == 2 else vr.pairwise_iou_3d
    results = {}
    for path in PATHS:
        _C.set_cpu_path(path)
        assert _C.cpu_path() == path
        results[path] = (elementwise(a, b), pairwise(a[:37], b[:203]), elementwise(a[:1], b))
    for path in PATHS[1:]:
        for got, want in zip(results[path], results["scalar"]):
            np.testing.assert_array_equal(got, want)
    assert np.all((results["scalar"][0] >= 0) & (results["scalar"][0] <= 1))


def test_set_cpu_path_rejects_unknown(restore_path):
    with pytest.raises(ValueError, match="cpu path must be auto, avx2, sse2 or scalar, got 'fast'"):
        _C.set_cpu_path("fast")
    assert vr.build_info()["cpu_path"] in ("avx2", "sse2")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", ["routed", "broadcast"])
def test_routing_paths_agree_bitwise(restore_path, dtype, mode):
    """The scalar path runs the per-token functor the CUDA kernel runs; the SIMD paths the per-row
    loop. A change to either loop's rule (not through route_token) makes them differ here."""
    rng = np.random.default_rng(7)
    n, F, L = 24, 4, 33
    r = rng.random((n, F)).astype(dtype)
    r[:4] = 0.5  # a flat group
    spans = rng.integers(-3, L + 4, size=(n, F, 2)).astype(np.int64)  # overlapping, reversed, outside [0, L]
    spans[::3, 1] = spans[::3, 0]  # empty spans
    mask = rng.random((n, L)) < 0.8
    rpc = rng.random(n).astype(dtype)
    ptr = np.array([0, 4, 5, 12, 24], dtype=np.int64)
    results = {}
    for path in PATHS:
        _C.set_cpu_path(path)
        results[path] = [vr.routed_advantages(r, spans, mask, ptr, rpc=rpc, mode=mode, **kw)
                         for kw in ({}, {"compat": "verl"}, {"scale": "none"}, {"compat": "trl", "scale": "batch"})]
    for path in PATHS[1:]:
        for got, want in zip(results[path], results["scalar"]):
            np.testing.assert_array_equal(got, want)
    assert np.any(results["scalar"][0] != 0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("dim", [2, 3])
def test_match_paths_agree_bitwise(restore_path, dtype, dim):
    """match_boxes: the scalar path (pairwise box_iou_raw, the one-column solver) and the lane paths
    (the structure-of-arrays IoU rows; on AVX2 the four-lane solver, fixed widths up to 32 columns)
    give the same assignment and the same IoUs, on hostile boxes, labels and ties, at every width."""
    rng = np.random.default_rng(10 + dim)
    n, P, G = 80, 40, 37

    def crowded(k):  # boxes on a small integer grid: most pairs overlap, many IoUs are equal
        lo = rng.integers(0, 4, (n, k, dim)).astype(float)
        box = np.concatenate([lo, lo + rng.integers(0, 4, (n, k, dim))], 2)  # some zero extents
        mask = rng.random(box.shape) < 0.01
        box[mask] = rng.choice([math.nan, math.inf, -math.inf, 1e300, -1e300], size=mask.sum())
        with np.errstate(over="ignore"):
            return box.astype(dtype)

    pred, gt = crowded(P), crowded(G)
    pred[n // 2:] = hostile_boxes(rng, n // 2 * P, dim, dtype).reshape(n // 2, P, 2 * dim)  # sparse, extreme
    gt[::4] = pred[::4, :G]  # exact copies
    pc, gc = rng.integers(0, P + 1, n), rng.integers(0, G + 1, n)
    pl = [rng.choice(["a", "b"], P).tolist() for _ in range(n)]
    gl = [rng.choice(["a", "b"], G).tolist() for _ in range(n)]
    results = {}
    for path in PATHS:
        _C.set_cpu_path(path)
        results[path] = [vr.match_boxes(pred, pc, gt, gc, box=f"{dim}d"),
                         vr.match_boxes(pred, pc, gt, gc, box=f"{dim}d", pred_labels=pl, gt_labels=gl)]
    for path in PATHS[1:]:
        for got, want in zip(results[path], results["scalar"]):
            np.testing.assert_array_equal(got.assignment, want.assignment)
            np.testing.assert_array_equal(got.iou, want.iou)
    assert (results["scalar"][0].assignment >= 0).sum() > n  # matches were made
