"""The GRCA pipeline as one call: decoded completions and their token ids → per-token advantages
(GRCA paper §3.2–3.4: parse, align, reward, route; GRCA Eq. 9, GRCA Eq. 10, GRCA Eq. 14).

:func:`grca_advantages` is what a trainer calls. Its CPU stage — parse every completion, the
tokens' character offsets, each field's token span — is one call into the compiled module
(``csrc/pipeline/``), which reads each completion once. The rewards are computed on the ground
truth's device; only the rewards, RPC and token spans then go to the device of ``token_ids``,
where one kernel standardizes per group and routes (:func:`verireward.routed_advantages`).

The GRCA reference trainer, the TRL and verl adapters and the benchmark all call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np

from verireward._native import _C
from verireward._backend import is_tensor, to_numpy
from verireward.ops.grpo import (Distributed, Standardization, char_to_token_spans, group_standardize, option_groups,
                                 routed_advantages)
from verireward.parsing.fields import ParseBuffers, encode_texts, row_frames
from verireward.parsing.schema import Schema
from verireward.parsing.tokens import TokenRows, native_offsets, piece_table
from verireward.rewards.grounding import GroundingVerifier, VerifierOutput

GRCA_MODES = ("broadcast", "routed", "routed_rpc")  # the one spelling: this function, both trainers, TRL


def grca_mode(op: str, mode: Any, use_rpc: Optional[bool] = None) -> Tuple[str, bool]:
    """The one reading of a GRCA mode, as ``(routing, use_rpc)`` for :func:`routed_advantages`:
    ``"broadcast"`` (GRPO: every token the standardized sequence reward, no RPC), ``"routed"``
    (each field's advantage on its tokens, no RPC) and ``"routed_rpc"`` (routed, RPC in the
    background, GRCA Eq. 14). ``use_rpc``, the older spelling, decides RPC when given."""
    if not isinstance(mode, str) or mode not in GRCA_MODES:
        raise ValueError(f"{op}: argument 'mode' must be one of {', '.join(map(repr, GRCA_MODES))}, got {mode!r}")
    if use_rpc is not None and not isinstance(use_rpc, bool):
        raise TypeError(f"{op}: argument 'use_rpc' must be a bool or None, got {type(use_rpc).__name__}")
    routing = "broadcast" if mode == "broadcast" else "routed"
    return routing, (mode == "routed_rpc") if use_rpc is None else use_rpc


@dataclass
class GRCAResult:
    """What :func:`grca_advantages` computed.

    ``advantages [N, L]`` (on the device of ``token_ids``, the dtype of the rewards); ``rewards
    [N, G]`` per reward field (``reward_fields``) and ``rpc [N]`` (or None), on the ground truth's
    device; ``valid [N, F]`` parse validity of every schema field; ``token_spans [N, G, 2]`` of the
    reward fields (on the device of ``token_ids``, for logging); ``verified``: the full
    :class:`verireward.VerifierOutput` (None when the rewards were given)."""

    advantages: Any
    rewards: Any
    rpc: Optional[Any]
    valid: Optional[Any]
    token_spans: Any
    reward_fields: Tuple[str, ...]
    verified: Optional[VerifierOutput]


@dataclass
class Verified:
    """Field rewards computed elsewhere (verl's ``compute_score`` runs per sample in its reward
    workers): ``rewards [N, G]``, ``char_spans [N, G, 2]`` (Python ``str`` indices of each reward
    field's value in the completion) and ``rpc [N]`` or None."""

    rewards: Any
    char_spans: Any
    rpc: Optional[Any] = None


def grca_advantages(texts: Optional[Sequence[str]], token_ids: Any, mask: Any, gt: Optional[Dict[str, Any]], groups: Any, *,
                    tokenizer: Any, schema: Optional[Schema] = None, camera: Optional[Tuple[Any, Any, Any]] = None,
                    image_size: Any = None, lam: float = 0.15, mode: str = "routed_rpc", use_rpc: Optional[bool] = None,
                    eps: float = 1e-6, compat: Optional[str] = None, scale: str = "group",
                    skip_special_tokens: bool = True, gather: Optional[Callable[[Any], Any]] = None,
                    process_index: int = 0, verified: Optional[Verified] = None,
                    answer_tag: Optional[str] = None, resized_size: Any = None,
                    standardization: Optional[Standardization] = None,
                    distributed: Optional[Distributed] = None) -> GRCAResult:
    """Per-token GRCA advantages for a batch of completions, in one call.

    For each completion: its fields are parsed (§3.2, §3.7), rewarded against the ground truth
    (IoU, keypoint containment; RPC, GRCA Eq. 13, when ``camera`` is given), and aligned to the tokens
    that wrote them (§3.3). Per group, each field's reward is standardized (GRCA Eq. 9) and routed
    to its tokens (GRCA Eq. 10); every other generated token gets the background advantage
    ``(1 − λ)·mean_f Ã_f + λ·Ã_rpc`` (GRCA Eq. 14). ``mode="broadcast"`` gives every token the
    standardized sequence reward instead (GRPO); ``mode="routed"`` routes without RPC.

    Args:
        texts: N decoded completions (the text of ``token_ids`` inside ``mask``; checked). May be
            None with ``verified``: the ids are then decoded.
        token_ids: ``[N, L]`` generated token ids (torch or numpy), right-padded.
        mask: ``[N, L]`` response mask.
        gt: ground truth for :class:`verireward.GroundingVerifier` (``bbox2d``, ``bbox3d``); None
            with ``verified``.
        groups: int G (rows g·G … g·G+G−1 share a prompt) or ``group_ptr [B+1]``; with ``gather``,
            the groups of the gathered batch.
        tokenizer: the tokenizer that produced the ids (``tokenizers`` or ``transformers``).
        schema: how completions are read (default :meth:`verireward.Schema.default`).
        camera, image_size, resized_size: as in :class:`verireward.GroundingVerifier` (RPC; with
            ``resized_size``, per-image frames for the schema's pixels-frame fields).
        lam: λ, the RPC weight in the background (the paper's 0.15); unused without RPC.
        mode: ``"routed_rpc"`` (default), ``"routed"`` or ``"broadcast"`` (:data:`GRCA_MODES`, the
            spelling of the trainers too). RPC needs ``camera``; without it the verifier has no
            RPC and nothing is mixed in.
        use_rpc: the older spelling, kept working: when given, it decides whether RPC shapes the
            advantages and ``mode`` only the routing (``mode="routed", use_rpc=True`` is
            ``"routed_rpc"``). RPC is computed, for logging, whenever ``camera`` is given.
        eps, compat, scale: as in :func:`verireward.group_standardize` (``compat="trl"``,
            ``"verl"``; ``scale="group"``, ``"batch"``, ``"none"``).
        skip_special_tokens: passed to the tokenizer's decode.
        gather: for groups split over processes: a function returning the concatenation, in
            process order, of a tensor's rows from every process (``accelerator.gather``). The
            rewards are standardized over the gathered batch; this process's rows are
            ``[process_index · N, (process_index + 1) · N)``.
        process_index: this process's place in ``gather``'s order.
        verified: field rewards computed elsewhere (:class:`Verified`); then ``gt``, ``schema``,
            ``camera`` and ``image_size`` are unused.
        answer_tag: read only the final ``<answer_tag>…</answer_tag>`` (see
            :func:`verireward.parse`); its fields' tokens are routed as usual, everything else
            (the thinking) gets the background advantage.
        standardization, distributed: the option groups :class:`verireward.Standardization`
            ``(eps, compat, scale)`` and :class:`verireward.Distributed` ``(gather,
            process_index)``, in place of those keywords (give one spelling, not both).

    Returns:
        :class:`GRCAResult`.

    Example:
        >>> out = vr.grca_advantages(texts, ids, mask, {"bbox2d": b2, "bbox3d": b3}, 8, tokenizer=tok,
        ...                          camera=(K, R, t), image_size=(512, 512))
        >>> loss = vr.grca_loss(logp, old_logp, out.advantages, mask)
    """
    op = "grca_advantages"
    eps, compat, scale, gather, process_index = option_groups(op, standardization, distributed, eps, compat, scale,
                                                              gather, process_index)
    mode, use_rpc = grca_mode(op, mode, use_rpc)
    if verified is None:
        if gt is None:
            raise ValueError(f"{op}: argument 'gt' is required (or pass verified= rewards computed elsewhere)")
        rows = TokenRows.checked(op, tokenizer, token_ids, mask, texts, skip_special_tokens)  # texts checked there
        verifier = GroundingVerifier(schema, answer_tag=answer_tag)
        frames = row_frames(op, verifier.schema, rows.n, image_size, resized_size) if resized_size is not None else None
        out, token_spans = _cpu_stage(rows, verifier.schema, verifier.answer_tag, frames)
        ver = verifier.score_parsed(out, gt, camera=camera, image_size=image_size, resized_size=resized_size)
        geo = list(ver.reward_columns)
        rewards, rpc, valid, fields = ver.rewards, ver.rpc, ver.valid, ver.reward_fields
        token_spans = token_spans[:, geo]
    else:
        rows = TokenRows.checked(op, tokenizer, token_ids, mask, texts, skip_special_tokens)
        rewards, rpc, ver, valid = verified.rewards, verified.rpc, None, None
        fields = tuple(f"field{j}" for j in range(int(rewards.shape[1])))
        token_spans = _aligned_spans(rows, verified.char_spans)
    device = token_ids.device if is_tensor(token_ids) else None
    adv, spans_dev = _route(rewards, rpc, token_spans, mask, groups, device, lam=lam, mode=mode, use_rpc=use_rpc,
                            eps=eps, compat=compat, scale=scale, gather=gather, process_index=process_index)
    return GRCAResult(adv, rewards, rpc, valid, spans_dev, tuple(fields), ver)


def _cpu_stage(rows: TokenRows, schema: Schema, answer_tag: str = "", frames: Any = None):
    """One native call: parse (with per-row ``frames``, :func:`verireward.parsing.fields.row_frames`, or None), token offsets from the
    piece table, token spans of every field; then the rows the table did not rebuild, the decode
    way. Returns (ParsedBatch, spans [N, F, 2])."""
    n, L, F = rows.n, rows.L, len(schema.fields)
    buffers = ParseBuffers(schema, n, frames)
    offsets = np.zeros((n, L + 1), dtype=np.int64)
    done = np.zeros(n, dtype=np.uint8)
    token_spans = np.zeros((n, F, 2), dtype=np.int64)
    table = piece_table(rows.tokenizer, rows.skip) if n else None
    blob, table_offsets, exact = table if table is not None else (None, None, False)
    mask8 = rows.keep.view(np.uint8)
    _C.grca_cpu_stage(encode_texts(rows.fulls), buffers.specs, buffers.valid.ctypes.data, buffers.spans.ctypes.data,
                      0 if blob is None else blob.ctypes.data, 0 if blob is None else table_offsets.ctypes.data,
                      0 if blob is None else (table_offsets.shape[0] - 1) // 2, rows.ids.ctypes.data, mask8.ctypes.data,
                      L, offsets.ctypes.data, done.ctypes.data, token_spans.ctypes.data, answer_tag)
    rows.check_texts(done, exact)
    todo = rows.fill_remaining(offsets, done)
    if len(todo):  # the rows the piece table did not rebuild: their token spans from their offsets
        token_spans[todo] = char_to_token_spans(buffers.spans[todo], offsets[todo], rows.keep[todo].sum(1))
    import torch

    return buffers.batch(rows.fulls, "torch", lazy_texts=True), torch.from_numpy(token_spans)


def _aligned_spans(rows: TokenRows, char_spans: Any):
    """Token spans of character spans computed elsewhere (``verified``)."""
    import torch

    out, done, exact = native_offsets(rows.tokenizer, rows.ids, rows.keep, rows.fulls, rows.skip)
    rows.check_texts(done, exact)
    rows.fill_remaining(out, done)
    cs = np.asarray(to_numpy(char_spans), dtype=np.int64)
    if cs.ndim != 3 or cs.shape[0] != rows.n or cs.shape[2] != 2:
        raise ValueError(f"grca_advantages: verified.char_spans must have shape [{rows.n}, G, 2], got {list(cs.shape)}")
    return torch.from_numpy(char_to_token_spans(cs, out, rows.keep.sum(1)))


def _route(rewards: Any, rpc: Optional[Any], token_spans: Any, mask: Any, groups: Any, device: Any, *, lam: float,
           mode: str, use_rpc: bool, eps: float, compat: Optional[str], scale: str,
           gather: Optional[Callable[[Any], Any]], process_index: int):
    """The device stage: rewards, RPC and token spans move to `device`, where one kernel routes."""
    import torch

    to = (lambda x: x.to(device)) if device is not None else (lambda x: x)
    r = to(torch.as_tensor(rewards))
    q = to(torch.as_tensor(rpc)) if (rpc is not None and use_rpc) else None
    spans = to(token_spans)
    m = to(torch.as_tensor(mask))
    if gather is None:
        adv = routed_advantages(r, spans, m, groups, rpc=q, lam=lam, eps=eps, mode=mode, compat=compat, scale=scale)
        return adv, spans
    n = r.shape[0]
    rows = slice(process_index * n, (process_index + 1) * n)
    if mode == "broadcast":  # the sequence reward, standardized over the gathered batch
        seq = r.double().mean(1) if q is None else (1 - lam) * r.double().mean(1) + lam * q.double()
        A = group_standardize(gather(seq), groups, eps, compat=compat, scale=scale)[rows]
        adv = routed_advantages(A[:, None].to(r.dtype), spans[:, :1], m, 1, mode="broadcast", standardized=True)
        return adv, spans
    A = group_standardize(gather(r.double()), groups, eps, compat=compat, scale=scale)[rows]
    A_rpc = group_standardize(gather(q.double()), groups, eps, compat=compat, scale=scale)[rows] if q is not None else None
    adv = routed_advantages(A.to(r.dtype), spans, m, 1, rpc=None if A_rpc is None else A_rpc.to(r.dtype), lam=lam,
                            standardized=True)
    return adv, spans


__all__ = ["grca_advantages", "GRCAResult", "Verified", "GRCA_MODES"]
