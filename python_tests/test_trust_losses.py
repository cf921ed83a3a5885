"""Trust: masked positions never reach a loss's arithmetic (padding may hold -inf or NaN in any of
its inputs), for the value and the gradient. Each test failed before its fix."""

from __future__ import annotations

import pytest
import torch

import verireward as vr

POISON = [float("-inf"), float("inf"), float("nan")]


@pytest.mark.parametrize("poison", POISON)
@pytest.mark.parametrize("where", ["logp", "old_logp", "ref_logp", "advantages"])
@pytest.mark.parametrize("loss", [vr.grca_loss, vr.ap_grpo_loss])
@pytest.mark.parametrize("aggregation", ["sample_mean", "token_mean", "sequence_sum"])
def test_padding_holding_inf_or_nan_never_reaches_the_loss(poison, where, loss, aggregation):
    g = torch.Generator().manual_seed(0)
    N, L = 3, 6
    mask = torch.ones(N, L, dtype=torch.bool)
    mask[0, 4:] = False
    mask[2, 1:] = False
    clean = {k: -torch.rand(N, L, generator=g, dtype=torch.float64) for k in ("logp", "old_logp", "ref_logp")}
    clean["advantages"] = torch.randn(N, L, generator=g, dtype=torch.float64)
    dirty = {k: v.clone() for k, v in clean.items()}
    dirty[where][~mask] = poison

    def run(t):
        logp = t["logp"].clone().requires_grad_()
        out = loss(logp, t["old_logp"], t["advantages"], mask, ref_logp=t["ref_logp"], beta=0.1, aggregation=aggregation)
        out.backward()
        return out.detach(), logp.grad

    want, want_grad = run(clean)
    got, got_grad = run(dirty)
    assert torch.isfinite(got) and torch.isfinite(got_grad).all()
    torch.testing.assert_close(got, want, rtol=0, atol=1e-15)
    torch.testing.assert_close(got_grad, want_grad, rtol=0, atol=0)


@pytest.mark.parametrize("poison", POISON)
def test_sequence_logprob_ignores_poisoned_padding_logits(poison):
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 5, 7, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 7, (2, 5), generator=g)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    dirty = logits.clone()
    dirty[0, 3:] = poison
    outs = []
    for x in (logits, dirty):
        x = x.clone().requires_grad_()
        lp = vr.sequence_logprob(x, labels, mask)
        lp.sum().backward()
        outs.append((lp.detach(), x.grad))
    assert torch.isfinite(outs[1][0]).all() and torch.isfinite(outs[1][1]).all()
    torch.testing.assert_close(outs[1][0], outs[0][0], rtol=0, atol=0)
    torch.testing.assert_close(outs[1][1], outs[0][1], rtol=0, atol=0)
