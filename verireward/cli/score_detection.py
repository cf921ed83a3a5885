"""``verireward score`` on many-object answers (detection): mAP at IoU thresholds and the
one-to-one set rewards, per file.

GT.jsonl, one image per line: ``{"id": ..., "boxes": [[...], ...], "labels": [...]}`` (``boxes``
in the ground truth's frame, as wide as the schema's box field; an empty list when there is
nothing to find; ``labels`` optional, one per box), and optionally ``"image_size"`` and
``"resized_size"`` ([W, H]): the per-image frame of a pixels-frame schema (Qwen2.5-VL writes
pixels of the image it saw, ``resized_size``; the ground truth is in pixels of the original,
``image_size``). PRED.jsonl: ``{"id": ..., "text": "<completion>"}`` (read with
:func:`verireward.parse_objects` and the schema), or ``{"id": ..., "objects": [{"bbox_2d": [...],
"label": ..., "score": ...}, ...]}`` (the same keys the schema reads; ``score`` optional). A GT
line's optional ``"image"`` (a path, relative to GT.jsonl's folder or absolute) is the picture
``--render`` draws every box on; without one, a blank canvas of ``image_size``.

Decided here: a completion carries no confidences, so each of its objects scores 1 and ties rank
in the order written (image, then position), which is what :func:`verireward.detection_map`
does with equal scores; an object list's ``score`` is used when given, a non-finite one too (a
NaN ranks last, as detection_map ranks it). Every object an answer writes is read (no cap) unless
``--max-objects N`` is given; then the objects past N still count as predictions in the set
rewards but are not detections. Without labels every box
is one class, ``"object"``. The set rewards (soft F1, precision, recall, F1 at IoU 0.5) are
averaged over images; an image with nothing to find and nothing predicted scores 1.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from verireward.parsing.schema import KINDS, Schema
from verireward.ops.detection import detection_map
from verireward.rewards.sets import box_kind_of, score_answers
from verireward.cli import render

SET_COLUMNS = ["soft_F1", "precision", "recall", "F1"]


def is_detection(gts: Sequence[Dict[str, Any]]) -> bool:
    """Whether a ground-truth file is many-object (every line has ``boxes``)."""
    return bool(gts) and all("boxes" in g for g in gts)


def check_sizes(gts: Sequence[Dict[str, Any]], gt_path: str) -> None:
    """Every ``image_size``/``resized_size`` of a ground-truth file is ``[W, H]``, two finite
    positive numbers; a ValueError naming the file, the line and the key otherwise."""
    for k, g in enumerate(gts, 1):
        for key in ("image_size", "resized_size"):
            if key not in g:
                continue
            v = g[key]
            ok = (isinstance(v, list) and len(v) == 2 and
                  all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0 for x in v))
            if not ok:
                raise ValueError(f"GT {gt_path}:{k}: '{key}' must be [W, H], two finite positive numbers, got {v!r:.60}")


def per_image_frames(gts: Sequence[Dict[str, Any]], gt_path: str) -> Optional[Dict[str, Any]]:
    """The per-image frames of a ground-truth file (``image_size`` and ``resized_size`` lists,
    as the parsers take them), None when no line has a ``resized_size``; a ValueError naming the
    first line without both when only some have it."""
    if not any("resized_size" in g for g in gts):
        return None
    missing = [k for k, g in enumerate(gts, 1) if "resized_size" not in g or "image_size" not in g]
    if missing:
        raise ValueError(f"GT {gt_path}:{missing[0]}: a line has no 'image_size'/'resized_size' while others do "
                         "(per-image frames need both on every line)")
    return dict(image_size=[g["image_size"] for g in gts], resized_size=[g["resized_size"] for g in gts])


def _objects_text(objects: Any, where: str) -> Tuple[str, Dict[int, float]]:
    """A list of objects as the JSON text parse_objects reads, and each object's start -> score."""
    if not isinstance(objects, list):
        raise ValueError(f"{where}: 'objects' must be a list of objects")
    parts, starts, pos = [], [], 1
    for k, obj in enumerate(objects):
        if not isinstance(obj, dict):
            raise ValueError(f"{where}: objects[{k}] must be a JSON object")
        score = obj.get("score", 1.0)
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise ValueError(f"{where}: objects[{k}]['score'] must be a number, got {score!r}")
        piece = json.dumps(obj)
        starts.append((pos, float(score)))
        parts.append(piece)
        pos += len(piece) + 2
    return "[" + ", ".join(parts) + "]", dict(starts)


