"""One-to-one set rewards for answers with many objects: the matching of predicted to ground-truth
boxes that maximizes the total IoU (``match_boxes``, exact Hungarian in C++, batched over samples)
and the rewards of the matched set (``set_rewards``: soft F1, precision, recall, F1). Each
ground-truth box is matched at most once, so a false positive, or a duplicate of a box where only
one truth lies, lowers every reward; a box written twice over two overlapping truths of its label
can match both.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from verireward._native import _C
from verireward._backend import Call, check_number, data_ptr, is_tensor, to_numpy, torch_module
from verireward._labels import label_codes
from verireward.ops.oriented import angle_unit, parse_seq

Array = Any
MAX_BOXES = _C.MATCH_MAX_BOXES  # the most boxes per sample match_boxes takes
BOX_KINDS = {"2d": (0, 4), "3d": (1, 6), "2d_rotated": (2, 5), "3d_oriented": (3, None)}


@dataclass
class Match:
    """``assignment [N, P]`` int64: the ground-truth index matched to each prediction, or −1
    (unmatched, or padding past ``pred_counts``); ``iou [N, P]``: the matched pair's IoU (0 when
    unmatched), in the dtype of the boxes."""

    assignment: Any
    iou: Any
    gt_size: Optional[int] = None  # G, the ground-truth slots per sample (set by match_boxes)


def box_kind_args(op: str, args: Any, box: str, seq: Optional[str], degrees: bool) -> int:
    """Sets the box-kind fields of native ``args`` (``VR_BOX_KIND_ARGS``: kind, width, rotation axes,
    angle unit) from the public ``box``, ``seq`` and ``degrees``; returns the box width."""
    if box not in BOX_KINDS:
        raise ValueError(f"{op}: argument 'box' must be one of {', '.join(map(repr, BOX_KINDS))}, got {box!r}")
    kind, width = BOX_KINDS[box]
    args.unit = angle_unit(op, degrees)
    if box == "3d_oriented":
        axes, intrinsic = parse_seq(op, seq if seq is not None else "z")
        width = 6 + len(axes)
        args.k, args.intrinsic = len(axes), intrinsic
        args.axis0, args.axis1, args.axis2 = (tuple(axes) + (0, 0, 0))[:3]
    elif seq is not None:
        raise ValueError(f"{op}: argument 'seq' is for box='3d_oriented'")
    args.kind, args.width = kind, width
    return width


def _labels(op: str, name: str, labels: Any, n: int, width: int, counts: np.ndarray) -> Any:
    """One side's labels, the first ``counts[i]`` of each row, flat in row order: an int64 array
    (from an integer array ``[n, width]``, torch or numpy, whatever lies past the counts) or a list
    (from ``n`` lists of hashables, each at least ``counts[i]`` and at most ``width`` long)."""
    if hasattr(labels, "shape") and not isinstance(labels, (list, tuple)):
        arr = to_numpy(labels)
        if arr.dtype.kind not in "iu" or arr.ndim != 2 or arr.shape[0] != n or arr.shape[1] < int(counts.max(initial=0)):
            raise ValueError(f"{op}: argument '{name}' as an array must be integers [{n}, {width}], got "
                             f"{arr.dtype} {list(arr.shape)}")
        return arr[np.arange(arr.shape[1])[None, :] < counts[:, None]].astype(np.int64)
    if not isinstance(labels, (list, tuple)) or len(labels) != n:
        raise ValueError(f"{op}: argument '{name}' must be a list of {n} lists of labels, or an integer array [{n}, {width}]")
    flat: List[Any] = []
    for i, row in enumerate(labels):
        if hasattr(row, "shape") and not isinstance(row, (list, tuple)):
            row = to_numpy(row).reshape(-1).tolist()
        if not isinstance(row, (list, tuple)) or not counts[i] <= len(row) <= width:
            got = f"{len(row)} labels" if isinstance(row, (list, tuple)) else type(row).__name__
            raise ValueError(f"{op}: {name}[{i}] must be a list of {int(counts[i])} to {width} labels (one per counted "
                             f"box), got {got}")
        flat.extend(row[:int(counts[i])])
    return flat


def _label_codes(op: str, pred_labels: Any, gt_labels: Any, pc: np.ndarray, gc: np.ndarray, P: int,
                 G: int) -> Tuple[np.ndarray, np.ndarray]:
    """``[n, P]`` and ``[n, G]`` int64 codes of the two sides' labels in one vocabulary (equal labels,
    equal codes; detection_map's encoding), −1 past the counts."""
    n = len(pc)
    if type(pred_labels) is list and type(gt_labels) is list and len(pred_labels) == n and len(gt_labels) == n:
        # lists of label lists: encoded natively in one pass (the common case, parsed labels); the
        # native encoder declines anything else, which the general path below takes and checks
        pcode = np.empty((n, P), dtype=np.int64)
        gcode = np.empty((n, G), dtype=np.int64)
        pcs, gcs = np.ascontiguousarray(pc, dtype=np.int64), np.ascontiguousarray(gc, dtype=np.int64)
        if _C.encode_label_rows(pred_labels, gt_labels, pcs.ctypes.data, gcs.ctypes.data, n, P, G,
                                pcode.ctypes.data, gcode.ctypes.data):
            return pcode, gcode
    pf = _labels(op, "pred_labels", pred_labels, n, P, pc)
    gf = _labels(op, "gt_labels", gt_labels, n, G, gc)
    pcode, gcode, _ = label_codes(op, ("pred_labels", pf, len(pf)), ("gt_labels", gf, len(gf)))
    out = []
    for codes, counts, width in ((pcode, pc, P), (gcode, gc, G)):
        table = np.full((n, width), -1, dtype=np.int64)
        table[np.arange(width)[None, :] < counts[:, None]] = codes
        out.append(table)
    return out[0], out[1]


