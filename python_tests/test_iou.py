"""iou_2d / iou_3d against the exact rational oracle and shapely, over backends and dtypes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
import torch
from hypothesis import given
from hypothesis import strategies as st

import verireward as vr
from conftest import as_list, check_kind, make, rounded, tol
from oracles import iou as iou_oracle
from strategies import box, related_pair

OPS = {2: vr.iou_2d, 3: vr.iou_3d}


@pytest.mark.parametrize("dim", [2, 3])
@given(pairs=st.lists(st.data(), min_size=1, max_size=13))  # several 4-lane groups and a tail
def test_iou_matches_exact_oracle(backend, dtype, dim, pairs):
    drawn = [d.draw(related_pair(dim)) for d in pairs]
    a = rounded([p[0] for p in drawn], dtype)
    b = rounded([p[1] for p in drawn], dtype)
    out = OPS[dim](make(a, backend, dtype), make(b, backend, dtype))
    check_kind(out, backend, dtype)
    got = as_list(out)
    for i in range(len(drawn)):
        want = iou_oracle(a[i], b[i], dim)
        assert 0.0 <= got[i] <= 1.0 and math.isfinite(got[i])
        assert got[i] == pytest.approx(want, abs=tol(dtype), rel=tol(dtype)), (a[i], b[i])


@given(pairs=st.lists(st.tuples(box(2), box(2)), min_size=1, max_size=8))
def test_iou_2d_matches_shapely(pairs):
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    got = vr.iou_2d(np.array(a), np.array(b))
    for i, (p, q) in enumerate(pairs):
        pa = shapely.box(min(p[0], p[2]), min(p[1], p[3]), max(p[0], p[2]), max(p[1], p[3]))
        pb = shapely.box(min(q[0], q[2]), min(q[1], q[3]), max(q[0], q[2]), max(q[1], q[3]))
        if p[0] == p[2] or p[1] == p[3] or q[0] == q[2] or q[1] == q[3]:  # a zero extent: 0 by rule
            assert got[i] == 0.0
            continue
        if pa.area == 0 or pb.area == 0:  # positive extents whose product underflows (1e-105 x 1e-308):
            assert got[i] == pytest.approx(iou_oracle(p, q, 2), rel=1e-12)  # the exact oracle decides
            continue
        union = pa.union(pb).area
        if union == 0:  # shapely's overlay loses areas this small (1e-141 x 1e-306): the exact oracle decides
            assert got[i] == pytest.approx(iou_oracle(p, q, 2), abs=1e-9)
            continue
        want = pa.intersection(pb).area / union
        assert got[i] == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("dim", [2, 3])
@given(data=st.data())
def test_iou_invariants(dim, data):
    """Symmetric, in [0, 1], IoU(a, a) = 1 for non-degenerate a, shift and scale invariant."""
    a, b = data.draw(related_pair(dim, allow_hostile=False))
    # on a dyadic grid shifting by integers and scaling by powers of two are exact
    a, b = [[round(v * 64) / 64 for v in box_] for box_ in (a, b)]
    a_np, b_np = np.array(a), np.array(b)
    ab = float(OPS[dim](a_np, b_np))
    assert ab == float(OPS[dim](b_np, a_np))
    assert 0.0 <= ab <= 1.0
    degenerate = any(a[k] == a[k + dim] for k in range(dim))
    assert float(OPS[dim](a_np, a_np)) == (0.0 if degenerate else 1.0)
    shift = np.array(data.draw(st.lists(st.integers(-1000, 1000), min_size=dim, max_size=dim)) * 2, dtype=np.float64)
    assert float(OPS[dim](a_np + shift, b_np + shift)) == pytest.approx(ab, abs=1e-9)
    scale = data.draw(st.sampled_from([0.25, 2.0, 8.0]))  # powers of two: exact
    assert float(OPS[dim](a_np * scale, b_np * scale)) == pytest.approx(ab, abs=1e-12)


@pytest.mark.parametrize("dim", [2, 3])
def test_iou_hand_table(backend, dtype, dim):
    """Cases computed by hand; the rules of verireward/SEMANTICS.md are exact, not approximate."""
    d = dim
    unit = [0.0] * d + [2.0] * d
    cases = [
        (unit, unit, 1.0),                                                  # identical
        (unit, [2.0] * d + [4.0] * d, 0.0),                                 # touching at a corner
        (unit, [2.0] + [0.0] * (d - 1) + [4.0] + [2.0] * (d - 1), 0.0),     # touching faces
        (unit, [1.0] + [0.0] * (d - 1) + [3.0] + [2.0] * (d - 1), 1 / 3),   # half overlap on one axis
        ([2.0] * d + [0.0] * d, unit, 1.0),                                 # swapped corners
        (unit, [0.5] * d + [1.5] * d, 1 / 2 ** d),                          # nested
        ([0.0] * d + [0.0] + [2.0] * (d - 1), [0.0] * d + [0.0] + [2.0] * (d - 1), 0.0),  # degenerate vs itself
        ([0.0] * d + [0.0] + [2.0] * (d - 1), unit, 0.0),                   # degenerate sharing a face
        ([math.nan] + [0.0] * (d - 1) + [2.0] * d, unit, 0.0),
        ([-math.inf] + [0.0] * (d - 1) + [math.inf] + [2.0] * (d - 1), unit, 0.0),
        ([1e6] * d + [1e6 + 1] * d, [1e6] * d + [1e6 + 1] * d, 1.0),          # far from the origin
        ([-3.0] * d + [-1.0] * d, [-2.0] * d + [0.0] * d, 1 / (2 * 2 ** d - 1)),  # negatives
        # subnormal extents (found by the fuzz profile): products there keep too few digits.
        # In float32 5e-324 is stored as 0, so the boxes are degenerate.
        ([3.0] + [5e-324] * (d - 1) + [0.0] * d, [0.75] + [0.0] * (d - 1) + [2.25] + [5e-324] * (d - 1),
         0.5 if dtype == "float64" else 0.0),
    ]
    a = make([c[0] for c in cases], backend, dtype)
    b = make([c[1] for c in cases], backend, dtype)
    got = as_list(OPS[dim](a, b))
    for g, c in zip(got, cases):
        assert g == pytest.approx(c[2], abs=tol(dtype)), c


@pytest.mark.parametrize("offset", [1e4, 1e5, 1e6])
@pytest.mark.parametrize("dim", [2, 3])
def test_iou_self_is_one_far_from_origin_float32(backend, dim, offset):
    rng = np.random.default_rng(0)
    lo = rng.uniform(0, 100, size=(256, dim)) + offset
    boxes = np.concatenate([lo, lo + rng.uniform(0.5, 50, size=(256, dim))], axis=1).astype(np.float32)
    x = make(boxes, backend, "float32")
    assert as_list(OPS[dim](x, x)) == [1.0] * 256


def test_iou_huge_float64_coordinates_stay_finite():
    a = np.array([[-1e308, -1e308, 1e308, 1e308], [0.0, 0.0, 1e-200, 1e-200], [0, 0, 1e200, 1e-200]])
    b = np.array([[0.0, -1e308, 1e308, 1e308], [0.0, 0.0, 1e-200, 1e-200], [0, 0, 1e200, 2e-200]])
    got = vr.iou_2d(a, b)
    assert got.tolist() == pytest.approx([0.5, 1.0, 0.5])


def test_iou_broadcasting(backend, dtype):
    rng = np.random.default_rng(1)
    a = np.sort(rng.uniform(0, 10, size=(3, 1, 2, 2)), axis=2).reshape(3, 1, 4)
    b = np.sort(rng.uniform(0, 10, size=(5, 2, 2)), axis=1).reshape(5, 4)
    got = OPS[2](make(a, backend, dtype), make(b, backend, dtype))
    assert tuple(got.shape) == (3, 5)
    a_r, b_r = rounded(a, dtype), rounded(b, dtype)
    for i in range(3):
        for j in range(5):
            assert as_list(got)[i][j] == pytest.approx(iou_oracle(a_r[i][0], b_r[j], 2), abs=tol(dtype))
    # one box against many (stride-0 broadcast) and 0-d output
    one = OPS[2](make(a[0, 0], backend, dtype), make(b, backend, dtype))
    assert tuple(one.shape) == (5,)
    assert tuple(OPS[2](make(a[0, 0], backend, dtype), make(b[0], backend, dtype)).shape) == ()


def test_iou_empty_and_noncontiguous(backend, dtype):
    empty = make(np.zeros((0, 4)), backend, dtype)
    assert tuple(OPS[2](empty, empty).shape) == (0,)
    big = np.zeros((6, 8))
    big[:, ::2] = [[0, 0, 2, 2]] * 6
    x = make(big, backend, dtype)[:, ::2]  # non-contiguous view
    assert as_list(OPS[2](x, x)) == [1.0] * 6
    t = make(np.array([[0, 1], [0, 1], [2, 3], [2, 3]], dtype=np.float64), backend, dtype).T  # transposed
    assert as_list(OPS[2](t, t)) == [1.0, 1.0]
