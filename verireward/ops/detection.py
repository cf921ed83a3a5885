"""Detection evaluation: average precision per class and IoU threshold, as COCO and VOC compute
it, for every box kind (axis-aligned 2D and 3D, rotated 2D, oriented 3D), in C++."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from verireward._native import _C
from verireward._backend import FLOAT_NP, to_numpy
from verireward._labels import label_codes
from verireward.ops.match import box_kind_args

INTERPOLATIONS = {"coco101": 0, "voc11": 1, "area": 2}


@dataclass
class DetectionMAP:
    """``classes``: the class labels (sorted when they sort, else in order of appearance, ground
    truth first); ``thresholds``; ``ap [C, K]`` float64, NaN for a class without ground truth;
    ``map [K]`` the mean over the classes with ground truth (NaN when none); ``mean``: ``map``
    averaged over the thresholds (COCO's "AP" with thresholds 0.5:0.95)."""

    classes: List[Any]
    thresholds: Tuple[float, ...]
    ap: np.ndarray
    map: np.ndarray
    mean: float

    def per_class(self) -> Dict[Any, Dict[float, float]]:
        """``{class: {threshold: AP}}``."""
        return {c: {t: float(self.ap[i, k]) for k, t in enumerate(self.thresholds)} for i, c in enumerate(self.classes)}


def _boxes(op: str, name: str, boxes: Any, width: int) -> np.ndarray:
    try:
        arr = to_numpy(boxes)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: argument '{name}' must be an array of real numbers") from None
    if arr.dtype.kind not in "fiu" or arr.dtype == np.bool_:
        raise TypeError(f"{op}: argument '{name}' must hold real numbers, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if arr.size == 0:
        arr = arr.reshape(0, width)
    if arr.ndim != 2 or arr.shape[1] != width:
        raise ValueError(f"{op}: argument '{name}' must have shape [n, {width}], got {list(arr.shape)}")
    return arr


def detection_map(pred_boxes: Any, pred_scores: Any, pred_labels: Any, pred_image: Any, gt_boxes: Any, gt_labels: Any,
                  gt_image: Any, *, box: str = "2d", seq: Optional[str] = None, degrees: bool = False,
                  thresholds: Sequence[float] = (0.25, 0.5), interpolation: str = "coco101") -> DetectionMAP:
    """Average precision per class and IoU threshold, and their means.

    Matching as COCO and VOC do it: per image and class, detections in descending score each take
    the unmatched ground-truth box with the highest IoU, if it is ≥ the threshold (COCOeval's
    ``min(t, 1 − 1e-10)``; among equal IoUs the later box, as COCOeval). Precision and recall run
    over the class's detections in descending score (ties: lower image, then input order; a NaN
    score ranks last; a box that is not a box, NaN included, has IoU 0: a false positive).

    Args:
        pred_boxes: ``[D, W]`` detections (W by ``box``, as in :func:`match_boxes`); numpy, torch
            or lists.
        pred_scores: ``[D]`` confidences.
        pred_labels, gt_labels: ``D`` / ``T`` class labels (any hashables, or int arrays).
        pred_image, gt_image: ``D`` / ``T`` image ids (any hashables, or int arrays).
        gt_boxes: ``[T, W]`` ground-truth boxes.
        box, seq, degrees: the box kind, as in :func:`match_boxes`.
        thresholds: IoU thresholds in (0, 1].
        interpolation: ``"coco101"`` (COCOeval: the precision envelope read at recalls 0, 0.01, …,
            1), ``"voc11"`` (VOC2007: the maximum precision at recall ≥ 0, 0.1, …, 1) or ``"area"``
            (VOC2010+: the area under the envelope).

    No per-image detection cap (COCOeval keeps 100: give it at most that to compare), no crowd
    boxes, one area range. Computed on the CPU.
    """
    op = "detection_map"
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"{op}: argument 'interpolation' must be one of {', '.join(map(repr, INTERPOLATIONS))}, got {interpolation!r}")
    args = _C.DetectionArgs()
    width = box_kind_args(op, args, box, seq, degrees)
    if isinstance(thresholds, (int, float)):
        thresholds = (thresholds,)
    try:
        thr = np.asarray([float(t) for t in thresholds], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{op}: argument 'thresholds' must be numbers in (0, 1], got {thresholds!r}") from None
    if thr.size == 0 or not ((thr > 0) & (thr <= 1)).all():
        raise ValueError(f"{op}: argument 'thresholds' must be numbers in (0, 1], got {thresholds!r}")
    pred = _boxes(op, "pred_boxes", pred_boxes, width)
    gt = _boxes(op, "gt_boxes", gt_boxes, width)
    D, T = pred.shape[0], gt.shape[0]
    try:
        scores = np.reshape(to_numpy(pred_scores), (-1, 1))
    except (TypeError, ValueError):
        raise TypeError(f"{op}: argument 'pred_scores' must be an array of real numbers") from None
    scores = _boxes(op, "pred_scores", scores, 1).reshape(-1)
    if scores.shape[0] != D:
        raise ValueError(f"{op}: argument 'pred_scores' must have shape [{D}], got [{scores.shape[0]}]")
    plc, glc, classes = label_codes(op, ("pred_labels", pred_labels, D), ("gt_labels", gt_labels, T))
    pic, gic, _ = label_codes(op, ("pred_image", pred_image, D), ("gt_image", gt_image, T))
    C, K = len(classes), thr.size
    ap = np.empty((C, K), dtype=np.float64)
    args.dtype, args.D, args.T, args.C, args.K = FLOAT_NP[np.dtype(np.float64)], D, T, C, K
    args.interpolation = INTERPOLATIONS[interpolation]
    args.pred, args.scores, args.pred_labels, args.pred_image = pred.ctypes.data, scores.ctypes.data, plc.ctypes.data, pic.ctypes.data
    args.gt, args.gt_labels, args.gt_image = gt.ctypes.data, glc.ctypes.data, gic.ctypes.data
    args.thresholds, args.ap = thr.ctypes.data, ap.ctypes.data
    _C.detection_ap(args)
    has_gt = ~np.isnan(ap[:, 0]) if C else np.zeros(0, dtype=bool)
    m = ap[has_gt].mean(0) if has_gt.any() else np.full(K, np.nan)
    return DetectionMAP(classes, tuple(float(t) for t in thr), ap, m, float(m.mean()))


__all__ = ["detection_map", "DetectionMAP"]
