"""pairwise_iou_2d / pairwise_iou_3d equal the per-pair elementwise op and the oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import verireward as vr
from conftest import as_list, check_kind, make, rounded, tol
from oracles import iou as iou_oracle
from strategies import box, hostile


@st.composite
def hostile_box(draw, dim: int):
    b = draw(box(dim))
    b[draw(st.integers(0, 2 * dim - 1))] = draw(hostile)
    return b

PAIRWISE = {2: vr.pairwise_iou_2d, 3: vr.pairwise_iou_3d}
ELEMENTWISE = {2: vr.iou_2d, 3: vr.iou_3d}


@pytest.mark.parametrize("dim", [2, 3])
@given(data=st.data())
def test_pairwise_equals_loop_and_oracle(backend, dtype, dim, data):
    a = rounded(data.draw(st.lists(box(dim), min_size=0, max_size=7)), dtype)
    b = rounded(data.draw(st.lists(st.one_of(box(dim), hostile_box(dim)), min_size=0, max_size=11)), dtype)
    A = make(np.array(a).reshape(len(a), 2 * dim), backend, dtype)
    B = make(np.array(b).reshape(len(b), 2 * dim), backend, dtype)
    out = PAIRWISE[dim](A, B)
    check_kind(out, backend, dtype)
    assert tuple(out.shape) == (len(a), len(b))
    got = as_list(out)
    for i in range(len(a)):
        row = as_list(ELEMENTWISE[dim](A[i : i + 1], B)) if len(b) else []
        assert got[i] == row  # bitwise: the same kernel code
        for j in range(len(b)):
            assert got[i][j] == pytest.approx(iou_oracle(a[i], b[j], dim), abs=tol(dtype))


def test_pairwise_noncontiguous(backend, dtype):
    big = np.zeros((4, 8))
    big[:, ::2] = [[0, 0, 2, 2], [1, 1, 3, 3], [0, 0, 1, 1], [5, 5, 6, 6]]
    x = make(big, backend, dtype)[:, ::2]
    got = as_list(vr.pairwise_iou_2d(x, x))
    assert [got[i][i] for i in range(4)] == [1.0] * 4
    assert got[0][1] == pytest.approx(1 / 7, abs=tol(dtype))
