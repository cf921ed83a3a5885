"""SPA, DPO and SimPO against Table A1's formulas, the chunked sequence log-probability against a
float64 oracle (and its memory bound), and W2R2's objective on a toy fusion model."""

from __future__ import annotations


import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import verireward as vr
import oracles

f64 = dict(dtype=torch.float64)


def test_losses_equal_table_a1_by_hand():
    lp, ln = torch.tensor([-3.0, -10.0], **f64), torch.tensor([-5.0, -2.0], **f64)
    # SPA: -log sigma(log p(y|x) - log p(y|x'))
    want = [-oracles.log_sigmoid(2.0), -oracles.log_sigmoid(-8.0)]
    assert vr.spa_loss(lp, ln, reduction="none").tolist() == pytest.approx(want, rel=1e-15)
    assert vr.spa_loss(lp, ln).item() == pytest.approx(sum(want) / 2, rel=1e-15)
    assert vr.spa_loss(lp, ln, beta=0.5, reduction="sum").item() == pytest.approx(
        -oracles.log_sigmoid(1.0) - oracles.log_sigmoid(-4.0), rel=1e-15)
    # DPO with beta = 0.1 (the paper's comparison)
    rp, rn = torch.tensor([-4.0, -9.0], **f64), torch.tensor([-5.5, -2.5], **f64)
    want = [-oracles.log_sigmoid(0.1 * (-3 + 4) - 0.1 * (-5 + 5.5)), -oracles.log_sigmoid(0.1 * (-10 + 9) - 0.1 * (-2 + 2.5))]
    assert vr.dpo_loss(lp, ln, rp, rn, reduction="none").tolist() == pytest.approx(want, rel=1e-14)
    # SimPO with beta = 2, gamma = 0.3 as Table A1 writes it
    n_pos, n_neg = torch.tensor([3, 5]), torch.tensor([2, 4])
    want = [-oracles.log_sigmoid(2 / 3 * -3 - 2 / 2 * -5 - 0.3), -oracles.log_sigmoid(2 / 5 * -10 - 2 / 4 * -2 - 0.3)]
    assert vr.simpo_loss(lp, ln, n_pos, n_neg, reduction="none").tolist() == pytest.approx(want, rel=1e-14)


@given(a=st.lists(st.floats(-500, 0), min_size=1, max_size=6), seed=st.integers(0, 1000),
       beta=st.floats(0.01, 5))
def test_swapping_positive_and_negative_flips_the_gradient(a, seed, beta):
    g = torch.Generator().manual_seed(seed)
    lp = torch.tensor(a, **f64).requires_grad_()
    ln = (lp.detach() + torch.randn(len(a), generator=g, dtype=torch.float64) * 3).requires_grad_()
    for fn in (lambda p, n: vr.spa_loss(p, n, beta), lambda p, n: vr.dpo_loss(p, n, p.detach() * 0, n.detach() * 0, beta)):
        gp, gn = torch.autograd.grad(fn(lp, ln), (lp, ln))
        sp, sn = torch.autograd.grad(fn(ln, lp), (ln, lp))  # the same tensors in swapped roles
        assert torch.all(gp < 0) and torch.all(gn > 0)  # raising log p(y|x) lowers the loss
        assert torch.equal(torch.sign(sn), -torch.sign(gp)) and torch.equal(torch.sign(sp), -torch.sign(gn))
    assert torch.isfinite(vr.spa_loss(lp, ln, beta)) and vr.spa_loss(lp, ln, beta).item() >= 0


def test_losses_are_finite_for_extreme_log_probs_and_gradcheck():
    lp = torch.tensor([-1e4, 0.0, -700.0], **f64, requires_grad=True)
    ln = torch.tensor([0.0, -1e4, -1.0], **f64, requires_grad=True)
    loss = vr.spa_loss(lp, ln)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(lp.grad).all() and torch.isfinite(ln.grad).all()
    x = (torch.randn(4, **f64), torch.randn(4, **f64))
    xs = [t.clone().requires_grad_() for t in x]
    assert torch.autograd.gradcheck(lambda p, n: vr.spa_loss(p, n, 0.7), xs)
    assert torch.autograd.gradcheck(lambda p, n: vr.simpo_loss(p, n, torch.tensor([1, 2, 3, 4]), torch.tensor([4, 3, 2, 1])), xs)


def test_preference_errors():
    a = torch.zeros(3)
    with pytest.raises(ValueError, match="spa_loss: argument 'logp_neg' must have shape \\[3\\]"):
        vr.spa_loss(a, torch.zeros(2))
    with pytest.raises(TypeError, match="spa_loss: argument 'logp_pos' must be a torch.Tensor"):
        vr.spa_loss([0.0], a)
    with pytest.raises(ValueError, match="argument 'beta' must be a finite number > 0"):
        vr.dpo_loss(a, a, a, a, beta=0)
    with pytest.raises(ValueError, match="argument 'len_pos' must be >= 1"):
        vr.simpo_loss(a, a, torch.tensor([0, 1, 1]), torch.ones(3, dtype=torch.long))
    with pytest.raises(ValueError, match="argument 'reduction' must be one of mean, sum, none"):
        vr.spa_loss(a, a, reduction="avg")