def _like(x: Any, ref: Any) -> Any:
    """Counts given as lists (or a numpy array beside torch boxes) in the kind of the boxes."""
    if is_tensor(ref) and not is_tensor(x):
        return torch_module().as_tensor(np.asarray(x, dtype=np.int64), device=ref.device)
    if isinstance(ref, np.ndarray) and not isinstance(x, np.ndarray):
        return np.asarray(x, dtype=np.int64) if not is_tensor(x) else x.detach().cpu().numpy()
    return x


def match_boxes(pred: Array, pred_counts: Array, gt: Array, gt_counts: Array, *, box: str = "2d",
                seq: Optional[str] = None, degrees: bool = False, pred_labels: Optional[Sequence[Sequence[Any]]] = None,
                gt_labels: Optional[Sequence[Sequence[Any]]] = None) -> Match:
    """The one-to-one assignment of each sample's predicted boxes to its ground-truth boxes that
    maximizes the total IoU, over pairs with equal labels (None: all equal) and IoU > 0, exactly.

    Args:
        pred: ``[N, P, W]`` predicted boxes, padded; the first ``pred_counts[i]`` of row i count.
        pred_counts: ``[N]`` integers in ``[0, P]``.
        gt: ``[N, G, W]`` ground-truth boxes, padded; ``gt_counts [N]`` in ``[0, G]``. P and G are at
            most ``verireward._C.MATCH_MAX_BOXES`` (4096): each sample's IoU matrix is dense.
        box: ``"2d"`` (x1, y1, x2, y2), ``"3d"`` (x1, y1, z1, x2, y2, z2), ``"2d_rotated"``
            (cx, cy, w, h, θ) or ``"3d_oriented"`` (cx, cy, cz, sx, sy, sz, ``*angles`` with ``seq``).
        seq, degrees: the rotation of ``"3d_oriented"`` boxes (and ``degrees`` of ``"2d_rotated"``).
        pred_labels, gt_labels: optional labels, both or neither: ``N`` lists of hashables (row i
            holds at least ``pred_counts[i]`` labels, one per counted box, and at most P), or
            integer arrays ``[N, P]`` / ``[N, G]`` (torch or numpy; entries past the counts, −1 or
            any padding, are ignored). A prediction only matches a ground-truth box with an equal
            label. A row shorter than its count, or an unhashable label, is a ``ValueError``
            naming the argument.

    Returns:
        :class:`Match`. Ties between equally good assignments resolve the same way on every run
        (the algorithm's fixed order). Computed on the CPU; torch inputs on another device get
        their outputs moved back to it.
    """
    op = "match_boxes"
    args = _C.MatchArgs()
    width = box_kind_args(op, args, box, seq, degrees)
    call = Call(op)
    pred = call.floats(pred, "pred")
    gt = call.floats(gt, "gt")
    call.shape(pred, "pred", f"[N, P, {width}]", pred.ndim == 3 and pred.shape[2] == width)
    n, P = pred.shape[0], pred.shape[1]
    call.shape(gt, "gt", f"[{n}, G, {width}]", gt.ndim == 3 and gt.shape[0] == n and gt.shape[2] == width)
    G = gt.shape[1]
    for name, count in (("pred", P), ("gt", G)):  # the dense per-sample matrices bound the scratch
        if count > _C.MATCH_MAX_BOXES:
            raise ValueError(f"{op}: argument '{name}' has {count} boxes per sample; at most {_C.MATCH_MAX_BOXES}")
    pc = call.ints(_like(pred_counts, pred), "pred_counts")
    gc = call.ints(_like(gt_counts, pred), "gt_counts")
    call.shape(pc, "pred_counts", f"[{n}]", tuple(pc.shape) == (n,))
    call.shape(gc, "gt_counts", f"[{n}]", tuple(gc.shape) == (n,))
    call.int_range(pc, "pred_counts", P, "P = pred.shape[1]")
    call.int_range(gc, "gt_counts", G, "G = gt.shape[1]")
    if (pred_labels is None) != (gt_labels is None):
        raise ValueError(f"{op}: pass both pred_labels and gt_labels, or neither")
    device = pred.device if is_tensor(pred) else None
    cpu = lambda x: np.ascontiguousarray(x) if isinstance(x, np.ndarray) else x.detach().cpu().contiguous()
    p_, g_, pc_, gc_ = cpu(pred), cpu(gt), cpu(pc), cpu(gc)
    if is_tensor(pred):
        torch = torch_module()
        assignment = torch.empty((n, P), dtype=torch.int64)
        iou = torch.empty((n, P), dtype=pred.dtype)
    else:
        assignment = np.empty((n, P), dtype=np.int64)
        iou = np.empty((n, P), dtype=pred.dtype)
    keep = []
    if pred_labels is not None:
        pl, gl = _label_codes(op, pred_labels, gt_labels, to_numpy(pc_).astype(np.int64), to_numpy(gc_).astype(np.int64), P, G)
        keep += [pl, gl]
        args.pred_labels, args.gt_labels = pl.ctypes.data, gl.ctypes.data
    args.dtype, args.n, args.P, args.G = call.dtype_code, n, P, G
    args.pred, args.gt, args.pred_counts, args.gt_counts = data_ptr(p_), data_ptr(g_), data_ptr(pc_), data_ptr(gc_)
    args.assignment, args.iou = data_ptr(assignment), data_ptr(iou)
    _C.match_boxes(args)
    if device is not None and device.type != "cpu":
        assignment, iou = assignment.to(device), iou.to(device)
    return Match(assignment, iou, G)


