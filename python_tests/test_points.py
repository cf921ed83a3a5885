"""FPS, KNN and point-patch masking (SPA Fig. 5) against pure-Python float64 oracles, on clouds with
duplicates and ties; the masking's counts, union, modes and determinism; CPU paths bitwise equal."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import verireward as vr
from verireward import _C
from conftest import as_list, make
import oracles
from test_cpu_paths import PATHS, restore_path  # noqa: F401  (fixture)


@st.composite
def clouds(draw, max_b: int = 3, max_p: int = 40):
    """[B, P, 3 + C] clouds on a coarse grid (so that distances tie and points repeat)."""
    B = draw(st.integers(1, max_b))
    P = draw(st.integers(1, max_p))
    C = draw(st.integers(0, 2))
    grid = draw(st.sampled_from([1.0, 0.5, 0.25, 1e-3]))
    vals = draw(st.lists(st.integers(-4, 4), min_size=B * P * 3, max_size=B * P * 3))
    xyz = np.array(vals, dtype=np.float64).reshape(B, P, 3) * grid
    if draw(st.booleans()):
        xyz = xyz + draw(st.sampled_from([0.0, 1e6, -37.25]))
    feats = np.arange(B * P * C, dtype=np.float64).reshape(B, P, C)
    return np.concatenate([xyz, feats], 2)


@given(pts=clouds(), frac=st.floats(0, 1), kfrac=st.floats(0, 1))
def test_fps_and_knn_match_the_oracles(backend, dtype, pts, frac, kfrac):
    B, P, _ = pts.shape
    num, k = max(1, int(frac * P)), max(1, int(kfrac * P))
    x = make(pts, backend, dtype)
    cloud = np.asarray(x.cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)[..., :3].tolist()
    centres = vr.farthest_point_sampling(x, num)
    assert as_list(centres) == [oracles.fps(cloud[b], num) for b in range(B)]
    idx, dist = vr.knn_indices(x, centres, k, return_distances=True)
    for b in range(B):
        for g, c in enumerate(as_list(centres)[b]):
            want = oracles.knn(cloud[b], c, k)
            assert as_list(idx)[b][g] == want
            assert as_list(dist)[b][g] == [oracles.sq_dist(cloud[b][p], cloud[b][c]) for p in want]


def paths_agree(pts, num, k):
    """FPS and KNN on every CPU path, asserted bitwise equal; returns the scalar path's results."""
    results = {}
    for path in PATHS:
        _C.set_cpu_path(path)
        c = vr.farthest_point_sampling(pts, num)
        results[path] = (c, *vr.knn_indices(pts, c, k, return_distances=True))
    for path in PATHS[1:]:
        for got, want in zip(results[path], results["scalar"]):
            np.testing.assert_array_equal(got, want)
    return results["scalar"]


def test_cpu_paths_pick_the_same_points(restore_path):  # noqa: F811
    rng = np.random.default_rng(3)
    pts = np.round(rng.uniform(-1, 1, size=(3, 1003, 4)), 2)  # ties on a 0.01 grid; P not a multiple of 16
    paths_agree(pts, 97, 33)


@settings(max_examples=30)
@given(pts=clouds(max_p=30), gfrac=st.floats(0, 1), kfrac=st.floats(0, 1), ratio=st.floats(0, 1),
       mode=st.sampled_from(["remove", "centre"]), seed=st.integers(0, 2**31))
def test_mask_point_patches(pts, gfrac, kfrac, ratio, mode, seed):
    x = torch.from_numpy(pts)
    B, P, D = x.shape
    G, K = max(1, int(gfrac * P)), max(1, int(kfrac * P))
    out = vr.mask_point_patches(x, G, K, ratio, torch.Generator().manual_seed(seed), mode=mode)
    assert torch.equal(out.centres, vr.farthest_point_sampling(x, G))
    assert torch.equal(out.patches, vr.knn_indices(x, out.centres, K))
    assert out.masked_patches.sum(1).tolist() == [int(ratio * G)] * B  # exactly floor(ratio * G) per cloud
    cloud = x[..., :3].tolist()
    for b in range(B):
        members = set(out.patches[b][out.masked_patches[b]].reshape(-1).tolist())
        assert set(torch.nonzero(out.masked_points[b]).reshape(-1).tolist()) == members  # the union
        if mode == "remove":
            kept = [p for p in range(P) if p not in members]
            assert int(out.counts[b]) == len(kept)
            assert torch.equal(out.points[b, : len(kept)], x[b, kept])  # kept points, in order
            assert torch.all(out.points[b, len(kept):] == 0)
        else:
            assert int(out.counts[b]) == P
            for p in range(P):
                if p not in members:
                    assert torch.equal(out.points[b, p], x[b, p])
                    continue
                # the nearest masked centre holding p, lowest patch index among equals
                cands = [(oracles.sq_dist(cloud[b][p], cloud[b][int(out.centres[b, g])]), g) for g in range(G)
                         if out.masked_patches[b, g] and p in out.patches[b, g].tolist()]
                g = min(cands)[1]
                assert torch.equal(out.points[b, p], x[b, int(out.centres[b, g])])
    again = vr.mask_point_patches(x, G, K, ratio, torch.Generator().manual_seed(seed), mode=mode)
    assert torch.equal(again.points, out.points) and torch.equal(again.masked_patches, out.masked_patches)


