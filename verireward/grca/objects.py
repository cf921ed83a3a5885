"""GRCA for answers with many objects: a one-to-one set reward per answer, standardized per group,
and (``per_object=True``) each predicted object's tokens credited from its own matched IoU.

The rule (decided here; verireward/SEMANTICS.md repeats it):

* ``R_i``: answer i's set reward (:func:`verireward.set_rewards`; ``soft_f1`` by default) and
  ``Â_i`` its group-standardized advantage (:func:`verireward.group_standardize`, GRCA Eq. 9).
* ``per_object=False``: the object list is one field with reward ``R_i`` (its span: the first
  object's start to the last object's end), routed as GRCA routes a field (GRCA Eq. 10): with one
  field, every response token gets ``Â_i``.
* ``per_object=True``: object j of answer i has reward ``u_ij``, its matched IoU
  (:func:`verireward.match_boxes`; 0 for a duplicate or a false positive). ``Ũ_ij`` standardizes
  ``u`` over all objects the group's answers wrote (pooled, same estimator and options as ``Â``).
  The object's tokens get ``A_ij = (Â_i + Ũ_ij) / 2``; every other response token of answer i
  (prose, brackets, thinking, objects past ``max_objects``) gets ``Â_i``. A group whose set rewards
  are all equal (``Â = 0`` throughout) gets 0 everywhere, its objects included.

Invariants (tested): a duplicate's tokens never get more than the original's (its ``u`` is 0, the
original's ≥ 0, within one answer ``Â_i`` is shared); a zero-variance group gives 0; with one
object per answer and one ground-truth box, ``u_i = R_i`` (soft F1 of one pair is its IoU), so
``Ũ = Â`` and every token gets exactly the field rule's ``Ã`` of the box's IoU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np

from verireward._backend import Call, is_tensor, to_numpy
from verireward.rewards.sets import score_answers
from verireward.ops.grpo import (Distributed, Standardization, char_to_token_spans, group_standardize, option_groups,
                                 routed_advantages)
from verireward.ops.match import SET_REWARDS
from verireward.parsing.tokens import token_char_offsets


@dataclass
class SetGRCAResult:
    """``advantages [N, L]`` (torch, on ``token_ids``' device, float32); ``rewards``: the
    :class:`verireward.SetRewards`; ``match``: the :class:`verireward.Match`; ``objects``: the
    :class:`verireward.ParsedObjects`; ``token_spans [N, M, 2]`` each stored object's tokens;
    ``object_advantages [N, M]`` float64 (``A_ij``, NaN past ``counts``; None without
    ``per_object``); ``set_advantages [N]`` float64 (``Â_i``)."""

    advantages: Any
    rewards: Any
    match: Any
    objects: Any
    token_spans: Any
    object_advantages: Optional[np.ndarray]
    set_advantages: np.ndarray


def grca_set_advantages(texts: Sequence[str], token_ids: Any, mask: Any, gt_boxes: Sequence[Any], groups: Any, *,
                        tokenizer: Any, schema: Any = None, gt_labels: Optional[Sequence[Sequence[Any]]] = None,
                        reward: str = "soft_f1", per_object: bool = False, threshold: float = 0.5,
                        box: Optional[str] = None, seq: Optional[str] = None, degrees: Optional[bool] = None,
                        max_objects: int = 64, answer_tag: Optional[str] = None, image_size: Any = None,
                        resized_size: Any = None, eps: float = 1e-6, compat: Optional[str] = None,
                        scale: str = "group", skip_special_tokens: bool = True,
                        gather: Optional[Callable[[Any], Any]] = None, process_index: int = 0,
                        standardization: Optional[Standardization] = None,
                        distributed: Optional[Distributed] = None) -> SetGRCAResult:
    """Per-token GRCA advantages for many-object answers (the rule: see :mod:`verireward.grca.objects`):
    the set reward standardized per group, ``Â_i = (R_i − μ_g) / (σ_g + eps)`` (GRCA Eq. 9), routed
    to tokens as a field is (GRCA Eq. 10); with ``per_object`` an object's tokens get
    ``(Â_i + Ũ_ij) / 2``. Returns ``advantages [N, L]``.

    Args:
        texts, token_ids, mask, tokenizer, skip_special_tokens: as in :func:`verireward.grca_advantages`.
        gt_boxes, gt_labels: per answer the ground-truth boxes ``[G_i, W]`` (G_i may be 0) and labels,
            as in :func:`verireward.answer_set_rewards`.
        groups: int G or ``group_ptr [B+1]``.
        schema: one object's fields (default :meth:`verireward.Schema.qwen3vl_2d`).
        reward: the set reward standardized: ``"soft_f1"``, ``"precision"``, ``"recall"`` or ``"f1"``.
        per_object: credit each object's tokens from its matched IoU (above).
        threshold: the IoU of a hit for precision/recall/F1.
        box, seq, degrees: the box kind (:func:`verireward.match_boxes`); None: from the schema's box field.
        max_objects, answer_tag, image_size, resized_size: as in :func:`verireward.parse_objects`.
        eps, compat, scale: as in :func:`verireward.group_standardize`.
        gather, process_index: for groups split over processes, as in
            :func:`verireward.grca_advantages`: the set rewards and object IoUs are gathered and
            standardized over the whole batch; this process's rows are returned.
        standardization, distributed: the option groups, in place of those keywords (as in
            :func:`verireward.grca_advantages`).
    """
    op = "grca_set_advantages"
    eps, compat, scale, gather, process_index = option_groups(op, standardization, distributed, eps, compat, scale,
                                                              gather, process_index)
    if reward not in SET_REWARDS:
        raise ValueError(f"{op}: argument 'reward' must be one of {', '.join(map(repr, SET_REWARDS))}, got {reward!r}")
    if not isinstance(per_object, bool):
        raise TypeError(f"{op}: argument 'per_object' must be a bool, got {type(per_object).__name__}")
    scored = score_answers(op, texts, gt_boxes, gt_labels, schema, box=box, seq=seq, degrees=degrees,
                           threshold=threshold, max_objects=max_objects, answer_tag=answer_tag,
                           image_size=image_size, resized_size=resized_size)
    objs, match, sets = scored.objects, scored.match, scored.rewards
    n = len(texts)
    M = objs.object_spans.shape[1]
    spans, m = _object_token_spans(objs.object_spans, tokenizer, token_ids, mask, texts, skip_special_tokens)
    R = np.asarray(getattr(sets, reward), dtype=np.float64)
    counts = np.asarray(objs.counts, dtype=np.int64)
    u = np.where(np.arange(M)[None, :] < counts[:, None], np.asarray(match.iou, dtype=np.float64), np.nan)
    rows = slice(0, n)
    if gather is not None:  # the whole batch's rewards, object IoUs and counts, in process order
        R_all = _gathered(gather, R)
        u_all = _gathered(gather, u)
        rows = slice(process_index * n, (process_index + 1) * n)
        if R_all.shape[0] < rows.stop or u_all.shape != (R_all.shape[0], u.shape[1]):
            raise ValueError(f"{op}: 'gather' must return every process's rows in order "
                             f"({R_all.shape[0]} rows for process {process_index} of {n} rows)")
        R, u = R_all, u_all
    A, obj_adv = _credit(R, u, groups, per_object, eps, compat, scale)
    A, obj_adv = A[rows], (obj_adv[rows] if obj_adv is not None else None)
    adv = _token_advantages(A, obj_adv, spans, counts, m)
    if is_tensor(token_ids):
        adv = adv.to(token_ids.device)
    return SetGRCAResult(adv, sets, match, objs, spans, obj_adv, A)


def route_set_credit(set_rewards: Any, object_ious: Sequence[Sequence[float]], object_char_spans: Sequence[Any],
                     token_ids: Any, mask: Any, groups: Any, *, tokenizer: Any, per_object: bool = False,
                     eps: float = 1e-6, compat: Optional[str] = None, scale: str = "group",
                     skip_special_tokens: bool = True) -> Any:
    """The same advantages from rewards computed elsewhere (verl's reward function runs per
    sample): ``set_rewards [N]``, per answer its objects' matched IoUs and their character spans
    ``[P_i, 2]`` in the decoded response. Returns ``[N, L]`` float32 on ``token_ids``' device."""
    op = "route_set_credit"
    R = np.asarray(to_numpy(set_rewards), dtype=np.float64).reshape(-1)
    n = R.shape[0]
    if len(object_ious) != n or len(object_char_spans) != n:
        raise ValueError(f"{op}: 'object_ious' and 'object_char_spans' need one entry per answer ({n})")
    counts = np.array([len(x) for x in object_ious], dtype=np.int64)
    M = max(int(counts.max()) if n else 0, 1)
    u = np.full((n, M), np.nan)
    cs = np.zeros((n, M, 2), dtype=np.int64)
    for i in range(n):
        u[i, :counts[i]] = np.asarray(object_ious[i], dtype=np.float64)
        sp = np.asarray(object_char_spans[i], dtype=np.int64).reshape(-1, 2)
        if sp.shape[0] != counts[i]:
            raise ValueError(f"{op}: answer {i} has {counts[i]} IoUs but {sp.shape[0]} spans")
        cs[i, :counts[i]] = sp
    spans, m = _object_token_spans(cs, tokenizer, token_ids, mask, None, skip_special_tokens)
    A, obj_adv = _credit(R, u, groups, per_object, eps, compat, scale)
    adv = _token_advantages(A, obj_adv, spans, counts, m)
    return adv.to(token_ids.device) if is_tensor(token_ids) else adv


def _object_token_spans(char_spans: np.ndarray, tokenizer: Any, token_ids: Any, mask: Any,
                        texts: Optional[Sequence[str]], skip_special_tokens: bool):
    """(token spans [N, M, 2] of the objects' character spans [N, M, 2], the bool mask [N, L])."""
    import torch

    offsets = token_char_offsets(tokenizer, token_ids, mask, texts=texts, skip_special_tokens=skip_special_tokens)
    m = torch.as_tensor(to_numpy(mask)).bool()
    return char_to_token_spans(torch.from_numpy(np.ascontiguousarray(char_spans)), offsets, m.sum(1)), m


def _token_advantages(A: np.ndarray, obj_adv: Optional[np.ndarray], spans: Any, counts: np.ndarray, m: Any) -> Any:
    """[N, L] float32: with obj_adv None the object list as one field of advantage A (routed:
    every token gets A), else each object's tokens obj_adv, the rest A; padding 0."""
    import torch

    n, L = m.shape
    if obj_adv is None:
        whole = np.zeros((n, 1, 2), dtype=np.int64)
        sp = spans.numpy()
        for i in range(n):  # the list: from its first object's first token to its last object's last
            if counts[i]:
                whole[i, 0] = (sp[i, 0, 0], sp[i, counts[i] - 1, 1])
        return routed_advantages(torch.from_numpy(A[:, None]).float(), torch.from_numpy(whole), m, 1, standardized=True)
    pos = torch.arange(L)[None, :]
    adv = torch.from_numpy(A)[:, None].expand(n, L).clone()
    oa = torch.from_numpy(np.nan_to_num(obj_adv))
    for j in range(obj_adv.shape[1]):
        inside = (pos >= spans[:, j, :1]) & (pos < spans[:, j, 1:]) & torch.from_numpy(j < counts)[:, None]
        adv = torch.where(inside, oa[:, j:j + 1], adv)
    return torch.where(m, adv, torch.zeros((), dtype=adv.dtype)).float()


def _gathered(gather: Callable[[Any], Any], x: np.ndarray) -> np.ndarray:
    import torch

    out = gather(torch.from_numpy(np.ascontiguousarray(x)))
    return np.asarray(to_numpy(out.detach().cpu() if is_tensor(out) else out), dtype=np.float64)


def _credit(R: np.ndarray, u: np.ndarray, groups: Any, per_object: bool, eps: float, compat: Optional[str],
            scale: str):
    """(Â [N], A [N, M] or None) of set rewards R [N] and object IoUs u [N, M] (NaN past each
    answer's objects), by the rule of this module."""
    n = R.shape[0]
    if is_tensor(groups):  # a group_ptr tensor: the statistics run on numpy here
        groups = np.asarray(to_numpy(groups.cpu()), dtype=np.int64)
    A = np.asarray(group_standardize(R, groups, eps, compat=compat, scale=scale), dtype=np.float64)
    if not per_object:
        return A, None
    ptr = np.asarray(to_numpy(Call("grca_set_advantages").group_ptr(groups, n)), dtype=np.int64)
    has = ~np.isnan(u)
    counts = has.sum(1)
    before = np.concatenate([[0], np.cumsum(counts)])
    flat_u = u[has]  # row-major: each answer's objects in order
    U = np.asarray(group_standardize(flat_u, before[ptr], eps, compat=compat, scale=scale), dtype=np.float64) \
        if len(flat_u) else flat_u
    obj = np.full(u.shape, np.nan)
    for g in range(len(ptr) - 1):
        lo, hi = ptr[g], ptr[g + 1]
        flat = not np.any(A[lo:hi] != 0)  # a zero-variance group (or one row): 0 everywhere
        for i in range(lo, hi):
            obj[i, :counts[i]] = 0.0 if flat else 0.5 * (A[i] + U[before[i]:before[i + 1]])
    return A, obj


__all__ = ["grca_set_advantages", "SetGRCAResult", "route_set_credit"]