def score_detection(preds: List[Dict[str, Any]], gts: List[Dict[str, Any]], schema: Schema, pred_path: str,
                    gt_path: str, render_dir: Optional[str] = None, worst: int = 8,
                    thresholds: Sequence[float] = (0.25, 0.5), set_threshold: float = 0.5,
                    max_objects: Optional[int] = None) -> Dict[str, Any]:

    box_fields = [f for f in schema.fields if KINDS[f.kind][0] == 1]
    if not box_fields:
        raise ValueError("--schema: a many-object ground truth needs a schema with a box field")
    field = box_fields[0]
    kind = box_kind_of(field)
    n = len(preds)
    texts, scores_at = [], []
    for k, p in enumerate(preds, 1):
        if "objects" in p:
            text, starts = _objects_text(p["objects"], f"PRED {pred_path}:{k}")
        else:
            text, starts = str(p.get("text", p.get("completion", p.get("response", "")))), None
        texts.append(text)
        scores_at.append(starts)
    frames = per_image_frames(gts, gt_path) or {}
    labelled = all("labels" in g for g in gts)

    def scored_with(m: int):
        try:
            return score_answers("GT", texts, [g["boxes"] for g in gts], [g["labels"] for g in gts] if labelled else None,
                                 schema, box=None, seq=None, degrees=None, threshold=set_threshold, max_objects=m,
                                 answer_tag=None, **frames)
        except ValueError as e:
            raise ValueError(f"GT {gt_path}: {e}") from None

    # no cap unless asked: read with 64 slots, and again with as many as the longest answer wrote
    scored = scored_with(max_objects or 64)
    most = int(scored.objects.n_objects.max(initial=0))
    if max_objects is None and most > 64:
        scored = scored_with(most)
    objs, match, sets = scored.objects, scored.match, scored.rewards
    gt, gc, gt_labels = scored.gt, scored.gt_counts, scored.gt_labels
    pred = objs.values[field.name]
    width = pred.shape[2]
    # an object without a label (or a schema without a text field) is the class "object"
    pred_labels = [[(row[j] if j < len(row) and row[j] is not None else "object") for j in range(int(objs.counts[i]))]
                   for i, row in enumerate(objs.labels)] if labelled else None
    # detections: every parsed object, scored by its object's score (1 for completions)
    flat_boxes, flat_scores, flat_labels, flat_image = [], [], [], []
    for i in range(n):
        for j in range(int(objs.counts[i])):
            score = 1.0
            if scores_at[i] is not None:
                start = int(objs.object_spans[i, j, 0])
                score = scores_at[i].get(start, 1.0)
            flat_boxes.append(pred[i, j])
            flat_scores.append(score)
            flat_labels.append(pred_labels[i][j] if labelled else "object")
            flat_image.append(i)
    t_boxes = [gt[i, j] for i in range(n) for j in range(int(gc[i]))]
    t_labels = [gt_labels[i][j] if labelled else "object" for i in range(n) for j in range(int(gc[i]))]
    t_image = [i for i in range(n) for _ in range(int(gc[i]))]
    det = detection_map(np.array(flat_boxes).reshape(-1, width), np.array(flat_scores), flat_labels, flat_image,
                        np.array(t_boxes).reshape(-1, width), t_labels, t_image, **kind, thresholds=thresholds)
    metrics: Dict[str, float] = {f"mAP@{t:g}": float(m) for t, m in zip(det.thresholds, det.map)}
    metrics.update(soft_F1=float(sets.soft_f1.mean()), precision=float(sets.precision.mean()),
                   recall=float(sets.recall.mean()), F1=float(sets.f1.mean()))
    result: Dict[str, Any] = {"n": n, "mode": "detection", "metrics": metrics,
                              "objects": {"predicted": int(objs.n_objects.sum()), "ground_truth": int(gc.sum())},
                              "per_class": {str(c): v for c, v in det.per_class().items()}, "warnings": []}
    if render_dir:
        result["rendered"] = _render_worst(render_dir, gts, objs, field, match, gt, gc, gt_labels, sets, worst, frames,
                                           gt_path)
    return result


def _render_worst(out_dir, gts, objs, field, match, gt, gc, gt_labels, sets, worst, frames, gt_path) -> List[str]:
    if field.kind != "box2d" or field.oriented:
        return []  # pictures of axis-aligned 2D boxes only
    os.makedirs(out_dir, exist_ok=True)
    order = np.argsort(sets.soft_f1, kind="stable")[:worst]
    paths = []
    for k, i in enumerate(order):
        g = gts[i]
        size = g.get("image_size") or _extent(gt[i, :gc[i]], objs.values[field.name][i, :objs.counts[i]])
        values = {"SOFT F1": float(sets.soft_f1[i]), "P": float(sets.precision[i]), "R": float(sets.recall[i])}
        path = os.path.join(out_dir, f"worst{k:02d}_line{i + 1}_softf1{sets.soft_f1[i]:.2f}.png")
        render.render_objects(path, size, gt[i, :gc[i]], objs.values[field.name][i, :objs.counts[i]],
                              gt_labels[i] if gt_labels is not None else None, objs.labels[i] or None,
                              matched=match.assignment[i, :objs.counts[i]] >= 0,
                              title=f"line {i + 1}" + (f"  id {g['id']}" if "id" in g else ""), values=values,
                              image=render.image_path(g, gt_path))
        paths.append(path)
    return paths


def _extent(*boxes: Any) -> Tuple[float, float]:
    """A picture size holding every finite box (no image_size given)."""
    b = np.concatenate([np.asarray(x, dtype=np.float64).reshape(-1, 4) for x in boxes])
    b = b[np.isfinite(b).all(1)]
    if not len(b):
        return (512.0, 512.0)
    return (max(float(b[:, [0, 2]].max()), 1.0) * 1.05, max(float(b[:, [1, 3]].max()), 1.0) * 1.05)


def print_detection(result: Dict[str, Any], out) -> None:
    m = result["metrics"]
    cols = [c for c in m if c.startswith("mAP")] + SET_COLUMNS
    widths = [max(len(c), 6) for c in cols]
    o = result["objects"]
    print(f"verireward score: {result['n']:,} images, {o['predicted']:,} predicted and {o['ground_truth']:,} "
          "ground-truth objects", file=out)
    print("  ".join(f"{c:>{w}}" for c, w in zip(cols, widths)), file=out)
    print("  ".join(f"{m[c]:>{w}.4f}" for c, w in zip(cols, widths)), file=out)
    for path in result.get("rendered", []):
        print(f"rendered {path}", file=out)