def test_mask_ratio_edges_seeds_and_sizes():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 512, 3, generator=g)
    none = vr.mask_point_patches(x, 32, 16, 0.0, torch.Generator().manual_seed(1))
    assert not none.masked_points.any() and torch.equal(none.points, x) and none.counts.tolist() == [512, 512]
    full = vr.mask_point_patches(x, 32, 16, 1.0, torch.Generator().manual_seed(1))
    assert full.masked_patches.all()
    a = vr.mask_point_patches(x, 32, 16, 0.4, torch.Generator().manual_seed(1))
    b = vr.mask_point_patches(x, 32, 16, 0.4, torch.Generator().manual_seed(2))
    assert a.masked_patches.sum().item() == 2 * 12 and not torch.equal(a.masked_patches, b.masked_patches)
    assert vr.mask_point_patches(x.double(), 32, 16, 0.4).points.dtype == torch.float64


def test_point_errors():
    x = torch.rand(2, 10, 3)
    with pytest.raises(ValueError, match="argument 'num' must be an int in \\[1, 10\\]"):
        vr.farthest_point_sampling(x, 11)
    with pytest.raises(ValueError, match="argument 'k' must be an int in \\[1, 10\\]"):
        vr.knn_indices(x, torch.zeros(2, 3, dtype=torch.long), 0)
    with pytest.raises(ValueError, match="argument 'centres' must lie in \\[0, 9\\]"):
        vr.knn_indices(x, torch.full((2, 3), 10), 2)
    with pytest.raises(ValueError, match="argument 'points' must have shape \\[B, P, 3 \\+ C\\]"):
        vr.farthest_point_sampling(torch.rand(10, 3), 2)
    bad = x.clone()
    bad[1, 4, 2] = float("nan")
    with pytest.raises(ValueError, match="argument 'points' has a NaN or infinite coordinate"):
        vr.mask_point_patches(bad, 2, 2, 0.5)
    with pytest.raises(TypeError, match="mask_point_patches: argument 'points' must be a torch.Tensor"):
        vr.mask_point_patches(x.numpy(), 2, 2, 0.5)
    with pytest.raises(ValueError, match="argument 'mode' must be 'remove' or 'centre'"):
        vr.mask_point_patches(x, 2, 2, 0.5, mode="drop")
    with pytest.raises(ValueError, match="argument 'ratio' must be a number in \\[0, 1\\]"):
        vr.mask_point_patches(x, 2, 2, 1.5)
    with pytest.raises(TypeError, match="argument 'generator' must be a torch.Generator"):
        vr.mask_point_patches(x, 2, 2, 0.5, generator=3)
    with pytest.raises(TypeError, match="argument 'points' must have dtype float32 or float64"):
        vr.farthest_point_sampling(torch.zeros(1, 4, 3, dtype=torch.int64), 2)
    a = _C.PointArgs()
    a.B, a.P, a.G = 1, 4, 2
    with pytest.raises(ValueError, match="_C.farthest_point_sampling: null data pointer"):
        _C.farthest_point_sampling(a)
    a.K = 5
    with pytest.raises(ValueError, match="_C.knn: needs 1 <= K <= P"):
        _C.knn(a)


@pytest.mark.parametrize("shape", ["grid", "duplicates", "offset", "plane", "line", "clusters", "one_point", "huge_spread",
                                   # scales where a grid's volume under- or overflows (the first hung the grid search)
                                   "tiny", "subnormal", "tiny_plane", "huge", "huge_line"])
def test_grid_knn_equals_brute_force_on_large_clouds(restore_path, shape):  # noqa: F811
    # Clouds of >= 1024 points take the grid search on the SIMD paths; the scalar path is the brute
    # force that the CUDA kernel runs. They must pick the same points, ties included.
    rng = np.random.default_rng(len(shape))
    P = 2500
    xyz = rng.uniform(-1, 1, size=(2, P, 3))
    if shape == "grid":
        xyz = np.round(xyz * 4) / 4  # many exact ties
    elif shape == "duplicates":
        xyz[:, P // 2:] = xyz[:, : P - P // 2]
    elif shape == "offset":
        xyz = xyz * 1e-3 + 1e6
    elif shape == "plane":
        xyz[..., 2] = 0.25
    elif shape == "line":
        xyz[..., 1:] = 0.0
    elif shape == "clusters":
        xyz = xyz * 1e-3 + rng.choice([-50.0, 0.0, 50.0], size=(2, P, 1))
    elif shape == "one_point":
        xyz[:] = 3.0
    elif shape == "tiny":
        xyz = xyz * 1e-110
    elif shape == "subnormal":
        xyz = xyz * 1e-310
    elif shape == "tiny_plane":
        xyz = xyz * 1e-160
        xyz[..., 0] = 0.0
    elif shape == "huge":
        xyz = xyz * 1e150
    elif shape == "huge_line":
        xyz = xyz * 1e200
        xyz[..., 1:] = 7.0
    else:
        xyz[:, :10] *= 1e5  # a few far outliers stretch the grid
    pts = np.concatenate([xyz, rng.uniform(size=(2, P, 1))], 2)
    _, _, dist = paths_agree(pts, 300, 20)
    with np.errstate(invalid="ignore"):  # at 1e200 squared distances overflow to inf (ties by index)
        assert np.all((np.diff(dist, axis=2) >= 0) | np.isinf(dist[..., 1:]))
