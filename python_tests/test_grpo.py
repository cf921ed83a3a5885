"""group_standardize, routed_advantages and char_to_token_spans against the Eq. 9/10/14 oracles,
the invariants of routed credit, and TRL's and verl's GRPO formulas."""

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


@st.composite
def grouped(draw, max_groups: int = 4, max_size: int = 5, F: int = 1):
    """A CSR pointer and rewards in [0, 1] (some groups flat, some with float32-like residue)."""
    sizes = draw(st.lists(st.integers(1, max_size), min_size=1, max_size=max_groups))
    ptr = [0]
    for s in sizes:
        ptr.append(ptr[-1] + s)
    rows = []
    for s in sizes:
        kind = draw(st.sampled_from(["random", "flat", "residue", "binary"]))
        for _ in range(s):
            if kind == "random":
                rows.append([draw(st.floats(0, 1)) for _ in range(F)])
            elif kind == "flat":
                rows.append([0.5] * F)
            elif kind == "residue":
                rows.append([0.3 + draw(st.sampled_from([0.0, 1e-9, -2e-9])) for _ in range(F)])
            else:
                rows.append([float(draw(st.integers(0, 1))) for _ in range(F)])
    return ptr, rows


def ptr_for(ptr, backend):
    return make(np.array(ptr, dtype=np.int64), backend, "float64")


@given(data=grouped(F=3), unbiased=st.booleans(), floor=st.sampled_from([0.0, 1e-6]))
def test_group_standardize_matches_oracle(backend, dtype, data, unbiased, floor):
    ptr, rows = data
    rows = rounded(rows, dtype)
    got = vr.group_standardize(make(rows, backend, dtype), ptr_for(ptr, backend), unbiased=unbiased, std_floor=floor)
    check_kind(got, backend, dtype)
    got = as_list(got)
    for f in range(3):
        col = [r[f] for r in rows]
        want = oracles.standardize(col, ptr, 1e-6, unbiased, floor)
        for g in range(len(ptr) - 1):
            xs = col[ptr[g]:ptr[g + 1]]
            # the conditioning of (r - mean) / (std + eps): an ulp of the mean, amplified
            cond = 8 * len(xs) * 2.3e-16 * max(abs(x) for x in xs) / (float(np.std(xs)) + 1e-6)
            for i in range(ptr[g], ptr[g + 1]):
                assert math.isfinite(got[i][f])
                tol = (1e-5 if dtype == "float32" else 1e-12) + cond
                assert got[i][f] == pytest.approx(want[i], rel=tol, abs=tol)


@given(data=grouped(F=2))
def test_standardized_groups_sum_to_zero_and_flat_groups_are_zero(data):
    ptr, rows = data
    got = vr.group_standardize(np.array(rows), np.array(ptr))
    for g in range(len(ptr) - 1):
        block = got[ptr[g]:ptr[g + 1]]
        assert np.all(np.abs(block.sum(0)) < 1e-9)
        vals = np.array(rows[ptr[g]:ptr[g + 1]])
        for f in range(2):
            top = np.abs(vals[:, f]).max()  # the rule is scale-free: test it on values scaled to 1 (no underflow)
            if len(vals) > 1 and (top == 0 or np.std(vals[:, f] / top, ddof=1) <= 1e-6):
                assert np.all(block[:, f] == 0.0)  # equal up to rounding (the documented rule): exactly 0


def test_group_standardize_int_groups_and_1d():
    r = np.array([1.0, 0.0, 0.5, 0.5, 0.2, 0.4])
    got = vr.group_standardize(r, 2)
    assert got.shape == (6,)
    assert got.tolist() == pytest.approx([0.5 / (math.sqrt(0.5) + 1e-6), -0.5 / (math.sqrt(0.5) + 1e-6), 0, 0,
                                          -0.1 / (math.sqrt(0.02) + 1e-6), 0.1 / (math.sqrt(0.02) + 1e-6)])
    assert vr.group_standardize(np.array([0.7]), 1).tolist() == [0.0]  # a group of one: 0


def test_float32_residue_never_becomes_a_huge_advantage():
    # rewards that are "equal" but differ in the last float32 bit: without the floor, TRL-style
    # standardization turns them into +-0.7 (or thousands with a small eps); with it, exactly 0
    r = torch.tensor([0.1, 0.1 + 1.49e-8, 0.1, 0.1], dtype=torch.float32)
    assert r.unique().numel() == 2
    assert vr.group_standardize(r, 4).abs().max().item() == 0.0
    assert vr.group_standardize(r, 4, std_floor=0.0, eps=0.0).abs().max().item() > 0.4


