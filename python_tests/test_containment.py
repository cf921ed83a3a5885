"""keypoint_containment against the Eq. 8 oracle: closed boxes, padding, counts, hostile points."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import verireward as vr
from conftest import as_list, check_kind, make, rounded, tol
from oracles import containment as containment_oracle
from strategies import box, hostile


@pytest.mark.parametrize("dim", [2, 3])
@given(data=st.data())
def test_containment_matches_oracle(backend, dtype, dim, data):
    n = data.draw(st.integers(0, 5))
    k = data.draw(st.integers(0, 6))
    boxes = rounded([data.draw(box(dim)) for _ in range(n)], dtype)
    point = st.one_of(st.floats(-1100, 1100), hostile)
    pts = []
    for i in range(n):
        rows = []
        for _ in range(k):
            if boxes and data.draw(st.booleans()):  # on a corner or face of the box: closed ⇒ inside
                rows.append([boxes[i][data.draw(st.sampled_from([j, j + dim]))] for j in range(dim)])
            else:
                rows.append([data.draw(point) for _ in range(dim)])
        pts.append(rows)
    pts = rounded(np.array(pts, dtype=np.float64).reshape(n, k, dim), dtype)
    counts = [data.draw(st.integers(0, k)) for _ in range(n)]
    out = vr.keypoint_containment(make(np.array(pts).reshape(n, k, dim), backend, dtype),
                                  make(np.array(counts, dtype=np.int64), backend, dtype),
                                  make(np.array(boxes).reshape(n, 2 * dim), backend, dtype))
    check_kind(out, backend, dtype)
    got = as_list(out)
    for i in range(n):
        assert got[i] == pytest.approx(containment_oracle(pts[i], counts[i], boxes[i], dim), abs=tol(dtype))


def test_containment_hand_cases(backend, dtype):
    pts = make([[[0, 0], [1, 1], [2, 2], [5, 5]],      # boundary points count: 3 of 4
                [[0.5, 0.5], [9, 9], [0, 0], [0, 0]],   # counts = 2: padding ignored
                [[0.5, 0.5], [0, 0], [0, 0], [0, 0]],   # no points ⇒ 0
                [[math.nan, 0.5], [0.5, math.inf], [0.5, 0.5], [1, 1]]], backend, dtype)
    counts = make(np.array([4, 2, 0, 4]), backend, dtype)
    boxes = make([[2, 2, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]], backend, dtype)
    assert as_list(vr.keypoint_containment(pts, counts, boxes)) == [0.75, 0.5, 0.0, 0.5]
    one_box = make([[0, 0, 1, 1]], backend, dtype)  # [1, 4] broadcasts
    assert as_list(vr.keypoint_containment(pts, None, one_box)) == [0.5, 0.75, 1.0, 0.5]
    nan_box = make([[0, 0, math.nan, 1]], backend, dtype)
    assert as_list(vr.keypoint_containment(pts, counts, nan_box)) == [0.0] * 4


def test_containment_count_dtypes_and_empty(backend, dtype):
    pts = make(np.zeros((2, 3, 3)), backend, dtype)
    boxes = make([[0, 0, 0, 1, 1, 1]] * 2, backend, dtype)
    for cdt in (np.int32, np.int16, np.uint8):
        assert as_list(vr.keypoint_containment(pts, make(np.array([1, 3], dtype=cdt), backend, dtype), boxes)) == [1.0, 1.0]
    empty = vr.keypoint_containment(make(np.zeros((0, 3, 2)), backend, dtype), make(np.zeros(0, dtype=np.int64), backend, dtype),
                                    make(np.zeros((0, 4)), backend, dtype))
    assert tuple(empty.shape) == (0,)
    no_k = vr.keypoint_containment(make(np.zeros((2, 0, 2)), backend, dtype), None, make(np.zeros((1, 4)), backend, dtype))
    assert as_list(no_k) == [0.0, 0.0]
