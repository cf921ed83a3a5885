"""Group-relative advantages with per-field credit (GRCA Eq. 9, GRCA Eq. 10, GRCA Eq. 14) and the alignment of
character spans to token spans.

Groups are contiguous rows: ``groups`` is an int G (rows g·G … g·G+G−1 share a prompt, TRL's
layout) or a CSR pointer ``group_ptr [B+1]`` for groups of different sizes (verl's uid layout once
sorted). Statistics are accumulated in float64 in C++/CUDA kernels; inputs and outputs are torch
tensors (CPU or CUDA) or numpy arrays.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from typing import Any, Callable, Optional, Tuple, Union

import numpy as np

from verireward._native import _C
from verireward._backend import Call, check_number, data_ptr, numel, torch_module

Array = Any
Groups = Union[int, Array]

SCALES = ("group", "batch", "none")
_SCALE_CODE = {"group": 0, "batch": 1, "none": 2}


@dataclass(frozen=True)
class Standardization:
    """How rewards are standardized per group (GRCA Eq. 9), the keyword group ``(eps, compat,
    scale)`` that recurs across the advantage functions: ``eps`` is added to the group's standard
    deviation; ``compat`` is None, ``"trl"`` (TRL's ``std + 1e-4``, NaN rewards left out) or
    ``"verl"`` (verl's float32 singleton rule); ``scale`` is ``"group"``, ``"batch"`` or
    ``"none"`` (TRL's ``scale_rewards``). :func:`group_standardize` documents each."""

    eps: float = 1e-6
    compat: Optional[str] = None
    scale: str = "group"


@dataclass(frozen=True)
class Distributed:
    """Groups split over processes, the keyword group ``(gather, process_index)``: ``gather``
    returns the concatenation, in process order, of a tensor's rows from every process (e.g.
    ``accelerator.gather``); this process's rows are ``[process_index · N, (process_index + 1) · N)``
    of the gathered batch, which is standardized whole."""

    gather: Optional[Callable[[Any], Any]] = None
    process_index: int = 0


def option_groups(op: str, standardization: Any, distributed: Any, eps: float, compat: Optional[str], scale: str,
                  gather: Any, process_index: int) -> Tuple[float, Optional[str], str, Any, int]:
    """``(eps, compat, scale, gather, process_index)`` from a function's option groups or from its
    separate keywords (the older spelling, kept); a group and a keyword of it given together is a
    ``ValueError`` naming both."""
    if standardization is not None:
        if not isinstance(standardization, Standardization):
            raise TypeError(f"{op}: argument 'standardization' must be a verireward.Standardization, "
                            f"got {type(standardization).__name__}")
        if (eps, compat, scale) != astuple(Standardization()):  # a keyword moved off its default
            raise ValueError(f"{op}: pass either 'standardization' or 'eps'/'compat'/'scale', not both")
        eps, compat, scale = standardization.eps, standardization.compat, standardization.scale
    if distributed is not None:
        if not isinstance(distributed, Distributed):
            raise TypeError(f"{op}: argument 'distributed' must be a verireward.Distributed, got {type(distributed).__name__}")
        if (gather, process_index) != astuple(Distributed()):
            raise ValueError(f"{op}: pass either 'distributed' or 'gather'/'process_index', not both")
        gather, process_index = distributed.gather, distributed.process_index
    return eps, compat, scale, gather, process_index


# verl computes in float32: a group of one is divided by float32(1.0) + 1e-6, rounded to float32
_VERL_SINGLETON_DIV = float(np.float32(1.0) + np.float32(1e-6))


def _settings(call: Call, eps: float, std_floor: float, unbiased: bool, compat: Optional[str], scale: str) -> Any:
    """The kernel's StdSettings for these public arguments.

    compat presets: TRL's GRPOTrainer divides by ``std + 1e-4`` and leaves NaN rewards (a reward
    function returning None) out of the statistics, with advantage 0; verl's GRPO estimator divides
    by ``std + 1e-6`` and treats a group of one as mean 0, std 1 (in float32)."""
    if compat is not None and compat not in ("trl", "verl"):
        raise call.value_error(f"argument 'compat' must be None, 'trl' or 'verl', got {compat!r}")
    if scale not in SCALES:
        raise call.value_error(f"argument 'scale' must be one of {', '.join(map(repr, SCALES))}, got {scale!r}")
    st = _C.StdSettings()
    if compat == "trl":
        st.eps, st.std_floor, st.skip_nan = 1e-4, 0.0, True
    elif compat == "verl":
        st.eps, st.std_floor, st.singleton_identity, st.singleton_div = 1e-6, 0.0, True, _VERL_SINGLETON_DIV
    else:
        finite_nonneg = lambda v: 0.0 <= v < float("inf")
        st.eps = check_number(call.op, eps, "eps", finite_nonneg, "a finite number >= 0")
        st.std_floor = check_number(call.op, std_floor, "std_floor", finite_nonneg, "a finite number >= 0")
    st.unbiased, st.scale = bool(unbiased), _SCALE_CODE[scale]
    return st


def _check_rewards(call: Call, x: Array, name: str, st: Any) -> None:
    """Rewards must be finite; under compat="trl" a NaN marks an unscorable row (TRL's None)."""
    if not st.skip_nan:
        call.finite(x, name)
        return
    if isinstance(x, np.ndarray):
        bad = bool(np.isinf(x).any())
    else:
        bad = bool(torch_module().isinf(x).any()) if x.numel() else False
    if bad:
        raise call.value_error(f"argument '{name}' has an infinite value; rewards must be finite (NaN: unscorable)")


def group_standardize(rewards: Array, groups: Groups, eps: float = 1e-6, *, unbiased: bool = True,
                      std_floor: float = 1e-6, compat: Optional[str] = None, scale: str = "group") -> Array:
    """Group-relative standardization (GRPO; GRCA Eq. 9), per column.

    ``A_i = (r_i − μ_g) / (σ_g + eps)`` with μ_g, σ_g the mean and standard deviation (unbiased
    by default) of the column over the rows of i's group, accumulated in float64 on values scaled
    by a power of two (no finite input overflows: ``[1e308, 1e308]`` is a flat group, not NaN).

    Rules: a group whose values are all equal gets 0 under every setting (``eps=0`` included); so
    does one equal up to rounding — ``σ ≤ std_floor · max_i |r_i|`` — (float32 residue never
    becomes huge advantages; ``std_floor=0`` keeps only the exact rule). A group of one row gets 0.

    ``scale``: ``"group"`` (above), ``"batch"`` (``(r_i − μ_g) / (σ_batch + eps)``, σ over every
    row of the column: TRL's ``scale_rewards="batch"``) or ``"none"`` (``r_i − μ_g``: Dr.GRPO, TRL's
    ``"none"``, verl's ``norm_adv_by_std_in_grpo=False``).

    ``compat="trl"`` reproduces TRL's GRPO (``σ + 1e-4``, no floor; a NaN reward, TRL's None, is
    left out of its group's statistics and gets advantage 0). ``compat="verl"`` reproduces verl's
    (``σ + 1e-6``, no floor; a group of one gives ``r / float32(1 + 1e-6)``, or ``r`` under
    ``scale="none"``). Both are computed in float64; they equal the peers up to the peers' float32
    rounding.

    Args:
        rewards: ``[N]`` or ``[N, F]`` finite floats (NaN allowed under ``compat="trl"``).
        groups: int G dividing N, or ``group_ptr [B+1]`` integers (0 … N, non-decreasing).

    Returns:
        The same shape, kind, dtype and device as ``rewards``.
    """
    call = Call("group_standardize")
    rewards = call.floats(rewards, "rewards")
    call.shape(rewards, "rewards", "[N] or [N, F]", rewards.ndim in (1, 2))
    st = _settings(call, eps, std_floor, unbiased, compat, scale)
    _check_rewards(call, rewards, "rewards", st)
    flat = rewards.ndim == 1
    r = call.contiguous(rewards.reshape(-1, 1) if flat else rewards)
    ptr = call.group_ptr(groups, r.shape[0])
    out = _group_kernel(call, r, ptr, st)
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
    scratch = None
    if st.scale == _SCALE_CODE["batch"]:  # the kernel's per-column statistics over every row
        scratch = call.scratch_bytes(r.shape[1] * _C.GROUP_STATS_BYTES)
        args.batch_stats = data_ptr(scratch)
    _C.group_standardize(args)
    return out


def ap_grpo_advantages(rewards: Array, abs_rewards: Array, groups: Groups, alpha: float = 1.0,
                       clip: Optional[float] = 1.5, eps: float = 1e-6, *, unbiased: bool = True,
                       std_floor: float = 1e-6, compat: Optional[str] = None, scale: str = "group") -> Array:
    """Absolute-Preserving GRPO advantages (SmoothOp Eq. 8), one kernel.

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
        eps, unbiased, std_floor, compat, scale: as in :func:`group_standardize`.

    Returns:
        Per-sequence advantages, the shape, kind, dtype and device of ``rewards``; broadcast them over
        tokens (``A[:, None] * mask``) or pass them to :func:`verireward.ap_grpo_loss`.
    """
    call = Call("ap_grpo_advantages")
    r = call.floats(rewards, "rewards")
    call.shape(r, "rewards", "[N] or [N, F]", r.ndim in (1, 2))
    a = call.floats(abs_rewards, "abs_rewards")
    call.shape(a, "abs_rewards", f"[{', '.join(map(str, r.shape))}] (the shape of 'rewards')", tuple(a.shape) == tuple(r.shape))
    st = _settings(call, eps, std_floor, unbiased, compat, scale)
    _check_rewards(call, r, "rewards", st)
    if numel(a):
        lo, hi = (a.min(), a.max()) if call.kind == "numpy" else a.aminmax()  # NaN propagates into both
        if not (float(lo) >= 0.0 and float(hi) <= 1.0):
            raise call.value_error("argument 'abs_rewards' must lie in [0, 1] (the SNRA reward r̃); got a value outside")
    alpha = check_number(call.op, alpha, "alpha", lambda v: 0.0 <= v < float("inf"), "a finite number >= 0")
    if clip is None:
        clip = float("inf")
    else:
        clip = check_number(call.op, clip, "clip", lambda v: 0.0 < v < float("inf"), "a finite number > 0, or None")
    flat = r.ndim == 1
    r2 = call.contiguous(r.reshape(-1, 1) if flat else r)
    a2 = call.contiguous(a.reshape(-1, 1) if flat else a)
    ptr = call.group_ptr(groups, r2.shape[0])
    out = _group_kernel(call, r2, ptr, st, a2, alpha, clip)
    return out.reshape(-1) if flat else out


def routed_advantages(field_rewards: Array, token_spans: Array, mask: Array, groups: Groups,
                      rpc: Optional[Array] = None, lam: float = 0.15, eps: float = 1e-6, *,
                      mode: str = "routed", unbiased: bool = True, std_floor: float = 1e-6,
                      compat: Optional[str] = None, standardized: bool = False, scale: str = "group") -> Array:
    """Per-token advantages with each field's credit routed to the tokens that wrote it (GRCA).

    ``routed`` (GRCA Eq. 10, GRCA Eq. 14): field rewards are standardized per group and field (GRCA Eq. 9, see
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
        eps, unbiased, std_floor, compat, scale: as in :func:`group_standardize` (``"batch"``
            standardizes with the group kernel first, then routes).
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
    st = _settings(call, eps, std_floor, unbiased, compat, scale)
    if standardized:
        st.skip_nan = False  # given advantages are never unscorable rewards
    _check_rewards(call, fr, "field_rewards", st)
    fr = call.contiguous(fr)
    r_rpc = None
    if rpc is not None:
        r_rpc = call.floats(rpc, "rpc")
        call.shape(r_rpc, "rpc", f"[{n}]", tuple(r_rpc.shape) == (n,))
        _check_rewards(call, r_rpc, "rpc", st)
        r_rpc = call.contiguous(r_rpc)
    ptr = call.group_ptr(groups, n)
    if st.scale == _SCALE_CODE["batch"] and not standardized:
        # TRL's batch scale needs every row's statistics: standardize with the group kernel, then route
        if mode == "broadcast":
            seq = fr.mean(1) if r_rpc is None else (1 - lam) * fr.mean(1) + lam * r_rpc
            fr, r_rpc, nf = _group_kernel(call, call.contiguous(seq.reshape(-1, 1)), ptr, st), None, 1  # spans unread
        else:
            fr = _group_kernel(call, fr, ptr, st)
            if r_rpc is not None:
                r_rpc = _group_kernel(call, call.contiguous(r_rpc.reshape(-1, 1)), ptr, st).reshape(-1)
        standardized = True
    L = m.shape[1]
    out = call.empty((n, L))
    args = _C.RouteArgs()  # one kernel: group statistics, background and routing
    args.dtype, args.device, args.n, args.F, args.L, args.num_groups = call.dtype_code, call.device(), n, nf, L, ptr.shape[0] - 1
    args.rewards, args.spans, args.mask, args.group_ptr, args.out = data_ptr(fr), data_ptr(spans), data_ptr(m), data_ptr(ptr), data_ptr(out)
    if r_rpc is not None:
        args.rpc, args.lam = data_ptr(r_rpc), float(lam)
    args.broadcast = mode == "broadcast"
    st.given = bool(standardized)
    args.st = st
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
    call.check_output_size((n, nf, 2), 8)
    out = np.zeros((n, nf, 2), dtype=np.int64) if call.kind == "numpy" else off.new_zeros((n, nf, 2))
    args = _C.SpanArgs()
    args.device = call.device()
    args.n, args.F, args.L = n, nf, L
    args.char_spans, args.offsets, args.lengths, args.out = data_ptr(cs), data_ptr(off), data_ptr(ln), data_ptr(out)
    _C.char_to_token_spans(args)
    return out


__all__ = ["group_standardize", "ap_grpo_advantages", "routed_advantages", "char_to_token_spans"]
