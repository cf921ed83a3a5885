"""Baselines that ``verireward bench`` times verireward against.

* ``py_*``: pure-Python per-sample loops, the way VLM grounding RL repos compute IoU rewards today
  (ordered corners assumed, one Python call per sample).
* ``torch_*``: vectorized torch on the same device, written as people write them (torchvision's
  ``box_iou`` pattern), with the same semantics as verireward where it matters for agreement
  (near-plane clipping in the projection).
* ``shapely_iou_2d``: shapely 2 vectorized polygons (2D IoU only).
"""

from __future__ import annotations

import math
import re

import numpy as np

from typing import List, Sequence, Tuple

import torch

# ---- pure Python, one sample at a time ----------------------------------------------------------


def py_iou(a: Sequence[float], b: Sequence[float], dim: int) -> float:
    inter = 1.0
    va = 1.0
    vb = 1.0
    for k in range(dim):
        inter *= max(0.0, min(a[k + dim], b[k + dim]) - max(a[k], b[k]))
        va *= a[k + dim] - a[k]
        vb *= b[k + dim] - b[k]
    union = va + vb - inter
    return inter / union if union > 0 else 0.0


def py_iou_batch(a: List[List[float]], b: List[List[float]], dim: int) -> List[float]:
    return [py_iou(x, y, dim) for x, y in zip(a, b)]


def py_pairwise(a: List[List[float]], b: List[List[float]], dim: int) -> List[List[float]]:
    return [[py_iou(x, y, dim) for y in b] for x in a]


_EDGES = [(c, c | bit) for c in range(8) for bit in (1, 2, 4) if not c & bit]


def py_project(box: Sequence[float], K, R, t, near: float) -> Tuple[List[float], bool]:
    hs = []
    for c in range(8):
        X = [box[k + 3] if (c >> k) & 1 else box[k] for k in range(3)]
        xc = [sum(R[i][j] * X[j] for j in range(3)) + t[i] for i in range(3)]
        hs.append([sum(K[i][j] * xc[j] for j in range(3)) for i in range(3)])
    us, vs = [], []
    for h in hs:
        if h[2] >= near:
            us.append(h[0] / h[2])
            vs.append(h[1] / h[2])
    for i, j in _EDGES:
        p, q = hs[i], hs[j]
        if (p[2] >= near) != (q[2] >= near):
            s = (near - p[2]) / (q[2] - p[2])
            us.append((p[0] + s * (q[0] - p[0])) / near)
            vs.append((p[1] + s * (q[1] - p[1])) / near)
    if not us:
        return [0.0, 0.0, 0.0, 0.0], False
    return [min(us), min(vs), max(us), max(vs)], True


def py_project_batch(boxes, K, R, t, near: float) -> Tuple[List[List[float]], List[bool]]:
    res = [py_project(b, K, R, t, near) for b in boxes]
    return [r[0] for r in res], [r[1] for r in res]


def py_containment_batch(points, counts, boxes, dim: int) -> List[float]:
    out = []
    for pts, c, box in zip(points, counts, boxes):
        inside = 0
        for p in pts[:c]:
            if all(box[k] <= p[k] <= box[k + dim] for k in range(dim)):
                inside += 1
        out.append(inside / c if c else 0.0)
    return out


# ---- vectorized torch -----------------------------------------------------------------------------


