"""One-to-one set rewards of answers with many objects, from their text: every object parsed
(:func:`verireward.parse_objects`), matched to the truth (:func:`verireward.match_boxes`) and
rewarded (:func:`verireward.set_rewards`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from verireward._backend import to_numpy
from verireward.ops.match import MAX_BOXES, Match, SetRewards, match_boxes, set_rewards
from verireward.parsing.objects import parse_objects
from verireward.parsing.schema import KINDS, Schema


def pack_truth(op: str, gt_boxes: Any, gt_labels: Optional[Sequence[Sequence[Any]]], n: int,
               width: int) -> Tuple[np.ndarray, np.ndarray, Optional[List[List[Any]]]]:
    """Per-answer ground truth (N lists of ``[G_i, width]`` boxes, N lists of labels or None) as
    ``(boxes [N, G, width] NaN-padded, counts [N], labels)``; errors name ``gt_boxes``/``gt_labels``."""
    if not isinstance(gt_boxes, Sequence) or isinstance(gt_boxes, str) or len(gt_boxes) != n:
        raise ValueError(f"{op}: argument 'gt_boxes' must be a list of {n} arrays [G_i, {width}]")
    rows = []
    for i, g in enumerate(gt_boxes):
        try:
            a = np.asarray(to_numpy(g), dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{op}: gt_boxes[{i}] must be an array [G, {width}] of numbers") from None
        if a.size == 0:
            a = a.reshape(0, width)
        if a.ndim != 2 or a.shape[1] != width:
            raise ValueError(f"{op}: gt_boxes[{i}] must have shape [G, {width}], got {list(a.shape)}")
        rows.append(a)
    G = max([len(a) for a in rows] + [1])
    gt = np.full((n, G, width), np.nan)
    for i, a in enumerate(rows):
        gt[i, :len(a)] = a
    gc = np.array([len(a) for a in rows], dtype=np.int64)
    labels = None
    if gt_labels is not None:
        if not isinstance(gt_labels, Sequence) or len(gt_labels) != n:
            raise ValueError(f"{op}: argument 'gt_labels' must be a list of {n} lists of labels")
        labels = [list(x) for x in gt_labels]
        for i, (lab, a) in enumerate(zip(labels, rows)):
            if len(lab) != len(a):
                raise ValueError(f"{op}: gt_labels[{i}] has {len(lab)} labels for {len(a)} boxes")
    return gt, gc, labels


def box_kind_of(field: Any) -> Dict[str, Any]:
    """The ``box``, ``seq`` and ``degrees`` arguments of :func:`match_boxes` for a schema box field."""
    if field.kind == "box2d":
        return dict(box="2d_rotated" if field.oriented else "2d", seq=None, degrees=field.degrees if field.oriented else False)
    if field.oriented:
        return dict(box="3d_oriented", seq=field.seq, degrees=field.degrees)
    return dict(box="3d", seq=None, degrees=False)


def answer_set_rewards(texts: Sequence[str], gt_boxes: Sequence[Any], gt_labels: Optional[Sequence[Sequence[Any]]] = None,
                       schema: Any = None, *, box: Optional[str] = None, seq: Optional[str] = None,
                       degrees: Optional[bool] = None,
                       threshold: float = 0.5, max_objects: int = 64, answer_tag: Optional[str] = None,
                       image_size: Any = None, resized_size: Any = None) -> SetRewards:
    """The set rewards of many-object answers in one call: :func:`parse_objects` (the schema's first
    box field, labels from its first text field), :func:`match_boxes` against each answer's ground
    truth, :func:`set_rewards`. What the TRL and verl adapters call.

    Args:
        texts: N completions.
        gt_boxes: N arrays ``[G_i, W]`` (lists or arrays; G_i may be 0: nothing to find), in the
            ground truth's frame.
        gt_labels: N lists of G_i labels, or None (labels not compared).
        schema: one object's fields; :meth:`Schema.qwen3vl_2d` when None.
        box, seq, degrees, threshold: as in :func:`match_boxes` / :func:`set_rewards`; ``box=None``
            takes the kind of the schema's first box field (its layout, ``seq`` and ``degrees``).
        max_objects, answer_tag, image_size, resized_size: as in :func:`parse_objects`; objects
            written past ``max_objects`` are not matched but still count as predictions.
    Returns float64 numpy arrays ``[N]``.
    """
    return score_answers("answer_set_rewards", texts, gt_boxes, gt_labels, schema, box=box, seq=seq, degrees=degrees,
                         threshold=threshold, max_objects=max_objects, answer_tag=answer_tag, image_size=image_size,
                         resized_size=resized_size).rewards


@dataclass
class ScoredAnswers:
    """What :func:`score_answers` computes: the parsed ``objects``, the ``match``, the set
    ``rewards``, and the packed ground truth (``gt [N, G, W]`` NaN-padded, ``gt_counts [N]``,
    ``gt_labels`` or None)."""

    objects: Any
    match: Match
    rewards: SetRewards
    gt: np.ndarray
    gt_counts: np.ndarray
    gt_labels: Optional[List[List[Any]]]


def score_answers(op: str, texts: Sequence[str], gt_boxes: Sequence[Any], gt_labels: Optional[Sequence[Sequence[Any]]],
                  schema: Any, *, box: Optional[str], seq: Optional[str], degrees: Optional[bool], threshold: float,
                  max_objects: int, answer_tag: Optional[str], image_size: Any = None, resized_size: Any = None):
    """The :class:`ScoredAnswers` of many-object answers: what :func:`answer_set_rewards`,
    :func:`verireward.grca_set_advantages` and the adapters compute (``box=None``: from the schema's
    first box field). An object without a label matches no labelled ground truth."""
    schema = schema or Schema.qwen3vl_2d()
    fields = [f for f in schema.fields if KINDS[f.kind][0] == 1]
    if not fields:
        raise ValueError(f"{op}: the schema has no box field")
    kind = box_kind_of(fields[0]) if box is None else dict(box=box, seq=seq, degrees=bool(degrees))
    limit = MAX_BOXES
    if isinstance(max_objects, (int, np.integer)) and not isinstance(max_objects, bool) and max_objects > limit:
        raise ValueError(f"{op}: argument 'max_objects' must be at most {limit} (what match_boxes takes), got {max_objects}")
    objs = parse_objects(texts, schema, max_objects=max_objects, array="numpy", answer_tag=answer_tag,
                         image_size=image_size, resized_size=resized_size)
    n = len(texts)
    pred = objs.values[fields[0].name]
    gt, gc, labels = pack_truth(op, gt_boxes, gt_labels, n, pred.shape[2])
    if gt.shape[1] > limit:
        raise ValueError(f"{op}: argument 'gt_boxes' has an answer with {gt.shape[1]} boxes; at most {limit}")
    pred_labels = None
    if labels is not None:  # a schema without a text field: no object has a label
        pred_labels = [[(row[j] if j < len(row) else None) for j in range(int(objs.counts[i]))]
                       for i, row in enumerate(objs.labels)]
    m = match_boxes(pred, objs.counts, gt, gc, **kind, pred_labels=pred_labels, gt_labels=labels)
    # every object written is a prediction (those past max_objects are unmatched ones)
    return ScoredAnswers(objs, m, set_rewards(m, objs.n_objects, gc, threshold), gt, gc, labels)


__all__ = ["answer_set_rewards"]
