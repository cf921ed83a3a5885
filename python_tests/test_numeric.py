"""SNRA, the sharpness schedules, the error mappings, AP-GRPO's advantage and loss, and the paper's
diagnostics, against float64 oracles written from the Smooth Operator paper's equations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import verireward as vr
from conftest import as_list, check_kind, make, rounded
import oracles
from test_grpo import grouped, ptr_for

errors = st.one_of(st.floats(0, 1e6), st.sampled_from([0.0, 5e-324, 1e-300, 1e308, math.inf, math.nan, -1.0, -0.0]))
ks = st.one_of(st.floats(1e-3, 1e4), st.sampled_from([1.0, 100.0, 1e300]))


def test_snra_and_schedule_formula_tables():
    # Eq. 2: r(0) = 1; k·e = ln 3 gives 2/(1+3) = 0.5; the paper's k range.
    assert vr.snra(0.0, 1.0) == 1.0 and vr.snra(0.0, 100.0) == 1.0
    assert vr.snra(math.log(3.0), 1.0) == pytest.approx(0.5, rel=1e-15)
    assert vr.snra(math.log(3.0) / 100, 100.0) == pytest.approx(0.5, rel=1e-14)
    assert vr.snra(1.0, 1.0) == pytest.approx(2 / (1 + math.e), rel=1e-15)
    # Eq. 5 with the paper's constants (k_min 1, k_max 100, tau 0.5, s 10)
    sig = lambda x: 1 / (1 + math.exp(-x))
    assert vr.sharpness(0, 1000) == pytest.approx(1 + 99 * sig(-5), rel=1e-15)  # 1.6626, near k_min
    assert vr.sharpness(500, 1000) == 50.5
    assert vr.sharpness(1000, 1000) == pytest.approx(1 + 99 * sig(5), rel=1e-15)  # 99.337
    assert vr.sharpness(5000, 1000) == vr.sharpness(1000, 1000)  # progress is clamped to [0, 1]
    assert vr.sharpness(300, 1000, "linear") == pytest.approx(30.7)
    assert vr.sharpness(300, 1000, "fixed") == 1.0  # k_min: no cold start (SmoothOp Table 5)
    assert vr.sharpness(0, 1000, "fixed", 10.0) == vr.sharpness(1000, 1000, "fixed", 10.0) == 10.0
    assert vr.sharpness(np.int64(3), np.int64(10)) == vr.sharpness(3, 10)  # numpy step counters work
    sched = vr.SharpnessSchedule(total=200, kind="linear", k_min=0.5, k_max=10)
    assert [sched(t) for t in (0, 100, 200)] == [0.5, 5.25, 10.0]
    # Eq. 4 with the paper's lambda = 0.1
    assert vr.composite_reward(np.array([0.5, 1.0]), np.array([1, 0])).tolist() == pytest.approx([0.55, 0.9])
    assert vr.discrete_error(np.array([1.0, 0.0, 0.5, 1.5, np.nan]), 5.0)[:3].tolist() == [0.0, 5.0, 2.5]
    assert np.isnan(vr.discrete_error(np.array([1.5, np.nan]))).all()


@given(e=errors, k=ks, e_max=st.sampled_from([math.inf, 0.0, 3.0]))
def test_snra_matches_the_formula_for_any_input(e, k, e_max):
    want = oracles.snra(e, k, e_max)
    got = vr.snra(np.array([e]), k, e_max=e_max)[0]
    assert math.isfinite(got) and 0.0 <= got <= 1.0
    assert got == pytest.approx(want, rel=1e-13, abs=1e-300)
    t = vr.snra(torch.tensor([e], dtype=torch.float64), k, e_max=e_max)
    assert float(t[0]) == pytest.approx(want, rel=1e-13, abs=1e-300)


@given(es=st.lists(st.floats(0, 1e4), min_size=2, max_size=20), k=ks)
def test_snra_is_monotone_and_hardens_to_the_indicator(es, k):
    es = sorted(es)
    r = vr.snra(np.array(es), k)
    assert np.all(np.diff(r) <= 0) and r.max() <= 1.0 and r.min() >= 0.0
    # Eq. 6: as k grows, r -> 1 at e = 0 and -> 0 for any e > 0
    for e in (1e-3, 0.5, 7.0):
        seq = [float(vr.snra(e, kk)) for kk in (1.0, 10.0, 1e3, 1e5, 1e7)]
        assert all(b <= a for a, b in zip(seq, seq[1:])) and seq[-1] < 1e-300
    assert float(vr.snra(0.0, 1e300)) == 1.0


def test_snra_kinds_and_invalid_errors(backend, dtype):
    e = make([0.0, 0.5, float("nan"), -2.0, float("inf")], backend, dtype)
    r = vr.snra(e, 2.0, e_max=1.0)
    check_kind(r, backend, dtype)
    r = as_list(r)
    assert r[0] == 1.0 and r[2] == r[3] == pytest.approx(2 / (1 + math.exp(2.0)), rel=1e-6) and r[4] == 0.0
    assert vr.snra(3, 1.0) == pytest.approx(2 / (1 + math.exp(3)))  # Python numbers and ints work
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="snra: argument 'k' must be a finite number > 0"):
            vr.snra(1.0, bad)
    for bad in (True, "1", None):  # not a number at all: a TypeError, still naming the argument
        with pytest.raises(TypeError, match="snra: argument 'k' must be a finite number > 0, got"):
            vr.snra(1.0, bad)
    with pytest.raises(ValueError, match="argument 'e_max' must be a number >= 0"):
        vr.snra(1.0, 1.0, e_max=-1.0)
    with pytest.raises(TypeError, match="snra: argument 'error' must be numbers"):
        vr.snra("0.5", 1.0)


@given(t=st.floats(0, 3000), T=st.floats(1, 2000), kind=st.sampled_from(["sigmoid", "linear", "fixed"]),
       k_min=st.floats(0.01, 5), span=st.floats(0, 400), tau=st.floats(0.05, 0.95), s=st.floats(0.1, 50))
def test_schedules_match_the_formula_and_stay_in_range(t, T, kind, k_min, span, tau, s):
    k_max = k_min + span
    got = vr.sharpness(t, T, kind, k_min, k_max, tau, s)
    assert got == pytest.approx(oracles.sharpness(t, T, kind, k_min, k_max, tau, s), rel=1e-12)
    assert k_min - 1e-9 <= got <= k_max + 1e-9
    assert vr.sharpness(min(t + 10, 1e9), T, kind, k_min, k_max, tau, s) >= got - 1e-12  # non-decreasing


def test_schedule_arguments_are_checked():
    with pytest.raises(ValueError, match="argument 'kind' must be one of sigmoid, linear, fixed"):
        vr.sharpness(1, 10, "cosine")
    with pytest.raises(ValueError, match="argument 'k_max' must be a finite number >= k_min"):
        vr.SharpnessSchedule(10, k_min=5, k_max=1)
    with pytest.raises(ValueError, match="argument 'total' must be a finite number > 0"):
        vr.SharpnessSchedule(0)
    with pytest.raises(ValueError, match="argument 'tau' must be a number in \\(0, 1\\)"):
        vr.SharpnessSchedule(10, tau=1.0)
    with pytest.raises(ValueError, match="sharpness: argument 'step' must be a finite number >= 0"):
        vr.SharpnessSchedule(10)(-1)


def test_squared_error_feeds_snra():
    pred = np.array([1.0, np.nan, 1e200, 3.0])
    e = vr.squared_error(pred, np.array([0.5, 1.0, 0.0, 3.0]))
    assert e[0] == 0.25 and np.isnan(e[1]) and e[2] == math.inf and e[3] == 0.0
    r = vr.snra(e, 4.0, e_max=2.0)
    assert r[1] == pytest.approx(2 / (1 + math.exp(8.0))) and r[2] == 0.0 and r[3] == 1.0
    v = vr.squared_error(torch.tensor([[1.0, 2.0, 2.0]]), torch.zeros(1, 3), vector=True)
    assert v.tolist() == [9.0]
    with pytest.raises(TypeError, match="both be torch tensors or both numpy arrays"):
        vr.squared_error(torch.zeros(2), np.zeros(2))


@given(data=grouped(F=1), alpha=st.sampled_from([0.0, 0.5, 1.0, 2.0]), clip=st.sampled_from([None, 1.5, 0.3]),
       seed=st.integers(0, 2**32 - 1))
def test_ap_grpo_advantages_match_eq8(backend, dtype, data, alpha, clip, seed):
    ptr, rows = data
    R = rounded([r[0] for r in rows], dtype)
    r_abs = rounded(np.random.default_rng(seed).uniform(0, 1, len(R)).tolist(), dtype)
    r_abs[0] = 0.0
    got = vr.ap_grpo_advantages(make(R, backend, dtype), make(r_abs, backend, dtype), ptr_for(ptr, backend),
                                alpha=alpha, clip=clip)
    check_kind(got, backend, dtype)
    want = oracles.ap_grpo(R, r_abs, ptr, alpha, clip)
    t = 1e-5 if dtype == "float32" else 1e-10
    for g, w in zip(as_list(got), want):
        assert math.isfinite(g) and g == pytest.approx(w, rel=t, abs=t)
        if clip is not None:
            assert abs(g) <= rounded([clip], dtype)[0]  # clipped in double, then stored in dtype


@given(data=grouped(F=2))
def test_ap_grpo_with_alpha_zero_is_grpo(data):
    ptr, rows = data
    R = np.array(rows)
    r_abs = np.random.default_rng(0).uniform(0, 1, R.shape)
    r_abs[0] = 0.0  # 0^0 = 1: GRPO even for a zero absolute reward
    got = vr.ap_grpo_advantages(R, r_abs, np.array(ptr), alpha=0.0, clip=None)
    np.testing.assert_array_equal(got, vr.group_standardize(R, np.array(ptr)))
    # the absolute term only shrinks: |A'| <= |A| elementwise for alpha >= 0 and r in [0, 1]
    full = vr.ap_grpo_advantages(R, r_abs, np.array(ptr), alpha=1.0, clip=None)
    assert np.all(np.abs(full) <= np.abs(got) + 1e-15)


def test_ap_grpo_compat_and_errors():
    R = torch.tensor([0.2, 0.9, 0.4, 0.4], dtype=torch.float64)
    a = torch.tensor([0.5, 1.0, 0.1, 0.0], dtype=torch.float64)
    trl = vr.ap_grpo_advantages(R, a, 2, compat="trl", clip=None)
    want = (R - R.view(2, 2).mean(1).repeat_interleave(2)) / (R.view(2, 2).std(1).repeat_interleave(2) + 1e-4) * a
    assert torch.allclose(trl, want, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="argument 'abs_rewards' must lie in \\[0, 1\\]"):
        vr.ap_grpo_advantages(R, a + 0.6, 2)
    with pytest.raises(ValueError, match="argument 'abs_rewards' must lie in \\[0, 1\\]"):
        vr.ap_grpo_advantages(R, a * float("nan"), 2)
    with pytest.raises(ValueError, match="argument 'abs_rewards' must have shape \\[4\\]"):
        vr.ap_grpo_advantages(R, a[:3], 2)
    with pytest.raises(ValueError, match="argument 'alpha' must be a finite number >= 0"):
        vr.ap_grpo_advantages(R, a, 2, alpha=-1)
    with pytest.raises(ValueError, match="argument 'clip' must be a finite number > 0, or None"):
        vr.ap_grpo_advantages(R, a, 2, clip=0)
    with pytest.raises(TypeError, match="argument 'abs_rewards' has dtype torch.float32 but 'rewards' has torch.float64"):
        vr.ap_grpo_advantages(R, a.float(), 2)
    with pytest.raises(ValueError, match="argument 'groups' = 3 must be >= 1 and divide the batch size 4"):
        vr.ap_grpo_advantages(R, a, 3)


def test_ap_grpo_loss_is_eq9_with_sequence_advantages():
    g = torch.Generator().manual_seed(0)
    N, L = 4, 6
    logp = (torch.randn(N, L, generator=g, dtype=torch.float64) * 0.3 - 1).requires_grad_()
    old = logp.detach() + torch.randn(N, L, generator=g, dtype=torch.float64) * 0.2
    ref = logp.detach() + torch.randn(N, L, generator=g, dtype=torch.float64) * 0.2
    mask = torch.rand(N, L, generator=g) < 0.8
    R = torch.tensor([0.1, 0.8, 0.5, 0.5], dtype=torch.float64)
    adv = vr.ap_grpo_advantages(R, vr.snra(torch.tensor([2.0, 0.1, 0.5, 0.5], dtype=torch.float64), 1.0), 2)
    loss = vr.ap_grpo_loss(logp, old, adv, mask, ref_logp=ref)  # beta defaults to the paper's 0.02
    want = oracles.grca_loss(logp.tolist(), old.tolist(), adv[:, None].expand(N, L).tolist(), mask.tolist(), 0.2,
                             ref.tolist(), 0.02)
    assert loss.item() == pytest.approx(want, rel=1e-12)
    same = vr.ap_grpo_loss(logp, old, adv[:, None].expand(N, L), mask, ref_logp=ref)
    assert same.item() == loss.item()
    loss.backward()
    assert torch.isfinite(logp.grad).all()
    # raising a token's log-prob lowers the loss exactly when its sequence's advantage is positive
    only = vr.ap_grpo_loss(logp, logp.detach(), adv, mask)
    grad, = torch.autograd.grad(only, logp)
    sign = torch.sign(-grad[mask])
    assert torch.equal(sign, torch.sign(adv[:, None].expand(N, L)[mask]))
    assert torch.autograd.gradcheck(lambda x: vr.ap_grpo_loss(x, old, adv, mask, ref_logp=ref), (logp.detach().clone().requires_grad_(),))
    with pytest.raises(ValueError, match="ap_grpo_loss: argument 'advantages' must have shape \\[4\\]"):
        vr.ap_grpo_loss(logp, old, adv[:3], mask)


@given(data=grouped(F=1))
def test_advantage_variance_matches_population_variance(data):
    ptr, rows = data
    a = np.array([r[0] for r in rows])
    got = vr.advantage_variance(a, np.array(ptr))
    want = [oracles.population_variance(a[ptr[g]:ptr[g + 1]].tolist()) for g in range(len(ptr) - 1)]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert isinstance(vr.advantage_variance(torch.from_numpy(a), torch.tensor(ptr)), torch.Tensor)


def test_convergence_step():
    acc = [0.1, 0.5, 0.9, 0.96, 0.97, 1.0, 0.99]
    assert vr.convergence_step(acc) == 3  # first >= 0.95 * 1.0
    assert vr.convergence_step(acc, steps=[0, 10, 20, 30, 40, 50, 60]) == 30
    assert vr.convergence_step([float("nan"), 0.2, 0.1], frac=0.5) == 1
    with pytest.raises(ValueError, match="needs at least one non-NaN value"):
        vr.convergence_step([])
    with pytest.raises(ValueError, match="argument 'steps' has 2 entries for 3 accuracies"):
        vr.convergence_step([0.1, 0.2, 0.3], steps=[1, 2])