@dataclass
class SetRewards:
    """Per sample ``[N]``: ``soft_f1`` = 2·Σ matched IoU / (P + G); ``precision`` = hits / P,
    ``recall`` = hits / G, ``f1`` = 2·hits / (P + G), a hit being a match with IoU ≥ threshold."""

    soft_f1: Any
    precision: Any
    recall: Any
    f1: Any


SET_REWARDS = tuple(f.name for f in fields(SetRewards))  # the set rewards' one list of names


def set_rewards(match: Match, pred_counts: Array, gt_counts: Array, threshold: float = 0.5) -> SetRewards:
    """The set rewards of a :func:`match_boxes` result. P = G = 0 gives 1 (the model rightly said
    there is nothing); exactly one of them 0 gives 0. Every reward is in [0, 1]. Each ground-truth
    box is matched at most once, so a false positive, or a box written twice where one truth lies,
    raises P without adding a match and lowers every reward. (A box written twice can still match
    two different overlapping truths of its label: it then counts as two predictions, each matched.)

    ``pred_counts``/``gt_counts`` ``[N]`` integers: the predictions and truths of each sample.
    ``gt_counts[i]`` must lie in [matched pairs of row i, G]; ``pred_counts[i]`` must be at least
    the matched pairs and may exceed P by predictions written past the stored slots
    (:class:`ParsedObjects` ``n_objects``: unmatched predictions). Anything else is a
    ``ValueError`` naming the argument."""
    op = "set_rewards"
    threshold = check_number(op, threshold, "threshold", lambda v: 0.0 < v <= 1.0, "a number in (0, 1]")
    if not isinstance(match, Match):
        raise TypeError(f"{op}: argument 'match' must be the Match of verireward.match_boxes, got {type(match).__name__}")
    iou = match.iou
    n = iou.shape[0]
    pairs = (to_numpy(match.assignment) >= 0).sum(1)
    for name, counts, top in (("pred_counts", pred_counts, None), ("gt_counts", gt_counts, match.gt_size)):
        c = to_numpy(counts) if hasattr(counts, "shape") else np.asarray(counts)
        if c.dtype.kind not in "iu" or c.shape != (n,):
            raise ValueError(f"{op}: argument '{name}' must be {n} integers (shape [{n}]), got {c.dtype} {list(c.shape)}")
        bad = np.flatnonzero((c < pairs) | ((c > top) if top is not None else False))
        if bad.size:
            i = int(bad[0])
            limit = f"[{int(pairs[i])}, {top}]" if top is not None else f">= {int(pairs[i])}"
            raise ValueError(f"{op}: argument '{name}'[{i}] is {int(c[i])}; it must be in {limit} (the matched pairs "
                             f"of row {i}{', at most G' if top is not None else ''})")
    lib = torch_module() if is_tensor(iou) else np
    to = (lambda x: lib.as_tensor(x, device=iou.device)) if lib is not np else np.asarray
    P = to(pred_counts).to(iou.dtype) if lib is not np else np.asarray(pred_counts).astype(iou.dtype)
    G = to(gt_counts).to(iou.dtype) if lib is not np else np.asarray(gt_counts).astype(iou.dtype)
    matched = match.assignment >= 0
    total = (iou * matched).sum(1)
    hits = ((iou >= threshold) & matched).sum(1)
    hits = hits.to(iou.dtype) if lib is not np else hits.astype(iou.dtype)
    both_empty = (P == 0) & (G == 0)
    safe = lambda num, den: lib.where(den > 0, num / lib.where(den > 0, den, 1), 0 * num)
    one = lib.ones_like(total)
    soft = lib.where(both_empty, one, safe(2 * total, P + G))
    prec = lib.where(both_empty, one, safe(hits, P))
    rec = lib.where(both_empty, one, safe(hits, G))
    f1 = lib.where(both_empty, one, safe(2 * hits, P + G))
    return SetRewards(soft, prec, rec, f1)


__all__ = ["match_boxes", "Match", "set_rewards", "SetRewards", "SET_REWARDS"]