@settings(max_examples=40)
@given(N=st.integers(1, 3), L=st.integers(1, 5), V=st.integers(1, 9), chunk=st.integers(1, 7), seed=st.integers(0, 10**6),
       scale=st.sampled_from([1.0, 30.0, 1e3]))
def test_sequence_logprob_matches_oracle_and_gradcheck(N, L, V, chunk, seed, scale):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(N, L, V, generator=g, dtype=torch.float64) * scale).requires_grad_()
    labels = torch.randint(0, V, (N, L), generator=g)
    mask = torch.rand(N, L, generator=g) < 0.7
    labels[~mask] = -100  # the ignore index outside the mask is fine
    got = vr.sequence_logprob(logits, labels, mask, chunk=chunk)
    want = oracles.sequence_logprob(logits.tolist(), labels.tolist(), mask.tolist())
    assert got.tolist() == pytest.approx(want, rel=1e-12, abs=1e-9)
    assert torch.equal(vr.sequence_logprob(logits, labels, chunk=chunk), got)  # default mask: labels != -100
    if scale == 1.0:
        assert torch.autograd.gradcheck(lambda x: vr.sequence_logprob(x, labels, mask, chunk=chunk), (logits,))


def test_sequence_logprob_makes_one_full_size_tensor_and_handles_half_precision():
    from torch.profiler import ProfilerActivity, profile

    N, L, V = 4, 64, 1000
    x = torch.randn(N, L, V, requires_grad=True)
    labels = torch.randint(0, V, (N, L))
    full = N * L * V * 4

    def big_allocations(fn):
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            fn(x).sum().backward()
        return [e.name for e in prof.events() if e.self_cpu_memory_usage >= full // 2]

    ours = big_allocations(lambda a: vr.sequence_logprob(a, labels, chunk=32))
    naive = big_allocations(lambda a: torch.log_softmax(a, -1).gather(-1, labels[..., None]).sum())
    assert len(ours) == 1 and len(naive) >= 2, (ours, naive)  # ours: only the gradient itself
    half = x.detach().to(torch.bfloat16).requires_grad_()
    got = vr.sequence_logprob(half, labels)
    assert got.dtype == torch.float32
    ref = vr.sequence_logprob(half.detach().float(), labels)
    assert torch.allclose(got, ref)
    got.sum().backward()
    assert half.grad.dtype == torch.bfloat16 and torch.isfinite(half.grad.float()).all()
    with pytest.raises(ValueError, match="argument 'labels' has an id outside \\[0, 1000\\)"):
        vr.sequence_logprob(x, labels + 1000)


# ---- W2R2 -------------------------------------------------------------------------------------------


class ToyFusion(torch.nn.Module):
    """A 2D encoder, a 3D encoder, concatenation (Φ) and a shared decoder with a box head."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.enc2d = torch.nn.Linear(5, 4).double()
        self.enc3d = torch.nn.Linear(7, 4).double()
        self.dec = torch.nn.Linear(8, 6).double()
        self.cls = torch.nn.Linear(8, 3).double()
        for p in self.parameters():
            torch.nn.init.normal_(p, std=0.5, generator=g)

    def decode(self, f2, f3):
        h = torch.cat([f2, f3], -1)
        raw = self.dec(h)
        boxes = torch.cat([raw[:, :3], raw[:, :3] + torch.nn.functional.softplus(raw[:, 3:]) + 0.5], 1)
        return boxes, self.cls(h)


def test_w2r2_hinge_is_zero_below_mu_and_linear_above():
    logits = torch.randn(4, 3, **f64)
    labels = torch.tensor([0, 2, 1, 1])
    ce = torch.nn.functional.cross_entropy(logits, labels)
    for s, active in ((0.2, 0.0), (0.7, 0.0), (0.8, 0.1), (1.0, 0.3)):
        sims = torch.full((4,), s, **f64, requires_grad=True)
        loss, parts = vr.w2r2_loss(logits, labels, sims, return_parts=True)
        assert loss.item() == pytest.approx(ce.item() + 1.5 * active, rel=1e-12)
        (g,) = torch.autograd.grad(loss, sims)
        assert g.tolist() == pytest.approx([1.5 / 4 if active else 0.0] * 4)
        assert parts["active_fraction"].item() == (1.0 if active else 0.0)
    sims = torch.tensor([0.1, 0.9, 0.75, 0.3], **f64)
    want = oracles.w2r2(logits.tolist(), labels.tolist(), sims.tolist(), 0.7, 1.5)
    assert vr.w2r2_loss(logits, labels, sims).item() == pytest.approx(want, rel=1e-12)
    # token logits [N, L, V] with ignored positions; all ignored gives CE 0, not NaN
    tl = torch.randn(2, 3, 5, **f64)
    tlab = torch.tensor([[1, -100, 2], [-100, -100, 4]])
    ce_tok = torch.nn.functional.cross_entropy(tl.reshape(-1, 5), tlab.reshape(-1))
    assert vr.w2r2_loss(tl, tlab, torch.zeros(2, **f64)).item() == pytest.approx(ce_tok.item(), rel=1e-12)
    assert vr.w2r2_loss(tl, torch.full((2, 3), -100), torch.zeros(2, **f64)).item() == 0.0


def test_w2r2_gradients_reach_the_decoder_but_not_the_2d_encoder():
    model = ToyFusion()
    g = torch.Generator().manual_seed(1)
    x2, x3 = torch.randn(6, 5, generator=g, **f64), torch.randn(6, 7, generator=g, **f64)
    gt = torch.cat([torch.zeros(6, 3, **f64), torch.ones(6, 3, **f64)], 1)
    f2, f3 = model.enc2d(x2), model.enc3d(x3)
    _, fused_cls = model.decode(f2, f3)
    s2, s3 = vr.shortcut_features(f2, f3)
    assert not s2.requires_grad and torch.count_nonzero(s3) == 0
    short_boxes, _ = model.decode(s2, s3)
    sims = vr.box_similarity(short_boxes, gt)
    hinge_only = vr.w2r2_loss(fused_cls, torch.zeros(6, dtype=torch.long), sims, mu=0.0, lam=1.0) \
        - torch.nn.functional.cross_entropy(fused_cls, torch.zeros(6, dtype=torch.long))
    assert (sims > 0).any()
    model.zero_grad()
    hinge_only.backward()
    assert model.dec.weight.grad is not None and model.dec.weight.grad.abs().sum() > 0  # the shared decoder
    for enc in (model.enc2d, model.enc3d):  # nothing through the shortcut pass reaches an encoder
        assert enc.weight.grad is None or enc.weight.grad.abs().sum() == 0
    # with the CE term, the 2D encoder does learn (from the fused pass)
    model.zero_grad()
    _, fused_cls = model.decode(model.enc2d(x2), model.enc3d(x3))
    vr.w2r2_loss(fused_cls, torch.zeros(6, dtype=torch.long), sims.detach()).backward()
    assert model.enc2d.weight.grad.abs().sum() > 0


def test_w2r2_gradcheck_and_token_similarity():
    logits = torch.randn(3, 4, **f64, requires_grad=True)
    sims = torch.tensor([0.9, 0.5, 0.8], **f64, requires_grad=True)
    labels = torch.tensor([3, 0, 1])
    assert torch.autograd.gradcheck(lambda a, s: vr.w2r2_loss(a, labels, s), (logits, sims))
    short = torch.randn(2, 3, 6, **f64, requires_grad=True)
    lab = torch.tensor([[1, 2, -100], [0, 5, 5]])
    s = vr.token_likelihood_similarity(short, lab)
    p = torch.softmax(short, -1)
    want = [(p[0, 0, 1] + p[0, 1, 2]) / 2, (p[1, 0, 0] + p[1, 1, 5] + p[1, 2, 5]) / 3]
    assert s.tolist() == pytest.approx([w.item() for w in want], rel=1e-12)
    assert torch.autograd.gradcheck(lambda a: vr.token_likelihood_similarity(a, lab), (short,))
    with pytest.raises(ValueError, match="argument 'mu' must be a number in \\[0, 1\\]"):
        vr.w2r2_loss(logits, labels, sims, mu=1.5)
    with pytest.raises(ValueError, match="w2r2_loss: argument 'short_similarity' must have shape \\[3\\], got \\[2\\]"):
        vr.w2r2_loss(logits, labels, sims[:2])
    with pytest.raises(TypeError, match="w2r2_loss: argument 'short_similarity' must have a floating dtype, got torch.int64"):
        vr.w2r2_loss(logits, labels, torch.zeros(3, dtype=torch.int64))
    with pytest.raises(TypeError, match="w2r2_loss: argument 'labels' must have an integer dtype, got torch.float32"):
        vr.w2r2_loss(logits, labels.float(), sims)


def test_token_logprob_is_per_token_and_sums_to_the_sequence():
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(3, 5, 7, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 7, (3, 5), generator=g)
    mask = torch.rand(3, 5, generator=g) < 0.6
    tok = vr.token_logprob(logits, labels, mask, chunk=4)
    want = torch.log_softmax(logits, -1).gather(-1, labels[..., None]).squeeze(-1) * mask
    assert torch.allclose(tok, want, rtol=1e-12, atol=1e-14) and torch.all(tok[~mask] == 0)
    assert torch.equal(tok.sum(1), vr.sequence_logprob(logits, labels, mask, chunk=4))
    assert torch.autograd.gradcheck(lambda x: vr.token_logprob(x, labels, mask, chunk=2), (logits,))