def trl_advantages(rewards: torch.Tensor, G: int) -> torch.Tensor:
    """TRL GRPOTrainer's formula: group mean/std (unbiased), (r - mean) / (std + 1e-4)."""
    mean = rewards.view(-1, G).mean(dim=1).repeat_interleave(G, dim=0)
    std = rewards.view(-1, G).std(dim=1).repeat_interleave(G, dim=0)
    return (rewards - mean) / (std + 1e-4)


def verl_advantages(scores: torch.Tensor, index: list) -> torch.Tensor:
    """verl's compute_grpo_outcome_advantage loop: singletons use mean 0, std 1 as float32 tensors
    (verl writes torch.tensor(0.0) and torch.tensor(1.0), whatever the scores' dtype)."""
    from collections import defaultdict

    id2score = defaultdict(list)
    for i in range(len(scores)):
        id2score[index[i]].append(scores[i])
    id2mean, id2std = {}, {}
    for idx, vals in id2score.items():
        if len(vals) == 1:
            id2mean[idx], id2std[idx] = torch.tensor(0.0), torch.tensor(1.0)
        else:
            id2mean[idx] = torch.mean(torch.stack(vals))
            id2std[idx] = torch.std(torch.stack(vals)[None])
    return torch.stack([(scores[i] - id2mean[index[i]]) / (id2std[index[i]] + 1e-6) for i in range(len(scores))])


