"""grca_loss against the Eq. 16 oracle, its gradients, aggregations and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import verireward as vr
import oracles


def batch(seed: int, N: int = 4, L: int = 6, spread: float = 0.5):
    g = torch.Generator().manual_seed(seed)
    logp = -torch.rand(N, L, generator=g, dtype=torch.float64) * 3
    old = logp + (torch.rand(N, L, generator=g, dtype=torch.float64) - 0.5) * spread
    ref = logp + (torch.rand(N, L, generator=g, dtype=torch.float64) - 0.5) * spread
    adv = torch.randn(N, L, generator=g, dtype=torch.float64)
    mask = torch.rand(N, L, generator=g) < 0.8
    mask[0] = False  # a sample with no token
    return logp, old, ref, adv, mask


@given(seed=st.integers(0, 2**31), agg=st.sampled_from(["sample_mean", "token_mean", "sequence_sum"]),
       beta=st.sampled_from([0.0, 0.02]), clip=st.sampled_from([0.1, 0.2]), spread=st.sampled_from([0.1, 2.0, 80.0]))
def test_grca_loss_matches_oracle(seed, agg, beta, clip, spread):
    logp, old, ref, adv, mask = batch(seed, spread=spread)
    got = vr.grca_loss(logp, old, adv, mask, clip, ref_logp=ref, beta=beta, aggregation=agg)
    want = oracles.grca_loss(logp.tolist(), old.tolist(), adv.tolist(), mask.tolist(), clip, ref.tolist(), beta, agg)
    assert got.item() == pytest.approx(want, rel=1e-12, abs=1e-12)
    assert torch.isfinite(got)


def test_grca_loss_gradcheck_and_no_grad_through_old_or_advantages():
    logp, old, ref, adv, mask = batch(1, spread=0.1)
    x = logp.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda l: vr.grca_loss(l, old, adv, mask, 0.2, ref_logp=ref, beta=0.05), (x,))
    o, a = old.clone().requires_grad_(), adv.clone().requires_grad_()
    vr.grca_loss(x, o, a, mask).backward()
    assert o.grad is None and a.grad is None and x.grad is not None


def test_grca_loss_on_policy_is_minus_the_mean_advantage_and_clipping_stops_gradients():
    logp, _, _, adv, mask = batch(2)
    m = mask.double()
    loss = vr.grca_loss(logp, logp, adv, mask)  # ratio 1: the surrogate is the advantage itself
    per_sample = (adv * m).sum(1) / m.sum(1).clamp(min=1)
    assert loss.item() == pytest.approx(-per_sample.sum().item() / 4)
    x = torch.zeros(1, 2, dtype=torch.float64, requires_grad=True)
    old = torch.tensor([[-1.0, 1.0]], dtype=torch.float64)  # ratios e and 1/e: far outside 1 +- 0.2
    loss, stats = vr.grca_loss(x, old, torch.tensor([[1.0, -1.0]], dtype=torch.float64), torch.ones(1, 2),
                               return_stats=True)
    loss.backward()
    assert torch.all(x.grad == 0) and stats["clip_fraction"].item() == 1.0
    on_policy = vr.grca_loss(logp, logp, adv, mask)
    assert vr.grca_loss(logp, logp, -adv, mask).item() == pytest.approx(-on_policy.item())  # sign flips with A


def test_grca_loss_errors():
    x = torch.zeros(2, 3)
    with pytest.raises(TypeError, match="grca_loss: argument 'logp' must be a torch.Tensor, got ndarray"):
        vr.grca_loss(np.zeros((2, 3)), x, x, x)
    with pytest.raises(ValueError, match=r"grca_loss: argument 'advantages' must have shape \[2, 3\], got \[2, 4\]"):
        vr.grca_loss(x, x, torch.zeros(2, 4), x)
    with pytest.raises(ValueError, match="argument 'aggregation' must be one of sample_mean, token_mean, sequence_sum, got 'sum'"):
        vr.grca_loss(x, x, x, x, aggregation="sum")
    with pytest.raises(ValueError, match="argument 'clip_eps' must be a finite number >= 0, got -0.1"):
        vr.grca_loss(x, x, x, x, clip_eps=-0.1)
    with pytest.raises(TypeError, match="argument 'old_logp' must have a floating dtype, got torch.int64"):
        vr.grca_loss(x, torch.zeros(2, 3, dtype=torch.int64), x, x)
