"""The IoU backward kernel: gradcheck in float64 and agreement with autograd through an
independent torch expression of the same definition."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import verireward as vr

OPS = {2: vr.iou_2d, 3: vr.iou_3d}


def torch_iou(a: torch.Tensor, b: torch.Tensor, dim: int) -> torch.Tensor:
    """IoU by torch ops (hull semantics); autograd of torch.minimum/maximum splits ties equally."""
    a_lo, a_hi = torch.minimum(a[..., :dim], a[..., dim:]), torch.maximum(a[..., :dim], a[..., dim:])
    b_lo, b_hi = torch.minimum(b[..., :dim], b[..., dim:]), torch.maximum(b[..., :dim], b[..., dim:])
    inter = (torch.minimum(a_hi, b_hi) - torch.maximum(a_lo, b_lo)).clamp(min=0).prod(-1)
    union = (a_hi - a_lo).prod(-1) + (b_hi - b_lo).prod(-1) - inter
    return inter / union


def overlapping(rng, n: int, dim: int, swap: bool = True) -> torch.Tensor:
    lo = rng.uniform(0, 1, size=(n, dim))
    hi = lo + rng.uniform(0.5, 2, size=(n, dim))
    box = np.concatenate([lo, hi], axis=1)
    if swap:
        flip = rng.random((n, dim)) < 0.5
        box = np.concatenate([np.where(flip, hi, lo), np.where(flip, lo, hi)], axis=1)
    return torch.tensor(box, dtype=torch.float64)


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("seed", range(3))
def test_gradcheck(dim, seed):
    rng = np.random.default_rng(seed)
    a = overlapping(rng, 6, dim).requires_grad_()
    b = overlapping(rng, 6, dim).requires_grad_()
    assert torch.autograd.gradcheck(OPS[dim], (a, b))
    b1 = overlapping(rng, 1, dim).requires_grad_()  # broadcast: gradient summed over the batch
    assert torch.autograd.gradcheck(OPS[dim], (a, b1))


@pytest.mark.parametrize("dim", [2, 3])
@given(seed=st.integers(0, 2**32 - 1), tie=st.booleans())
def test_grad_matches_torch_autograd(dim, seed, tie):
    rng = np.random.default_rng(seed)
    a = overlapping(rng, 8, dim)
    b = a.clone() if tie else overlapping(rng, 8, dim)  # identical boxes: every edge ties
    w = torch.tensor(rng.normal(size=8))
    grads = []
    for fn in (OPS[dim], lambda x, y: torch_iou(x, y, dim)):
        x, y = a.clone().requires_grad_(), b.clone().requires_grad_()
        (fn(x, y) * w).sum().backward()
        grads.append((x.grad, y.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dim", [2, 3])
def test_grad_is_zero_where_iou_is_zero_by_rule(dim):
    d = dim
    a = torch.tensor(
        [[0.0] * d + [1.0] * d,                      # disjoint from b
         [0.0] * d + [0.0] + [1.0] * (d - 1),        # degenerate
         [float("nan")] + [0.0] * (d - 1) + [1.0] * d],
        dtype=torch.float64, requires_grad=True)
    b = torch.tensor([[5.0] * d + [6.0] * d, [0.0] * d + [1.0] * d, [0.0] * d + [1.0] * d], dtype=torch.float64,
                     requires_grad=True)
    out = OPS[dim](a, b)
    assert out.tolist() == [0.0, 0.0, 0.0]
    out.sum().backward()
    assert torch.all(a.grad == 0) and torch.all(b.grad == 0)


def test_no_graph_without_requires_grad_and_under_no_grad():
    a = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    assert vr.iou_2d(a, a).grad_fn is None
    x = a.clone().requires_grad_()
    with torch.no_grad():
        assert vr.iou_2d(x, a).grad_fn is None
    assert vr.iou_2d(x, a).grad_fn is not None


def test_grad_float32_and_one_side():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]], requires_grad=True)
    b = torch.tensor([[1.0, 1.0, 3.0, 3.0]])
    vr.iou_2d(a, b).sum().backward()
    assert a.grad.dtype == torch.float32
    # I = 1, U = 7: dIoU/dx2 = (d I/d x2 * U - I * dU/d x2) / U^2 = (1 * 7 - 1 * (2 - 1)) / 49
    assert a.grad[0, 2].item() == pytest.approx(6 / 49)