def torch_iou(a: torch.Tensor, b: torch.Tensor, dim: int) -> torch.Tensor:
    lt = torch.maximum(a[..., :dim], b[..., :dim])
    rb = torch.minimum(a[..., dim:], b[..., dim:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    union = (a[..., dim:] - a[..., :dim]).prod(-1) + (b[..., dim:] - b[..., :dim]).prod(-1) - inter
    return inter / union


def torch_pairwise(a: torch.Tensor, b: torch.Tensor, dim: int) -> torch.Tensor:
    return torch_iou(a[:, None, :], b[None, :, :], dim)


_BITS = [[(c >> k) & 1 for k in range(3)] for c in range(8)]


def torch_project(boxes: torch.Tensor, K: torch.Tensor, R: torch.Tensor, t: torch.Tensor, near: float):
    bits = torch.tensor(_BITS, dtype=boxes.dtype, device=boxes.device)
    lo, hi = boxes[:, :3], boxes[:, 3:]
    X = lo[:, None, :] + bits[None] * (hi - lo)[:, None, :]                  # [N, 8, 3]
    return torch_project_corners(X, K, R, t, near)


def torch_oriented_corners(boxes: torch.Tensor) -> torch.Tensor:
    """[N, 8, 3] corners of (cx, cy, cz, sx, sy, sz, a, b, c) boxes, extrinsic xyz in radians:
    R = Rz(c) Ry(b) Rx(a), corner k = centre + R ((bits_k - 1/2) * size)."""
    one, zero = torch.ones_like(boxes[:, 0]), torch.zeros_like(boxes[:, 0])

    def rot(a, i, j):  # the elementary rotation in the (i, j) plane
        c, s = torch.cos(a), torch.sin(a)
        M = torch.stack([one, zero, zero, zero, one, zero, zero, zero, one], 1).reshape(-1, 3, 3).clone()
        M[:, i, i], M[:, i, j], M[:, j, i], M[:, j, j] = c, -s, s, c
        return M
    Rb = rot(boxes[:, 8], 0, 1) @ rot(boxes[:, 7], 2, 0) @ rot(boxes[:, 6], 1, 2)
    bits = torch.tensor(_BITS, dtype=boxes.dtype, device=boxes.device) - 0.5
    local = bits[None] * boxes[:, None, 3:6]                                  # [N, 8, 3]
    return boxes[:, None, :3] + local @ Rb.transpose(-1, -2)


def torch_project_corners(X: torch.Tensor, K: torch.Tensor, R: torch.Tensor, t: torch.Tensor, near: float):
    """The near-plane-clipped enclosing image box of the solids with corners X [N, 8, 3]."""
    h = (X @ R.transpose(-1, -2) + t.reshape(-1, 1, 3)) @ K.transpose(-1, -2)  # [N, 8, 3]
    vis = h[..., 2] >= near
    i0 = torch.tensor([e[0] for e in _EDGES], device=X.device)
    i1 = torch.tensor([e[1] for e in _EDGES], device=X.device)
    p, q = h[:, i0], h[:, i1]                                                # [N, 12, 3]
    cross = vis[:, i0] != vis[:, i1]
    s = ((near - p[..., 2]) / (q[..., 2] - p[..., 2])).unsqueeze(-1)
    e = p + s * (q - p)
    u = torch.cat([h[..., 0] / h[..., 2], e[..., 0] / near], 1)
    v = torch.cat([h[..., 1] / h[..., 2], e[..., 1] / near], 1)
    mask = torch.cat([vis, cross], 1)
    inf = torch.tensor(float("inf"), dtype=X.dtype, device=X.device)
    out = torch.stack([
        torch.where(mask, u, inf).amin(1), torch.where(mask, v, inf).amin(1),
        torch.where(mask, u, -inf).amax(1), torch.where(mask, v, -inf).amax(1),
    ], 1)
    valid = mask.any(1)
    return torch.where(valid[:, None], out, torch.zeros_like(out)), valid


def torch_containment(points: torch.Tensor, counts: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    dim = points.shape[-1]
    inside = ((points >= boxes[:, None, :dim]) & (points <= boxes[:, None, dim:])).all(-1)
    used = torch.arange(points.shape[1], device=points.device)[None, :] < counts[:, None]
    c = counts.to(points.dtype)
    return torch.where(c > 0, (inside & used).sum(1).to(points.dtype) / c.clamp(min=1), torch.zeros_like(c))


# ---- shapely ------------------------------------------------------------------------------------


def shapely_iou_2d(a, b):
    import shapely

    pa = shapely.box(a[:, 0], a[:, 1], a[:, 2], a[:, 3])
    pb = shapely.box(b[:, 0], b[:, 1], b[:, 2], b[:, 3])
    inter = shapely.area(shapely.intersection(pa, pb))
    return inter / (shapely.area(pa) + shapely.area(pb) - inter)


def shapely_rotated_iou(a, b):
    """Per pair, the way evaluation code computes rotated IoU today: a shapely polygon of each
    rotated rectangle (cx, cy, w, h, θ), intersection and union areas."""
    from shapely import Polygon

    out = []
    for p, q in zip(a, b):
        pa, pb = Polygon(_rect_corners(p)), Polygon(_rect_corners(q))
        inter = pa.intersection(pb).area
        out.append(inter / (pa.area + pb.area - inter))
    return out


def shapely_yaw_iou(a, b):
    """Per pair, lmms-eval's SUN RGB-D way: the shapely bird's-eye IoU of the yaw boxes (cx, cy,
    cz, sx, sy, sz, yaw) turned into a volume IoU with the height overlap."""
    from shapely import Polygon

    out = []
    for p, q in zip(a, b):
        pa, pb = Polygon(_rect_corners((p[0], p[1], p[3], p[4], p[6]))), Polygon(_rect_corners((q[0], q[1], q[3], q[4], q[6])))
        inter2 = pa.intersection(pb).area
        dz = max(0.0, min(p[2] + p[5] / 2, q[2] + q[5] / 2) - max(p[2] - p[5] / 2, q[2] - q[5] / 2))
        inter = inter2 * dz
        out.append(inter / (pa.area * p[5] + pb.area * q[5] - inter))
    return out


def _rect_corners(r):
    cx, cy, w, h, t = r
    c, s = math.cos(t), math.sin(t)
    return [(cx + c * x - s * y, cy + s * x + c * y) for x, y in ((w / 2, h / 2), (-w / 2, h / 2), (-w / 2, -h / 2), (w / 2, -h / 2))]


def scipy_match_totals(pred, pc, gt, gc, pred_labels=None, gt_labels=None):
    """Per sample, the way set rewards are computed today: a numpy IoU matrix (zeroed where the
    labels differ, when given: lists of label lists) and scipy's linear_sum_assignment on it; the
    matched total IoU (pairs of IoU 0 do not count)."""
    from scipy.optimize import linear_sum_assignment

    out = []
    for s, (p, n, g, m) in enumerate(zip(pred, pc, gt, gc)):
        p, g = p[:n], g[:m]
        if n == 0 or m == 0:
            out.append(0.0)
            continue
        lo = np.maximum(p[:, None, :2], g[None, :, :2])
        hi = np.minimum(p[:, None, 2:], g[None, :, 2:])
        inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
        area = lambda b: np.prod(b[:, 2:] - b[:, :2], axis=1)
        iou = inter / (area(p)[:, None] + area(g)[None, :] - inter)
        if pred_labels is not None:
            same = np.asarray(pred_labels[s][:n])[:, None] == np.asarray(gt_labels[s][:m])[None, :]
            iou = np.where(same, iou, 0.0)
        r, c = linear_sum_assignment(-iou)
        out.append(float(iou[r, c].sum()))
    return out


def python_detection_map(dets, gts, thresholds):
    """The mAP of a straightforward Python evaluator (numpy IoU per image, a greedy loop, COCO's
    101-point interpolation): dets and gts as dicts image -> list of (box, score, label) / (box,
    label)."""
    classes = sorted({g[1] for rows in gts.values() for g in rows} | {d[2] for rows in dets.values() for d in rows})
    out = []
    for t in thresholds:
        aps = []
        for c in classes:
            scored, npos = [], 0
            for img in sorted(set(gts) | set(dets)):
                g = [b for b, lab in gts.get(img, []) if lab == c]
                d = sorted([(s, b) for b, s, lab in dets.get(img, []) if lab == c], key=lambda x: -x[0])
                npos += len(g)
                if not d:
                    continue
                if g:
                    G, P = np.asarray(g, dtype=np.float64), np.asarray([b for _, b in d], dtype=np.float64)
                    lo, hi = np.maximum(P[:, None, :2], G[None, :, :2]), np.minimum(P[:, None, 2:], G[None, :, 2:])
                    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
                    area = lambda b: np.prod(b[:, 2:] - b[:, :2], axis=1)
                    iou = inter / (area(P)[:, None] + area(G)[None, :] - inter)
                taken = [False] * len(g)
                for i, (s, _) in enumerate(d):
                    best, m = min(t, 1 - 1e-10), -1
                    for j in range(len(g)):
                        if not taken[j] and iou[i, j] >= best:
                            best, m = iou[i, j], j
                    if m >= 0:
                        taken[m] = True
                    scored.append((s, m >= 0))
            if npos == 0:
                continue
            scored.sort(key=lambda x: -x[0])
            hits = np.asarray([h for _, h in scored], dtype=np.float64)
            tp, fp = np.cumsum(hits), np.cumsum(1 - hits)
            rec, prec = tp / npos, tp / np.maximum(tp + fp, 1)
            prec = np.maximum.accumulate(prec[::-1])[::-1] if len(prec) else prec
            idx = np.searchsorted(rec, np.arange(101) * 0.01, side="left")
            aps.append(sum(prec[k] if k < len(prec) else 0.0 for k in idx) / 101)
        out.append(float(np.mean(aps)) if aps else float("nan"))
    return out


# ---- point-patch masking and AP-GRPO, vectorized torch -----------------------------------------------


def torch_fps(xyz, G: int):
    """Farthest point sampling as Point-MAE/PointLLM write it in torch: one vectorized step per centre,
    here in float64 with verireward's distance formula so that both pick the same centres."""
    B, P, _ = xyz.shape
    x, y, z = xyz[..., 0].double(), xyz[..., 1].double(), xyz[..., 2].double()
    idx = torch.zeros(B, G, dtype=torch.long, device=xyz.device)
    nearest = torch.full((B, P), float("inf"), dtype=torch.float64, device=xyz.device)
    far = torch.zeros(B, dtype=torch.long, device=xyz.device)
    rows = torch.arange(B, device=xyz.device)
    for g in range(G):
        idx[:, g] = far
        dx, dy, dz = x - x[rows, far, None], y - y[rows, far, None], z - z[rows, far, None]
        nearest = torch.minimum(nearest, dx * dx + dy * dy + dz * dz)
        far = nearest.argmax(1)
    return idx


def torch_mask_point_patches(points, G: int, K: int, ratio: float, generator):
    """FPS, KNN by torch.cdist + topk (Point-MAE's grouping; cdist in its exact per-pair mode, as the
    matrix-product mode is off by up to 1e-3 at small distances), random patch masking and removal
    of the masked points; returns (centres, neighbour distances, points, counts)."""
    B, P, _ = points.shape
    xyz = points[..., :3]
    centres = torch_fps(xyz, G)
    c = torch.gather(xyz, 1, centres[..., None].expand(-1, -1, 3))
    dist, patches = torch.cdist(c, xyz, compute_mode="donot_use_mm_for_euclid_dist").topk(K, dim=-1, largest=False)
    order = torch.rand(B, G, generator=generator, device=points.device).argsort(dim=1)
    masked_patches = torch.zeros(B, G, dtype=torch.bool, device=points.device)
    masked_patches.scatter_(1, order[:, : int(ratio * G)], True)
    hits = torch.zeros(B, P, dtype=torch.uint8, device=points.device)
    hits.scatter_reduce_(1, patches.reshape(B, -1), masked_patches[:, :, None].expand(B, G, K).reshape(B, -1).to(torch.uint8),
                         reduce="amax")
    keep = hits == 0
    order_kept = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)
    out = torch.gather(points, 1, order_kept[:, :, None].expand_as(points))
    counts = keep.sum(1)
    out = torch.where(torch.arange(P, device=points.device)[None, :, None] < counts[:, None, None], out, 0)
    return centres, dist, out, counts


def torch_ap_grpo(R, r_abs, G: int, alpha: float, clip: float, eps: float = 1e-6, floor: float = 1e-6):
    """AP-GRPO (SmoothOp Eq. 8) as a torch expression over [N / G, G] groups, with GRPO's flat-group rule."""
    r = R.view(-1, G).double()
    mean, std = r.mean(1, keepdim=True), r.std(1, keepdim=True)
    flat = std <= floor * r.abs().amax(1, keepdim=True)
    a = torch.where(flat, torch.zeros_like(r), (r - mean) / (std + eps))
    return (a * r_abs.view(-1, G).double() ** alpha).clamp(-clip, clip).reshape(-1).to(R.dtype)


# ---- peers: what users reach for (optional packages; the bench skips a missing one) --------------

FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def fenced_json_objects(texts, max_objects: int, box_key: str, label_key: str, loads):
    """How detection answers are read today: a fence regex and a JSON parser (``orjson.loads`` or
    ``json.loads``) per completion, into the arrays verireward returns: boxes ``[N, M, 4]`` (NaN
    past the objects), counts ``[N]`` and N label lists. An answer whose JSON does not load has no
    objects."""
    n = len(texts)
    flat: list = []
    labels = []
    counts = np.zeros(n, dtype=np.int64)
    search = FENCE.search
    for i, t in enumerate(texts):
        m = search(t)
        try:
            objs = loads(m.group(1) if m else t)
        except ValueError:
            objs = []
        objs = objs[:max_objects] if isinstance(objs, list) else []
        flat += [o[box_key] for o in objs]
        labels.append([o.get(label_key) for o in objs])
        counts[i] = len(objs)
    boxes = np.full((n, max_objects, 4), np.nan)
    boxes[np.arange(max_objects)[None, :] < counts[:, None]] = np.asarray(flat, dtype=np.float64).reshape(-1, 4)
    return boxes, counts, labels


def orjson_loads():
    """orjson's loads (imported here: orjson is optional, a peer)."""
    import orjson

    return orjson.loads


def coco_ap(module: str, gt_coco, results, thresholds, n_classes: int) -> np.ndarray:
    """AP ``[C, K]`` by pycocotools' COCOeval (``module="pycocotools"``) or faster-coco-eval's
    COCOeval_faster, configured as detection_map computes: one area range, a detection cap that
    never binds, ``thresholds``; the results list (COCO's ``loadRes`` input) loaded inside, as a
    user's evaluation does. ``gt_coco``: the ground truth's COCO object (built once, outside)."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt_coco.loadRes(results)
        if module == "pycocotools":
            from pycocotools.cocoeval import COCOeval

            ev = COCOeval(gt_coco, dt, "bbox")
        else:
            from faster_coco_eval import COCOeval_faster

            ev = COCOeval_faster(gt_coco, dt, "bbox", print_function=lambda *a, **k: None)
        ev.params.iouThrs = np.asarray(thresholds, dtype=np.float64)
        ev.params.areaRng, ev.params.areaRngLbl = [[0, 1e10]], ["all"]
        ev.params.maxDets = [1_000_000]
        ev.evaluate()
        ev.accumulate()
    prec = np.asarray(ev.eval["precision"])[:, :, :, 0, 0]  # [K, R, C]
    valid = (prec > -1).any(axis=1)
    ap = np.where(valid, np.where(prec > -1, prec, 0).mean(axis=1), np.nan)  # [K, C]
    return ap.T[:n_classes]


def coco_ground_truth(module: str, boxes, labels, images, n_images: int, n_classes: int):
    """The ground truth as the peer's COCO object (xywh boxes, categories 1..C, images 1..n)."""
    import contextlib
    import io

    if module == "pycocotools":
        from pycocotools.coco import COCO
    else:
        from faster_coco_eval import COCO
    b = np.asarray(boxes, dtype=np.float64)
    anns = [{"id": k + 1, "image_id": int(images[k]) + 1, "category_id": int(labels[k]) + 1,
             "bbox": [b[k, 0], b[k, 1], b[k, 2] - b[k, 0], b[k, 3] - b[k, 1]],
             "area": float((b[k, 2] - b[k, 0]) * (b[k, 3] - b[k, 1])), "iscrowd": 0} for k in range(len(b))]
    gt = COCO()
    gt.dataset = {"images": [{"id": i + 1} for i in range(n_images)],
                  "categories": [{"id": c + 1} for c in range(n_classes)], "annotations": anns}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
    return gt
