"""detection_map against pycocotools' COCOeval (2D boxes, 101-point AP at COCO's and our
thresholds), against a pure-Python float64 oracle written from the definitions (greedy matching in
score order; COCO 101-point, VOC 11-point and area interpolations; the SUN RGB-D 3D metric of
lmms-eval as described: score-sorted greedy matching, 101 points, mean over classes, on yaw boxes
with a shapely footprint IoU), and on degenerate, hostile and wrong inputs."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import oracles
import verireward as vr

# ---- the oracle, from the definitions -----------------------------------------------------------


def yaw_iou(a, b):
    from shapely.geometry import Polygon

    def footprint(x):
        cx, cy, _, sx, sy, _, t = x
        c, s = math.cos(t), math.sin(t)
        return Polygon([(cx + c * u - s * v, cy + s * u + c * v) for u, v in
                        ((-sx / 2, -sy / 2), (sx / 2, -sy / 2), (sx / 2, sy / 2), (-sx / 2, sy / 2))])

    if not all(math.isfinite(v) for v in list(a) + list(b)) or min(a[3:6]) <= 0 or min(b[3:6]) <= 0:
        return 0.0
    pa, pb = footprint(a), footprint(b)
    dz = max(0.0, min(a[2] + a[5] / 2, b[2] + b[5] / 2) - max(a[2] - a[5] / 2, b[2] - b[5] / 2))
    inter = pa.intersection(pb).area * dz
    union = a[3] * a[4] * a[5] + b[3] * b[4] * b[5] - inter
    return inter / union if union > 0 else 0.0


def oracle_ap(dets, gts, thr, interpolation, iou):
    """dets: (box, score, label, image); gts: (box, label, image). {label: AP or None}."""
    out = {}
    for c in sorted({g[1] for g in gts} | {d[2] for d in dets}):
        npos = sum(1 for g in gts if g[1] == c)
        if npos == 0:
            out[c] = None
            continue
        mine = [(i, d) for i, d in enumerate(dets) if d[2] == c]
        # descending score, a NaN after every number (-inf included), then image, then input order
        key = lambda item: (math.isnan(item[1][1]), -item[1][1] if not math.isnan(item[1][1]) else 0.0, item[1][3], item[0])
        mine.sort(key=key)
        taken = set()
        hits = []
        for i, d in mine:  # score order; each image's boxes only
            best, m = min(thr, 1 - 1e-10), None
            for j, g in enumerate(gts):
                if g[1] != c or g[2] != d[3] or j in taken:
                    continue
                v = iou(d[0], g[0])
                if v >= best:
                    best, m = v, j
            if m is not None:
                taken.add(m)
            hits.append(m is not None)
        tp = fp = 0
        rec, prec = [], []
        for h in hits:
            tp, fp = tp + h, fp + (not h)
            rec.append(tp / npos)
            prec.append(tp / (tp + fp))
        if interpolation == "voc11":
            out[c] = sum(max([p for r, p in zip(rec, prec) if r >= i * 0.1], default=0.0) for i in range(11)) / 11
            continue
        env = [max(prec[k:]) for k in range(len(prec))]
        if interpolation == "area":
            ap, last = 0.0, 0.0
            for r, p in zip(rec, env):
                ap += (r - last) * p
                last = r
            out[c] = ap
        else:
            total = 0.0
            for i in range(101):
                t = 1.0 if i == 100 else i * 0.01
                first = next((k for k, r in enumerate(rec) if r >= t), None)
                total += env[first] if first is not None else 0.0
            out[c] = total / 101
    return out


def box2d(x, y, w, h):
    return [x, y, x + w, y + h]


@st.composite
def scene(draw, max_images=4, classes="abc"):
    dets, gts = [], []
    for img in range(draw(st.integers(1, max_images))):
        for _ in range(draw(st.integers(0, 5))):
            box = box2d(draw(st.integers(0, 40)), draw(st.integers(0, 40)), draw(st.integers(1, 20)), draw(st.integers(1, 20)))
            label = draw(st.sampled_from(classes))
            gts.append((box, label, img))
            for _ in range(draw(st.integers(0, 2))):  # near copies, duplicates
                d = [v + draw(st.integers(-3, 3)) for v in box]
                dets.append((d, draw(st.floats(0, 1)), label if draw(st.integers(0, 4)) else draw(st.sampled_from(classes)), img))
        for _ in range(draw(st.integers(0, 3))):  # false positives, ties, a NaN score, a broken box
            kind = draw(st.sampled_from(["random", "tie", "nan_score", "nan_box", "minus_inf"]))
            box = box2d(draw(st.integers(0, 50)), draw(st.integers(0, 50)), draw(st.integers(1, 20)), draw(st.integers(1, 20)))
            score = {"random": draw(st.floats(0, 1)), "tie": 0.5, "nan_score": math.nan, "nan_box": 0.3,
                     "minus_inf": -math.inf}[kind]
            if kind == "nan_box":
                box = [math.nan] * 4
            dets.append((box, score, draw(st.sampled_from(classes)), img))
    return dets, gts


def run(dets, gts, **kw):
    D = [d[0] for d in dets] or np.zeros((0, 4))
    G = [g[0] for g in gts] or np.zeros((0, 4))
    return vr.detection_map(D, [d[1] for d in dets], [d[2] for d in dets], [d[3] for d in dets],
                            G, [g[1] for g in gts], [g[2] for g in gts], **kw)


@settings(max_examples=200, deadline=None)
@given(scene(), st.sampled_from(["coco101", "voc11", "area"]), st.sampled_from([(0.5,), (0.25, 0.5, 0.75), (0.1, 1.0)]))
def test_against_the_oracle(sc, interpolation, thresholds):
    dets, gts = sc
    r = run(dets, gts, thresholds=thresholds, interpolation=interpolation)
    iou = lambda a, b: oracles.iou(a, b, 2)
    for k, t in enumerate(thresholds):
        want = oracle_ap(dets, gts, t, interpolation, iou)
        assert r.classes == sorted(want)
        for i, c in enumerate(r.classes):
            if want[c] is None:
                assert math.isnan(r.ap[i, k])
            else:
                assert r.ap[i, k] == pytest.approx(want[c], abs=1e-12)
        present = [v for v in want.values() if v is not None]
        if present:
            assert r.map[k] == pytest.approx(sum(present) / len(present), abs=1e-12)
        else:
            assert math.isnan(r.map[k])


# ---- pycocotools --------------------------------------------------------------------------------


def cocoeval(dets, gts, thresholds):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    classes = sorted({g[1] for g in gts} | {d[2] for d in dets})
    cat = {c: i + 1 for i, c in enumerate(classes)}
    images = sorted({g[2] for g in gts} | {d[3] for d in dets})
    to_xywh = lambda b: [b[0], b[1], b[2] - b[0], b[3] - b[1]]
    gt = COCO()
    gt.dataset = {"images": [{"id": i + 1} for i in images], "categories": [{"id": v} for v in cat.values()],
                  "annotations": [{"id": k + 1, "image_id": g[2] + 1, "category_id": cat[g[1]], "bbox": to_xywh(g[0]),
                                   "area": (g[0][2] - g[0][0]) * (g[0][3] - g[0][1]), "iscrowd": 0} for k, g in enumerate(gts)]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes([{"image_id": d[3] + 1, "category_id": cat[d[2]], "bbox": to_xywh(d[0]), "score": d[1]} for d in dets])
        ev = COCOeval(gt, dt, "bbox")
        ev.params.iouThrs = np.asarray(thresholds, dtype=np.float64)
        ev.params.areaRng, ev.params.areaRngLbl = [[0, 1e10]], ["all"]
        ev.params.maxDets = [1000]
        ev.evaluate()
        ev.accumulate()
    prec = ev.eval["precision"]  # [T, R, K, A, M]
    out = np.full((len(classes), len(thresholds)), np.nan)
    for k, c in enumerate(classes):
        for t in range(len(thresholds)):
            p = prec[t, :, k, 0, 0]
            if (p > -1).any():
                out[k, t] = p.mean()
    return classes, out


@st.composite
def coco_scene(draw):
    dets, gts = draw(scene(classes="ab"))
    # COCOeval takes finite, distinct scores and real boxes; the rest is ours alone
    # (and boxes with x2 > x1, y2 > y1: ours are the hull of their corners, COCO's widths are signed)
    dets = [d for d in dets if not math.isnan(d[1]) and not math.isnan(d[0][0]) and d[0][2] > d[0][0] and d[0][3] > d[0][1]]
    scores = draw(st.lists(st.floats(0.01, 1), min_size=len(dets), max_size=len(dets), unique=True))
    return [(d[0], s, d[2], d[3]) for d, s in zip(dets, scores)], gts


@settings(max_examples=120, deadline=None)
@given(coco_scene(), st.sampled_from([(0.5,), (0.25, 0.5), tuple(np.linspace(0.5, 0.95, 10))]))
def test_against_pycocotools(sc, thresholds):
    dets, gts = sc
    assume(dets and gts)  # COCOeval refuses an empty result list
    classes, want = cocoeval(dets, gts, thresholds)
    got = run(dets, gts, thresholds=thresholds, interpolation="coco101")
    assert got.classes == classes
    # COCOeval divides by tp + fp + eps (2.2e-16): agreement to 1e-9
    np.testing.assert_allclose(got.ap, want, atol=1e-9, equal_nan=True)


def test_a_known_coco_scene():
    # two images, a perfect hit, a duplicate, a miss, a false positive of a class without truth
    dets = [([0, 0, 10, 10], 0.9, "cat", 0), ([0, 0, 10, 10], 0.8, "cat", 0), ([50, 50, 60, 60], 0.7, "dog", 1),
            ([0, 0, 5, 5], 0.6, "bird", 1)]
    gts = [([0, 0, 10, 10], "cat", 0), ([50, 50, 60, 60], "dog", 1), ([20, 20, 30, 30], "dog", 1)]
    classes, want = cocoeval(dets, gts, (0.5,))
    got = run(dets, gts, thresholds=(0.5,))
    np.testing.assert_allclose(got.ap, want, atol=1e-9, equal_nan=True)
    assert got.classes == ["bird", "cat", "dog"] and math.isnan(got.ap[0, 0])
    assert got.ap[1, 0] == pytest.approx(1.0) and got.ap[2, 0] == pytest.approx(51 / 101)
    assert got.per_class()["cat"][0.5] == pytest.approx(1.0)


# ---- 3D (yaw boxes), as lmms-eval's SUN RGB-D metric describes it --------------------------------


@st.composite
def yaw_scene(draw):
    dets, gts = [], []
    for img in range(draw(st.integers(1, 3))):
        for _ in range(draw(st.integers(0, 4))):
            g = [draw(st.floats(-5, 5)), draw(st.floats(-5, 5)), draw(st.floats(0, 3)), draw(st.floats(0.5, 3)),
                 draw(st.floats(0.5, 3)), draw(st.floats(0.5, 2)), draw(st.floats(-3.1, 3.1))]
            label = draw(st.sampled_from("xy"))
            gts.append((g, label, img))
            for _ in range(draw(st.integers(0, 2))):
                d = [g[0] + draw(st.floats(-0.5, 0.5)), g[1] + draw(st.floats(-0.5, 0.5)), g[2], g[3], g[4], g[5],
                     g[6] + draw(st.floats(-0.3, 0.3))]
                dets.append((d, draw(st.floats(0, 1)), label, img))
    return dets, gts


@settings(max_examples=60, deadline=None)
@given(yaw_scene())
def test_3d_yaw_against_the_sunrgbd_metric(sc):
    dets, gts = sc
    D = [d[0] for d in dets] or np.zeros((0, 7))
    G = [g[0] for g in gts] or np.zeros((0, 7))
    r = vr.detection_map(D, [d[1] for d in dets], [d[2] for d in dets], [d[3] for d in dets], G, [g[1] for g in gts],
                         [g[2] for g in gts], box="3d_oriented", seq="z", thresholds=(0.25, 0.5))
    for k, t in enumerate((0.25, 0.5)):
        want = oracle_ap(dets, gts, t, "coco101", yaw_iou)
        for i, c in enumerate(r.classes):
            if want[c] is None:
                assert math.isnan(r.ap[i, k])
            else:
                assert r.ap[i, k] == pytest.approx(want[c], abs=1e-9)


# ---- edges and misuse ----------------------------------------------------------------------------


def test_edges():
    empty = np.zeros((0, 4))
    r = vr.detection_map(empty, [], [], [], empty, [], [])
    assert r.classes == [] and r.ap.shape == (0, 2) and np.isnan(r.map).all()
    r = vr.detection_map(empty, [], [], [], [[0, 0, 1, 1]], ["a"], [0])  # truth, no detections: 0
    assert r.ap.tolist() == [[0.0, 0.0]] and r.mean == 0.0
    r = vr.detection_map([[0, 0, 1, 1]], [0.5], ["a"], [0], empty, [], [])  # detections, no truth: NaN
    assert np.isnan(r.ap).all() and np.isnan(r.mean)
    # a duplicate cannot raise AP; a box that is not one is a false positive
    one = vr.detection_map([[0, 0, 1, 1]], [0.9], ["a"], [0], [[0, 0, 1, 1], [5, 5, 6, 6]], ["a", "a"], [0, 0])
    dup = vr.detection_map([[0, 0, 1, 1]] * 3, [0.9, 0.8, 0.7], ["a"] * 3, [0] * 3, [[0, 0, 1, 1], [5, 5, 6, 6]], ["a", "a"], [0, 0])
    assert dup.ap[0, 0] <= one.ap[0, 0]
    bad = vr.detection_map([[math.nan, 0, 1, 1], [0, 0, 1, 1], [1e308, -1e308, math.inf, 1]], [0.9, 0.5, 0.4], ["a"] * 3,
                           [0] * 3, [[0, 0, 1, 1]], ["a"], [0])
    assert np.isfinite(bad.ap).all() and bad.ap[0, 0] == pytest.approx(oracle_ap(
        [([math.nan, 0, 1, 1], 0.9, "a", 0), ([0, 0, 1, 1], 0.5, "a", 0)], [([0, 0, 1, 1], "a", 0)], 0.25, "coco101",
        lambda a, b: oracles.iou(a, b, 2))["a"])
    # labels and images of any hashable kind, torch inputs
    import torch

    t = vr.detection_map(torch.tensor([[0., 0., 1., 1.]]), torch.tensor([0.5]), torch.tensor([3]), ["img.jpg"],
                         torch.tensor([[0., 0., 1., 1.]]), np.array([3]), ["img.jpg"])
    assert t.classes == [3] and t.ap.tolist() == [[1.0, 1.0]]


def test_misuse_names_the_argument():
    ok = dict(pred_boxes=[[0, 0, 1, 1]], pred_scores=[0.5], pred_labels=["a"], pred_image=[0], gt_boxes=[[0, 0, 1, 1]],
              gt_labels=["a"], gt_image=[0])
    cases = [("pred_boxes", [[0, 0, 1]], ValueError), ("gt_boxes", [[0, 0, 1, 1, 2]], ValueError),
             ("pred_scores", [0.5, 0.6], ValueError), ("pred_labels", ["a", "b"], ValueError),
             ("gt_image", [[0]], ValueError), ("pred_boxes", [["a", "b", "c", "d"]], TypeError)]
    for name, value, err in cases:
        with pytest.raises(err, match=name):
            vr.detection_map(**{**ok, name: value})
    for kw, name in [({"box": "4d"}, "box"), ({"interpolation": "voc12"}, "interpolation"), ({"thresholds": (0.0,)}, "thresholds"),
                     ({"thresholds": (1.5,)}, "thresholds"), ({"thresholds": ()}, "thresholds"), ({"seq": "z"}, "seq")]:
        with pytest.raises(ValueError, match=name):
            vr.detection_map(**ok, **kw)


def test_a_nan_score_ranks_after_minus_inf():
    # one truth; a NaN-scored miss written first, then a -inf-scored hit: NaN last gives AP 1 (a tie
    # with -inf, broken by input order, would rank the miss first: AP 0.5)
    r = vr.detection_map([[50, 50, 60, 60], [0, 0, 10, 10]], [math.nan, -math.inf], ["a", "a"], [0, 0],
                         [[0, 0, 10, 10]], ["a"], [0], thresholds=(0.5,))
    assert r.ap.tolist() == [[1.0]]
