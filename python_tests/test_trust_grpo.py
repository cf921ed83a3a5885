"""Trust: group statistics that never give NaN, never overflow and reproduce TRL's and verl's GRPO
options exactly (scale_rewards, NaN rewards, Dr.GRPO, verl's float32 singleton). Each test here
failed before the fix it pins."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import verireward as vr
from conftest import as_list, make
import oracles
from verireward.ops.grpo import SCALES


FLAT = [[0.1, 0.1, 0.1], [0.3, 0.3], [1e308, 1e308], [-5.0, -5.0, -5.0, -5.0], [0.0, 0.0]]


@pytest.mark.parametrize("values", FLAT)
@pytest.mark.parametrize("scale", SCALES)
def test_a_zero_variance_group_is_exactly_zero_under_every_setting(backend, values, scale):
    n = len(values)
    for kw in ({"eps": 0.0, "std_floor": 0.0}, {}, {"compat": "trl"}, {"compat": "verl"}):
        r = make(values, backend, "float64")
        assert as_list(vr.group_standardize(r, n, scale=scale, **kw)) == [0.0] * n
        assert as_list(vr.ap_grpo_advantages(r, make([0.5] * n, backend, "float64"), n, scale=scale, **kw)) == [0.0] * n
        adv = vr.routed_advantages(make([[v] for v in values], backend, "float64"), make(np.zeros((n, 1, 2), np.int64), backend, "float64"),
                                   make(np.ones((n, 3)), backend, "float64"), n, scale=scale, **kw)
        assert as_list(adv) == [[0.0] * 3] * n


@given(big=st.floats(1e300, 1.7e308), sign=st.sampled_from([1.0, -1.0]), G=st.integers(2, 5))
def test_finite_rewards_near_the_double_limit_give_finite_exact_advantages(big, sign, G):
    r = np.array([big * sign, -big * sign * 0.5] + [big * sign] * (G - 2))
    got = vr.group_standardize(r, G)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, oracles.standardize(r.tolist(), [0, G], 1e-6, std_floor=1e-6), rtol=1e-12, atol=1e-12)
    assert vr.group_standardize(np.array([1e308, 1e308]), 2).tolist() == [0.0, 0.0]
    adv = vr.routed_advantages(np.stack([r, r], 1), np.zeros((G, 2, 2), np.int64), np.ones((G, 2)), G, rpc=r / 1e300, mode="broadcast")
    assert np.all(np.isfinite(adv))


def trl_advantages(rewards: torch.Tensor, G: int, scale_rewards: str) -> torch.Tensor:
    """TRL 1.16 GRPOTrainer's sum_then_normalize branch, with TRL's own nanstd (float64 in)."""
    from trl.trainer.utils import nanstd

    mean = torch.nanmean(rewards.view(-1, G), dim=1).repeat_interleave(G, dim=0)
    if scale_rewards in ("group", "none"):
        std = nanstd(rewards.view(-1, G), dim=1).repeat_interleave(G, dim=0)
    else:
        std = nanstd(rewards).expand_as(rewards)
    adv = rewards - mean
    if scale_rewards != "none":
        adv = adv / (std + 1e-4)
    return torch.nan_to_num(adv, nan=0.0)


@given(seed=st.integers(0, 2**31), G=st.integers(2, 6), B=st.integers(1, 5), scale=st.sampled_from(["group", "batch", "none"]),
       nan_rate=st.sampled_from([0.0, 0.3, 0.9]))
def test_compat_trl_reproduces_scale_rewards_and_none_rewards(seed, G, B, scale, nan_rate):
    pytest.importorskip("trl")
    g = torch.Generator().manual_seed(seed)
    r = torch.rand(B * G, generator=g, dtype=torch.float64)
    r[torch.rand(B * G, generator=g) < nan_rate] = float("nan")  # reward functions that returned None
    want = trl_advantages(r.clone(), G, scale)
    got = vr.group_standardize(r, G, compat="trl", scale=scale)
    # TRL's nanstd multiplies by count / (count - 1) computed in float32: its std is off by up to 6e-8
    torch.testing.assert_close(got, want, rtol=2e-7, atol=1e-9)
    assert not torch.isnan(got).any()
    # the routed kernel with one span over the response gives the same, token by token
    mask = torch.ones(B * G, 4, dtype=torch.bool)
    adv = vr.routed_advantages(r[:, None], torch.tensor([[[0, 4]]] * (B * G)), mask, G, compat="trl", scale=scale)
    torch.testing.assert_close(adv, got[:, None].expand(-1, 4), rtol=0, atol=0)
    a = vr.ap_grpo_advantages(r, torch.ones_like(r), G, compat="trl", scale=scale, clip=None)
    torch.testing.assert_close(a, got, rtol=0, atol=0)


def test_nan_rewards_are_rejected_outside_compat_trl():
    with pytest.raises(ValueError, match="group_standardize: argument 'rewards' has a NaN or infinite value"):
        vr.group_standardize(np.array([0.0, float("nan")]), 2)
    with pytest.raises(ValueError, match="argument 'rewards' has an infinite value"):
        vr.group_standardize(np.array([0.0, float("inf")]), 2, compat="trl")
    with pytest.raises(ValueError, match="argument 'scale' must be one of 'group', 'batch', 'none'"):
        vr.group_standardize(np.zeros(2), 2, scale="std")


def test_verl_singleton_divides_by_float32_one_plus_eps():
    divisor = float(np.float32(1.0) + np.float32(1e-6))
    assert divisor != 1 + 1e-6
    got = vr.group_standardize(np.array([0.7]), 1, compat="verl")
    assert got.tolist() == [0.7 / divisor]
    # verl's own loop in float32 gives the same number, rounded to float32
    s = torch.tensor([0.7])
    assert float(((s - torch.tensor(0.0)) / (torch.tensor(1.0) + 1e-6))[0]) == pytest.approx(got[0], rel=1e-7)
    assert vr.group_standardize(np.array([0.7]), 1, compat="verl", scale="none").tolist() == [0.7]


@given(data=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=12), G=st.integers(1, 4), scale=st.sampled_from(["group", "batch", "none"]),
       unbiased=st.booleans())
def test_every_scale_matches_the_exact_oracle(data, G, scale, unbiased):
    n = len(data) - len(data) % G or G
    r = (data * G)[:n]
    ptr = list(range(0, n + 1, G))
    got = vr.group_standardize(np.array(r), G, scale=scale, unbiased=unbiased, std_floor=0.0)
    want = oracles.standardize(r, ptr, 1e-6, unbiased, 0.0, scale=scale)
    scale_of = max(1.0, max(abs(x) for x in r))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * scale_of)
