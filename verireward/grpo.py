"""Group-relative advantages with per-field credit (GRCA paper Eq. 9, 10, 14) and the alignment of
character spans to token spans.

Groups are contiguous rows: ``groups`` is an int G (rows g·G … g·G+G−1 share a prompt, TRL's
layout) or a CSR pointer ``group_ptr [B+1]`` for groups of different sizes (verl's uid layout once
sorted). Statistics are accumulated in float64 in C++/CUDA kernels; inputs and outputs are torch
tensors (CPU or CUDA) or numpy arrays.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from verireward import _C
from verireward._backend import Call, check_number, data_ptr, numel

Array = Any
Groups = Union[int, Array]

# compat presets: (eps, std_floor, singleton_identity). TRL's GRPOTrainer divides by std + 1e-4;
# verl's GRPO estimator by std + 1e-6 and treats a group of one as mean 0, std 1.
_COMPAT = {"trl": (1e-4, 0.0, False), "verl": (1e-6, 0.0, True)}


def _std_settings(eps: float, std_floor: float, unbiased: bool, singleton_identity: bool) -> Any:
    st = _C.StdSettings()
    st.eps, st.std_floor, st.unbiased, st.singleton_identity = eps, std_floor, bool(unbiased), singleton_identity
    return st


def _settings(call: Call, eps: float, std_floor: float, compat: Optional[str]):
    if compat is not None:
        if compat not in _COMPAT:
            raise call.value_error(f"argument 'compat' must be None, 'trl' or 'verl', got {compat!r}")
        return _COMPAT[compat]
    finite_nonneg = lambda v: 0.0 <= v < float("inf")
    eps = check_number(call.op, eps, "eps", finite_nonneg, "a finite number >= 0")
    std_floor = check_number(call.op, std_floor, "std_floor", finite_nonneg, "a finite number >= 0")
    return eps, std_floor, False


def group_standardize(rewards: Array, groups: Groups, eps: float = 1e-6, *, unbiased: bool = True,
                      std_floor: float = 1e-6, compat: Optional[str] = None) -> Array:
    """Group-relative standardization (GRPO; GRCA Eq. 9), per column.

    ``A_i = (r_i − μ_g) / (σ_g + eps)`` with μ_g, σ_g the mean and standard deviation (unbiased
    by default) of the column over the rows of i's group, accumulated in float64.

    Rules: a group whose values are equal up to rounding — ``σ ≤ std_floor · max_i |r_i|`` —
    gets 0 (float32 residue never becomes huge advantages; ``std_floor=0`` disables it). A group of
    one row gets 0. ``compat="trl"`` reproduces TRL's GRPO (``σ + 1e-4``, no floor) and
    ``compat="verl"`` verl's (``σ + 1e-6``, no floor, a group of one gives ``r / (1 + 1e-6)``).

    Args:
        rewards: ``[N]`` or ``[N, F]`` finite floats.
        groups: int G dividing N, or ``group_ptr [B+1]`` integers (0 … N, non-decreasing).

    Returns:
        The same shape, kind, dtype and device as ``rewards``.
    """
    call = Call("group_standardize")
    rewards = call.floats(rewards, "rewards")
    call.shape(rewards, "rewards", "[N] or [N, F]", rewards.ndim in (1, 2))
    call.finite(rewards, "rewards")
    eps, std_floor, singleton = _settings(call, eps, std_floor, compat)
    flat = rewards.ndim == 1
    r = call.contiguous(rewards.reshape(-1, 1) if flat else rewards)
    ptr = call.group_ptr(groups, r.shape[0])
    out = _group_kernel(call, r, ptr, _std_settings(eps, std_floor, unbiased, singleton))
    return out.reshape(-1) if flat else out


def _group_kernel(call: Call, r: Array, ptr: Array, st: Any, absolute: Optional[Array] = None, alpha: float = 1.0,
                  clip: float = float("inf")) -> Array:
    """The group-statistics kernel on contiguous r [n, F] (and absolute [n, F] for AP-GRPO)."""
    out = call.empty(r.shape)
    args = _C.GroupArgs()
    args.dtype, args.device = call.dtype_code, call.device()
    args.n, args.F, args.num_groups = r.shape[0], r.shape[1], ptr.shape[0] - 1
    args.rewards, args.group_ptr, args.out = data_ptr(r), data_ptr(ptr), data_ptr(out)
    args.st = st
    if absolute is not None:
        args.absolute, args.alpha, args.clip = data_ptr(absolute), float(alpha), float(clip)
    _C.group_standardize(args)
    return out


def ap_grpo_advantages(rewards: Array, abs_rewards: Array, groups: Groups, alpha: float = 1.0,
                       clip: Optional[float] = 1.5, eps: float = 1e-6, *, unbiased: bool = True,
                       std_floor: float = 1e-6, compat: Optional[str] = None) -> Array:
    """Absolute-Preserving GRPO advantages (Smooth Operator paper Eq. 8), one kernel.

    ``A'_i = clip( (R_i − μ_g)/(σ_g + eps) · r̃_i^α, −c, c )``: the group-relative term of the total
    reward ``R`` (standardized exactly as :func:`group_standardize`, same floor and compat switches)
    times the absolute term ``r̃^α``, with ``r̃`` the SNRA reward (:func:`verireward.snra`, not the
    composite, per the paper; any reward in [0, 1] works). ``alpha = 0`` gives GRPO exactly
    (``r̃^0 = 1``, also for ``r̃ = 0``). The symmetric clip ``c`` (the paper's 1.5) bounds the
    product; ``clip=None`` disables it.

    Args:
        rewards: ``[N]`` or ``[N, F]`` finite total rewards ``R`` (e.g. :func:`verireward.composite_reward`).
        abs_rewards: the same shape, values in [0, 1].
        groups: int G dividing N, or ``group_ptr [B+1]``.
        alpha: α >= 0 (the paper's 1).
        clip: c > 0, or None.
        eps, unbiased, std_floor, compat: as in :func:`group_standardize`.

    Returns:
        Per-sequence advantages, the shape, kind, dtype and device of ``rewards``; broadcast them over
        tokens (``A[:, None] * mask``) or pass them to :func:`verireward.ap_grpo_loss`.
    """
    call = Call("ap_grpo_advantages")
    r = call.floats(rewards, "rewards")
    call.shape(r, "rewards", "[N] or [N, F]", r.ndim in (1, 2))
    a = call.floats(abs_rewards, "abs_rewards")
    call.shape(a, "abs_rewards", f"[{', '.join(map(str, r.shape))}] (the shape of 'rewards')", tuple(a.shape) == tuple(r.shape))
    call.finite(r, "rewards")
    if numel(a):
        lo, hi = (a.min(), a.max()) if call.kind == "numpy" else a.aminmax()  # NaN propagates into both
        if not (float(lo) >= 0.0 and float(hi) <= 1.0):
            raise call.value_error("argument 'abs_rewards' must lie in [0, 1] (the SNRA reward r̃); got a value outside")
    alpha = check_number(call.op, alpha, "alpha", lambda v: 0.0 <= v < float("inf"), "a finite number >= 0")
    if clip is None:
        clip = float("inf")
    else:
        clip = check_number(call.op, clip, "clip", lambda v: 0.0 < v < float("inf"), "a finite number > 0, or None")
    eps, std_floor, singleton = _settings(call, eps, std_floor, compat)
    flat = r.ndim == 1
    r2 = call.contiguous(r.reshape(-1, 1) if flat else r)
    a2 = call.contiguous(a.reshape(-1, 1) if flat else a)
    ptr = call.group_ptr(groups, r2.shape[0])
    out = _group_kernel(call, r2, ptr, _std_settings(eps, std_floor, unbiased, singleton), a2, alpha, clip)
    return out.reshape(-1) if flat else out


def routed_advantages(field_rewards: Array, token_spans: Array, mask: Array, groups: Groups,
                      rpc: Optional[Array] = None, lam: float = 0.15, eps: float = 1e-6, *,
                      mode: str = "routed", unbiased: bool = True, std_floor: float = 1e-6,
                      compat: Optional[str] = None, standardized: bool = False) -> Array:
    """Per-token advantages with each field's credit routed to the tokens that wrote it (GRCA).

    ``routed`` (Eq. 10, 14): field rewards are standardized per group and field (Eq. 9, see
    :func:`group_standardize`); a token inside field f's span gets ``Ã_f``; every other token
    inside the mask gets ``Ã_bg = (1 − λ)·mean_f Ã_f + λ·Ã_rpc`` (λ = 0 without ``rpc``); padding
    gets 0. A field with an empty span (missing or malformed, §3.7) reaches no token.
    ``broadcast`` (the GRPO baseline): the sequence reward ``mean_f r_f`` (with ``rpc``:
    ``(1 − λ)·mean_f r_f + λ·r_rpc``) is standardized and given to every token inside the mask. With
    one field whose span covers the response, both modes agree.

    Args:
        field_rewards: ``[N, F]`` finite floats, F >= 1.
        token_spans: ``[N, F, 2]`` integer token spans ``[start, end)`` (``(0, 0)`` when empty),
            e.g. from :func:`char_to_token_spans`. A token in two spans goes to the first field.
        mask: ``[N, L]`` response mask (bool or numeric; nonzero = generated token).
        groups: int G dividing N, or ``group_ptr [B+1]``.
        rpc: optional ``[N]`` reprojection-consistency rewards (:func:`verireward.rpc`).
        lam: the RPC weight λ in [0, 1] (the paper's 0.15).
        eps, unbiased, std_floor, compat: as in :func:`group_standardize`.
        mode: ``"routed"`` or ``"broadcast"``.
        standardized: ``field_rewards`` (and ``rpc``) are advantages already, standardized
            elsewhere (e.g. by :func:`group_standardize` over all processes' rows when a group spans
            processes); only the routing and the background mix are done. ``groups`` is then
            unused (pass 1), and in broadcast mode the given sequence value is ``mean_f`` of them
            (mixed with ``rpc`` as usual).

    Returns:
        ``[N, L]`` advantages, the dtype, kind and device of ``field_rewards``.
    """
    call = Call("routed_advantages")
    fr = call.floats(field_rewards, "field_rewards")
    call.shape(fr, "field_rewards", "[N, F] with F >= 1", fr.ndim == 2 and fr.shape[1] >= 1)
    n, nf = fr.shape
    spans = call.ints(token_spans, "token_spans")
    call.shape(spans, "token_spans", f"[{n}, {nf}, 2]", tuple(spans.shape) == (n, nf, 2))
    m = call.mask(mask, "mask")
    call.shape(m, "mask", f"[{n}, L]", m.ndim == 2 and m.shape[0] == n)
    if mode not in ("routed", "broadcast"):
        raise call.value_error(f"argument 'mode' must be 'routed' or 'broadcast', got {mode!r}")
    lam = check_number(call.op, lam, "lam", lambda v: 0.0 <= v <= 1.0, "a number in [0, 1]")
    eps, std_floor, singleton = _settings(call, eps, std_floor, compat)
    call.finite(fr, "field_rewards")
    fr = call.contiguous(fr)
    r_rpc = None
    if rpc is not None:
        r_rpc = call.floats(rpc, "rpc")
        call.shape(r_rpc, "rpc", f"[{n}]", tuple(r_rpc.shape) == (n,))
        call.finite(r_rpc, "rpc")
        r_rpc = call.contiguous(r_rpc)
    ptr = call.group_ptr(groups, n)
    L = m.shape[1]
    out = call.empty((n, L))
    args = _C.RouteArgs()  # one kernel: group statistics, background and routing
    args.dtype, args.device, args.n, args.F, args.L, args.num_groups = call.dtype_code, call.device(), n, nf, L, ptr.shape[0] - 1
    args.rewards, args.spans, args.mask, args.group_ptr, args.out = data_ptr(fr), data_ptr(spans), data_ptr(m), data_ptr(ptr), data_ptr(out)
    if r_rpc is not None:
        args.rpc, args.lam = data_ptr(r_rpc), float(lam)
    args.broadcast = mode == "broadcast"
    args.st = _std_settings(eps, std_floor, unbiased, singleton)
    args.st.given = bool(standardized)
    _C.routed_advantages(args)
    return out


def char_to_token_spans(char_spans: Array, token_offsets: Array, lengths: Array) -> Array:
    """Token span of each field from its character span (the alignment step of GRCA §3.3).

    Token t of row i covers characters ``[token_offsets[i, t], token_offsets[i, t+1])``. A token
    belongs to a field when that range overlaps the field's ``[start, end)``; the field's token
    span runs from its first to its last overlapping token among the first ``lengths[i]`` tokens.
    An empty character span or no overlapping token gives ``(0, 0)``. Spans are then made disjoint
    in text order: a token shared with the field before it stays with that earlier field, and a
    field left without tokens gets ``(0, 0)``.

    Args:
        char_spans: ``[N, F, 2]`` integers (``ParsedBatch.char_spans``).
        token_offsets: ``[N, L+1]`` integers, non-decreasing per row (``token_char_offsets``).
        lengths: ``[N]`` integers in ``[0, L]``: generated tokens per row.

    Returns:
        ``[N, F, 2]`` int64, the same kind and device.
    """
    call = Call("char_to_token_spans")
    cs = call.ints(char_spans, "char_spans")
    call.shape(cs, "char_spans", "[N, F, 2]", cs.ndim == 3 and cs.shape[2] == 2)
    n, nf = cs.shape[0], cs.shape[1]
    off = call.ints(token_offsets, "token_offsets")
    call.shape(off, "token_offsets", f"[{n}, L + 1]", off.ndim == 2 and off.shape[0] == n and off.shape[1] >= 1)
    L = off.shape[1] - 1
    ln = call.ints(lengths, "lengths")
    call.shape(ln, "lengths", f"[{n}]", tuple(ln.shape) == (n,))
    call.int_range(ln, "lengths", L, "L = token_offsets.shape[1] - 1")
    if n > 0 and L > 0 and not bool((off[:, 1:] >= off[:, :-1]).all()):
        raise call.value_error("argument 'token_offsets' must be non-decreasing along each row")
    out = np.zeros((n, nf, 2), dtype=np.int64) if call.kind == "numpy" else off.new_zeros((n, nf, 2))
    args = _C.SpanArgs()
    args.device = call.device()
    args.n, args.F, args.L = n, nf, L
    args.char_spans, args.offsets, args.lengths, args.out = data_ptr(cs), data_ptr(off), data_ptr(ln), data_ptr(out)
    _C.char_to_token_spans(args)
    return out


__all__ = ["group_standardize", "ap_grpo_advantages", "routed_advantages", "char_to_token_spans"]