@given(seed=st.integers(0, 2**31), G=st.integers(2, 8), B=st.integers(1, 6))
def test_compat_trl_and_verl_reproduce_their_grpo(seed, G, B):
    """Their formulas, evaluated in float64, are reproduced to rounding; float32 inputs give that
    result rounded to float32 (TRL's own float32 arithmetic is off by up to ~1e-5 for close rewards)."""
    g = torch.Generator().manual_seed(seed)
    r = torch.rand(B * G, generator=g, dtype=torch.float64)
    want = trl_advantages(r, G)
    torch.testing.assert_close(vr.group_standardize(r, G, compat="trl"), want, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(vr.group_standardize(r.float(), G, compat="trl"), trl_advantages(r.float().double(), G).float(),
                               rtol=2e-7, atol=2e-7)
    sizes = torch.randint(1, 5, (B,), generator=g).tolist()  # verl groups of uneven size, singletons too
    ptr = np.concatenate([[0], np.cumsum(sizes)])
    s = torch.rand(int(ptr[-1]), generator=g, dtype=torch.float64)
    index = [gi for gi, n in enumerate(sizes) for _ in range(n)]
    torch.testing.assert_close(vr.group_standardize(s, torch.from_numpy(ptr), compat="verl"),
                               verl_advantages(s, index), rtol=1e-10, atol=1e-12)
    # one span covering the response: routed advantages are TRL's GRPO advantages on every token
    L = 7
    mask = torch.ones(B * G, L, dtype=torch.bool)
    mask[:, 5:] = False
    spans = torch.tensor([[[0, 5]]] * (B * G))
    adv = vr.routed_advantages(r[:, None], spans, mask, G, compat="trl")
    torch.testing.assert_close(adv[:, :5], want[:, None].expand(-1, 5), rtol=1e-10, atol=1e-12)
    assert torch.all(adv[:, 5:] == 0)


@st.composite
def routing_case(draw):
    ptr, rows = draw(grouped(F=draw(st.integers(1, 4)), max_groups=3, max_size=4))
    n, F = len(rows), len(rows[0])
    L = draw(st.integers(1, 12))
    mask, spans = [], []
    for _ in range(n):
        length = draw(st.integers(0, L))
        mask.append([t < length for t in range(L)])
        row = []
        for _ in range(F):
            a, b = sorted((draw(st.integers(0, L)), draw(st.integers(0, L))))
            row.append([a, b] if draw(st.booleans()) else [0, 0])
        spans.append(row)
    rpc = [draw(st.floats(0, 1)) for _ in range(n)] if draw(st.booleans()) else None
    return ptr, rows, spans, mask, rpc


@given(case=routing_case(), lam=st.sampled_from([0.0, 0.15, 1.0]))
def test_routed_advantages_match_oracle(backend, dtype, case, lam):
    ptr, rows, spans, mask, rpc = case
    rows = rounded(rows, dtype)
    rpc = rounded(rpc, dtype) if rpc is not None else None
    n, F = len(rows), len(rows[0])
    got = vr.routed_advantages(make(rows, backend, dtype), make(np.array(spans, dtype=np.int64), backend, dtype),
                               make(np.array(mask), backend, dtype), ptr_for(ptr, backend),
                               rpc=None if rpc is None else make(rpc, backend, dtype), lam=lam)
    check_kind(got, backend, dtype)
    adv_f = [oracles.standardize([r[f] for r in rows], ptr, 1e-6, std_floor=1e-6) for f in range(F)]
    adv_fields = [[adv_f[f][i] for f in range(F)] for i in range(n)]
    adv_rpc = oracles.standardize(rpc, ptr, 1e-6, std_floor=1e-6) if rpc is not None else None
    want = oracles.route(adv_fields, adv_rpc, spans, mask, lam)
    base = 1e-5 if dtype == "float32" else 1e-12
    cols = [[r[f] for r in rows] for f in range(F)] + ([rpc] if rpc is not None else [])
    for g in range(len(ptr) - 1):
        # the conditioning of (r - mean) / (std + eps) (the exact oracle has no rounding): an ulp of the
        # mean, amplified, as in test_group_standardize_matches_oracle
        cond = max(8 * (ptr[g + 1] - ptr[g]) * 2.3e-16 * max(abs(x) for x in c[ptr[g]:ptr[g + 1]])
                   / (float(np.std(c[ptr[g]:ptr[g + 1]])) + 1e-6) for c in cols)
        for i in range(ptr[g], ptr[g + 1]):
            assert as_list(got)[i] == pytest.approx(want[i], rel=base + cond, abs=base + cond)


@given(case=routing_case(), data=st.data())
def test_permuting_a_group_permutes_the_advantages(case, data):
    ptr, rows, spans, mask, rpc = case
    perm = list(range(len(rows)))
    for g in range(len(ptr) - 1):
        block = perm[ptr[g]:ptr[g + 1]]
        perm[ptr[g]:ptr[g + 1]] = data.draw(st.permutations(block))
    args = lambda idx: (np.array(rows)[idx], np.array(spans, dtype=np.int64)[idx], np.array(mask)[idx], np.array(ptr))
    kw = lambda idx: {"rpc": None if rpc is None else np.array(rpc)[idx]}
    base = vr.routed_advantages(*args(list(range(len(rows)))), **kw(list(range(len(rows)))))
    permuted = vr.routed_advantages(*args(perm), **kw(perm))
    np.testing.assert_allclose(permuted, base[perm], rtol=0, atol=1e-12)


@given(data=grouped(F=1), L=st.integers(1, 9))
def test_one_field_covering_the_response_is_broadcast_grpo(data, L):
    ptr, rows = data
    n = len(rows)
    mask = np.ones((n, L), dtype=bool)
    mask[:, L // 2 + 1:] = False
    spans = np.array([[[0, L // 2 + 1]]] * n, dtype=np.int64)
    routed = vr.routed_advantages(np.array(rows), spans, mask, np.array(ptr))
    broadcast = vr.routed_advantages(np.array(rows), spans, mask, np.array(ptr), mode="broadcast")
    np.testing.assert_array_equal(routed, broadcast)


def test_routed_hand_case():
    # two samples of one prompt; fields bbox2d (tokens 1-2) and bbox3d (tokens 4-5), RPC, padding
    r = np.array([[1.0, 0.0], [0.0, 1.0]])
    spans = np.array([[[1, 3], [4, 6]], [[1, 3], [0, 0]]])
    mask = np.array([[1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1, 1]])
    rpc = np.array([0.9, 0.1])
    a = 1 / (math.sqrt(0.5) + 1e-6)  # standardized +-0.5 with unbiased std sqrt(0.5)
    a_rpc = 0.4 / (math.sqrt(0.32) + 1e-6)
    got = vr.routed_advantages(r, spans, mask, 2, rpc=rpc, lam=0.15)
    A0 = [0.5 * a, -0.5 * a]
    A1 = [-0.5 * a, 0.5 * a]
    bg0 = 0.85 * (A0[0] + A0[1]) / 2 + 0.15 * a_rpc
    bg1 = 0.85 * (A1[0] + A1[1]) / 2 - 0.15 * a_rpc
    assert got[0].tolist() == pytest.approx([bg0, A0[0], A0[0], bg0, A0[1], A0[1], 0.0])
    assert got[1].tolist() == pytest.approx([bg1, A1[0], A1[0], bg1, bg1, bg1, bg1])  # bbox3d missing: no tokens


@given(data=st.data())
def test_char_to_token_spans_matches_oracle(backend, data):
    n = data.draw(st.integers(0, 4))
    F = data.draw(st.integers(1, 5))
    L = data.draw(st.integers(0, 10))
    offsets, char_spans, lengths = [], [], []
    for _ in range(n):
        widths = [data.draw(st.integers(0, 4)) for _ in range(L)]  # zero-width tokens too
        off = [0]
        for w in widths:
            off.append(off[-1] + w)
        offsets.append(off)
        total = off[-1] + 3
        row = []
        for _ in range(F):
            a, b = sorted((data.draw(st.integers(0, total)), data.draw(st.integers(0, total))))
            row.append([a, b] if data.draw(st.booleans()) else [b, a])  # some empty (start >= end)
        char_spans.append(row)
        lengths.append(data.draw(st.integers(0, L)))
    got = vr.char_to_token_spans(make(np.array(char_spans, dtype=np.int64).reshape(n, F, 2), backend, "float64"),
                                 make(np.array(offsets, dtype=np.int64).reshape(n, L + 1), backend, "float64"),
                                 make(np.array(lengths, dtype=np.int64), backend, "float64"))
    assert tuple(got.shape) == (n, F, 2)
    got = as_list(got)
    for i in range(n):
        assert got[i] == oracles.token_spans(char_spans[i], offsets[i], lengths[i])
        kept = sorted((s for s in got[i] if s[0] < s[1]))
        assert all(p[1] <= q[0] for p, q in zip(kept, kept[1:]))  # disjoint


def test_grpo_errors():
    r = np.zeros((4, 2))
    spans = np.zeros((4, 2, 2), dtype=np.int64)
    mask = np.ones((4, 3), dtype=bool)
    with pytest.raises(ValueError, match=r"routed_advantages: argument 'groups' = 3 must be >= 1 and divide the batch size 4"):
        vr.routed_advantages(r, spans, mask, 3)
    with pytest.raises(ValueError, match=r"argument 'groups' must start at 0, end at the batch size 4 and never decrease"):
        vr.routed_advantages(r, spans, mask, np.array([0, 3, 2, 4]))
    with pytest.raises(ValueError, match=r"argument 'field_rewards' has a NaN or infinite value"):
        vr.routed_advantages(np.array([[math.nan, 0]] * 4), spans, mask, 2)
    with pytest.raises(ValueError, match=r"argument 'token_spans' must have shape \[4, 2, 2\], got \[4, 1, 2\]"):
        vr.routed_advantages(r, spans[:, :1], mask, 2)
    with pytest.raises(TypeError, match=r"argument 'token_spans' must have an integer dtype, got float64"):
        vr.routed_advantages(r, spans.astype(float), mask, 2)
    with pytest.raises(ValueError, match=r"argument 'mask' must have shape \[4, L\], got \[3, 3\]"):
        vr.routed_advantages(r, spans, mask[:3], 2)
    with pytest.raises(ValueError, match=r"argument 'mode' must be 'routed' or 'broadcast', got 'sequence'"):
        vr.routed_advantages(r, spans, mask, 2, mode="sequence")
    with pytest.raises(ValueError, match=r"argument 'lam' must be a number in \[0, 1\], got 1.5"):
        vr.routed_advantages(r, spans, mask, 2, lam=1.5)
    with pytest.raises(ValueError, match=r"argument 'compat' must be None, 'trl' or 'verl', got 'openrlhf'"):
        vr.group_standardize(r, 2, compat="openrlhf")
    with pytest.raises(ValueError, match=r"argument 'eps' must be a finite number >= 0, got -1"):
        vr.group_standardize(r, 2, eps=-1)
    with pytest.raises(ValueError, match=r"argument 'rpc' must have shape \[4\], got \[3\]"):
        vr.routed_advantages(r, spans, mask, 2, rpc=np.zeros(3))
    with pytest.raises(ValueError, match=r"char_to_token_spans: argument 'lengths' must lie in \[0, 3\]"):
        vr.char_to_token_spans(spans, np.zeros((4, 4), dtype=np.int64), np.array([0, 1, 2, 4]))
    with pytest.raises(ValueError, match=r"argument 'token_offsets' must be non-decreasing along each row"):
        vr.char_to_token_spans(spans, np.array([[0, 2, 1, 3]] * 4), np.zeros(4, dtype=np.int64))


@given(data=grouped(F=3), lam=st.sampled_from([0.0, 0.15, 1.0]))
def test_routing_pre_standardized_advantages_equals_routing_rewards(data, lam):
    # standardized=True only routes: with the group statistics computed beforehand (as an adapter
    # does over all processes' rows) the result is the same as standardizing inside.
    ptr, rows = data
    n, L = len(rows), 7
    r = np.array(rows)
    rng = np.random.default_rng(n)
    rpc = rng.uniform(0, 1, n)
    spans = np.sort(rng.integers(0, L + 1, size=(n, 3, 2)), axis=2)
    mask = rng.uniform(size=(n, L)) < 0.8
    want = vr.routed_advantages(r, spans, mask, np.array(ptr), rpc=rpc, lam=lam)
    A, A_rpc = vr.group_standardize(r, np.array(ptr)), vr.group_standardize(rpc, np.array(ptr))
    got = vr.routed_advantages(A, spans, mask, 1, rpc=A_rpc, lam=lam, standardized=True)
    np.testing.assert_array_equal(got, want)
    seq = vr.routed_advantages(A, spans, mask, 1, rpc=A_rpc, lam=lam, standardized=True, mode="broadcast")
    np.testing.assert_allclose(seq, np.where(mask, ((1 - lam) * A.mean(1) + lam * A_rpc)[:, None], 0.0), rtol=1e-12, atol=1e-15)
