"""The cases ``verireward bench`` times: for each op, seeded inputs built on the requested device
and dtype, verireward's call, its baselines (vectorized torch, a pure-Python per-sample loop,
shapely, the GRCA pipeline's per-sample Python pipelines) on the same inputs, and the agreement
tolerance. :mod:`verireward._bench.runner` checks agreement, times and reports them.
"""

from __future__ import annotations

import importlib.util
import math

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

import verireward as vr
from verireward._bench import baselines as bl, pipeline as pl
from verireward._bench.pipeline_baseline import python_pipeline
from verireward.data import DETECTION_LABELS, detection_scenes

DEFAULT_SIZES: Dict[str, int] = {  # pairwise ops: N x N
    "iou_2d": 4_000_000,
    "iou_3d": 4_000_000,
    "pairwise_iou_2d": 2000,
    "pairwise_iou_3d": 2000,
    "project_box_3d": 1_000_000,
    "rpc": 1_000_000,
    "keypoint_containment": 262_144,
    "grca_pipeline": 4096,  # completions (groups of 8, about 150 tokens each)
    "mask_point_patches": 32,  # clouds of 8192 points, 512 patches of 32, ratio 0.4
    "ap_grpo_advantages": 1_048_576,  # rewards in groups of 8
    "iou_2d_rotated": 1_000_000,
    "iou_3d_oriented": 1_000_000,  # yaw-only (7-DoF) boxes
    "iou_3d_oriented_9dof": 100_000,  # three angles
    "rpc_oriented": 1_000_000,  # 9-DoF boxes
    "match_boxes": 4096,  # samples of up to 20 x 20 boxes
    "detection_map": 10_000,  # images, ~5 objects and ~8 detections each, 3 classes
    "pairwise_iou_3d_oriented": 1000,
    "parse_objects": 4096,  # Qwen2.5-VL answers, 1-20 labelled boxes each
    "match_boxes_crowded": 1024,  # samples of 50-100 predicted and 50-100 true boxes
    "match_boxes_crowded_labels": 1024,  # the same with 10 string labels
    "detection_map_coco": 5000,  # images at COCO val2017 scale: 80 classes, 100 detections each
}
# ops timed a second time on one thread (the peers they are compared with run on one core)
ONE_THREAD_OPS = ("parse_objects", "match_boxes_crowded", "match_boxes_crowded_labels", "detection_map_coco")
PIPELINE_PYTHON_ROWS = 512  # completions the per-sample Python pipeline runs on

# Optional packages: a baseline (by name) or a whole case (by op) that needs one is skipped, with a
# line saying so, when it is not installed. `pip install "verireward[bench]"` installs them all.
BASELINE_NEEDS: Dict[str, str] = {"shapely": "shapely", "shapely-bev": "shapely", "scipy": "scipy", "orjson": "orjson",
                                  "pycocotools": "pycocotools", "faster-coco-eval": "faster_coco_eval"}
# the peers (`pip install "verireward[peers]"`): optional, not in [bench]
PEERS = ("orjson", "pycocotools", "faster-coco-eval")
CASE_NEEDS: Dict[str, str] = {"grca_pipeline": "tokenizers"}  # the case trains a tokenizer at bench time


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@dataclass
class Case:
    op: str
    size: str
    elements: int                       # outputs per call: the throughput unit
    verireward: Callable[[], Any]
    baselines: Dict[str, Callable[[], Any]]         # full size
    prefix_baselines: Dict[str, Callable[[], Any]]  # on a prefix of python_elements outputs
    verireward_prefix: Callable[[], Any]
    python_elements: int
    copy_bytes: int                     # bytes the memcpy row copies; 0: no memcpy row
    tolerance: float
    results: List[Dict[str, Any]] = field(default_factory=list)
    timed_only: Tuple[str, ...] = ()    # baselines that compute another quantity: timed, not compared
    canon: Optional[Callable[[Any], np.ndarray]] = None  # an output -> the float array compared (default to_np)


def _boxes(gen: torch.Generator, n: int, dim: int, dtype, device) -> torch.Tensor:
    lo = torch.rand(n, dim, generator=gen, dtype=torch.float64) * 100
    hi = lo + 1 + torch.rand(n, dim, generator=gen, dtype=torch.float64) * 50
    return torch.cat([lo, hi], 1).to(dtype=dtype, device=device)


def _scene(gen: torch.Generator, n: int, dtype, device):
    """Boxes around the origin and one camera looking at them from 3 m; about one box in ten reaches
    behind the near plane, so the clipping path is part of what is timed."""
    boxes = _boxes(gen, n, 3, torch.float64, "cpu") / 25 - 2  # within [-2, 4]
    K = torch.tensor([[500.0, 0, 256], [0, 500, 256], [0, 0, 1]], dtype=torch.float64)
    R = torch.eye(3, dtype=torch.float64)
    t = torch.tensor([0.0, 0.0, 3.0], dtype=torch.float64)
    cast = lambda x: x.to(dtype=dtype, device=device)
    return cast(boxes), cast(K[None]), cast(R[None]), cast(t[None])


def to_np(x: Any) -> np.ndarray:
    if isinstance(x, tuple):
        return np.concatenate([to_np(v).reshape(len(to_np(x[0])), -1) for v in x], axis=1)
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().to(torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _iou_case(op: str, gen, n: int, p: int, dtype, device: str, tol: float) -> Case:
    dim = 2 if op == "iou_2d" else 3
    a, b = _boxes(gen, n, dim, dtype, device), _boxes(gen, n, dim, dtype, device)
    a_l, b_l = a[:p].tolist(), b[:p].tolist()
    fn = vr.iou_2d if dim == 2 else vr.iou_3d
    slow = {"python": lambda: bl.py_iou_batch(a_l, b_l, dim)}
    if dim == 2:
        a_np, b_np = a[:p].cpu().numpy(), b[:p].cpu().numpy()
        slow["shapely"] = lambda: bl.shapely_iou_2d(a_np, b_np)
    return Case(op, f"n={n:,}", n, lambda: fn(a, b), {"torch": lambda: bl.torch_iou(a, b, dim)}, slow,
                lambda: fn(a[:p], b[:p]), p, 2 * a.numel() * a.element_size(), tol)


def _oriented_boxes(gen, n: int, kind: str, dtype, device) -> torch.Tensor:
    """Random rotated rectangles (cx, cy, w, h, θ) or yaw boxes (cx, cy, cz, sx, sy, sz, yaw) that often overlap."""
    if kind == "2d":
        c, s = torch.rand(n, 2, generator=gen, dtype=torch.float64) * 4, torch.rand(n, 2, generator=gen, dtype=torch.float64) * 3 + 0.1
        x = torch.cat([c, s, (torch.rand(n, 1, generator=gen, dtype=torch.float64) - 0.5) * 2 * math.pi], 1)
    else:
        c, s = torch.rand(n, 3, generator=gen, dtype=torch.float64) * 4, torch.rand(n, 3, generator=gen, dtype=torch.float64) * 3 + 0.1
        x = torch.cat([c, s, (torch.rand(n, 1, generator=gen, dtype=torch.float64) - 0.5) * 2 * math.pi], 1)
    return x.to(dtype=dtype, device=device)


def _oriented_case(op: str, gen, n: int, p: int, dtype, device: str, tol: float) -> Case:
    kind = "2d" if "2d" in op else "3d"
    pairwise = op.startswith("pairwise")
    full = op.endswith("9dof")
    a, b = _oriented_boxes(gen, n, kind, dtype, device), _oriented_boxes(gen, n, kind, dtype, device)
    if full:  # Qwen3-VL's 9-DoF boxes: three angles (extrinsic xyz), the third drawn as the yaw
        tilt = lambda x: torch.cat([x[:, :6], (torch.rand(n, 2, generator=gen, dtype=torch.float64) - 0.5).to(x) * 0.6,
                                    x[:, 6:]], 1)
        a, b = tilt(a), tilt(b)
        nine = lambda x, y: vr.iou_3d_oriented(x, y, "xyz")
        q = max(1, min(n, p // 10))
        a_l, b_l = a[:q].tolist(), b[:q].tolist()
        # the per-pair way evaluation code scores such boxes today: shapely's bird's-eye IoU of the
        # yaw rectangle times the height overlap (the two other angles ignored): timed, not compared
        birds_eye = lambda: bl.shapely_yaw_iou([x[:6] + x[8:] for x in a_l], [y[:6] + y[8:] for y in b_l])
        return Case(op, f"n={n:,}", n, lambda: nine(a, b), {}, {"shapely-bev": birds_eye}, lambda: nine(a[:q], b[:q]), q,
                    0, tol, timed_only=("shapely-bev",))
    fn = {"iou_2d_rotated": vr.iou_2d_rotated, "iou_3d_oriented": vr.iou_3d_oriented,
          "pairwise_iou_3d_oriented": vr.pairwise_iou_3d_oriented}[op]
    peer = bl.shapely_rotated_iou if kind == "2d" else bl.shapely_yaw_iou
    # shapely per pair is slow: a prefix of at most p / 10 pairs (the ratio is by throughput)
    q = max(1, min(n, p // 10))
    if pairwise:
        rows = max(1, q // n)
        a_l, b_l = a[:rows].tolist(), b.tolist()
        pairs = lambda: peer([x for x in a_l for _ in b_l], [y for _ in a_l for y in b_l])
        return Case(op, f"{n:,}x{n:,}", n * n, lambda: fn(a, b), {}, {"shapely": pairs}, lambda: fn(a[:rows], b), rows * n,
                    0, tol)
    a_l, b_l = a[:q].tolist(), b[:q].tolist()
    return Case(op, f"n={n:,}", n, lambda: fn(a, b), {}, {"shapely": lambda: peer(a_l, b_l)}, lambda: fn(a[:q], b[:q]), q,
                0, tol)


def _pairwise_case(op: str, gen, n: int, p: int, dtype, device: str, tol: float) -> Case:
    dim = 2 if op.endswith("2d") else 3
    a, b = _boxes(gen, n, dim, dtype, device), _boxes(gen, n, dim, dtype, device)
    rows = max(1, p // n)
    a_l, b_l = a[:rows].tolist(), b.tolist()
    fn = vr.pairwise_iou_2d if dim == 2 else vr.pairwise_iou_3d
    return Case(op, f"{n:,}x{n:,}", n * n, lambda: fn(a, b), {"torch": lambda: bl.torch_pairwise(a, b, dim)},
                {"python": lambda: bl.py_pairwise(a_l, b_l, dim)}, lambda: fn(a[:rows], b), rows * n,
                n * n * a.element_size(), tol)


def _projection_case(op: str, gen, n: int, p: int, dtype, device: str, tol: float) -> Case:
    boxes, K, R, t = _scene(gen, n, dtype, device)
    K_l, R_l, t_l = K[0].tolist(), R[0].tolist(), t[0].tolist()
    bx_l = boxes[:p].tolist()
    near = 1e-4
    if op == "project_box_3d":
        ptol = 1e-4 if dtype == torch.float32 else 1e-9  # pixels near the plane reach 1e6
        return Case(op, f"n={n:,}", n, lambda: vr.project_box_3d(boxes, K, R, t, near),
                    {"torch": lambda: bl.torch_project(boxes, K, R, t, near)},
                    {"python": lambda: bl.py_project_batch(bx_l, K_l, R_l, t_l, near)},
                    lambda: vr.project_box_3d(boxes[:p], K, R, t, near), p, boxes.numel() * boxes.element_size(), ptol)
    noise = torch.randn(n, 4, generator=gen).to(dtype=dtype, device=device) * 10
    b2 = vr.project_box_3d(boxes, K, R, t, near)[0] + noise
    b2 = torch.cat([torch.minimum(b2[:, :2], b2[:, 2:]), torch.maximum(b2[:, :2], b2[:, 2:])], 1)  # ordered corners
    b2_l = b2[:p].tolist()

    def torch_rpc():
        proj, valid = bl.torch_project(boxes, K, R, t, near)
        return torch.where(valid, bl.torch_iou(b2, proj, 2), torch.zeros_like(b2[:, 0]))

    def py_rpc():
        out = []
        for q, bx in zip(b2_l, bx_l):
            proj, ok = bl.py_project(bx, K_l, R_l, t_l, near)
            out.append(bl.py_iou(q, proj, 2) if ok else 0.0)
        return out

    return Case(op, f"n={n:,}", n, lambda: vr.rpc(b2, boxes, K, R, t, near), {"torch": torch_rpc}, {"python": py_rpc},
                lambda: vr.rpc(b2[:p], boxes[:p], K, R, t, near), p,
                (boxes.numel() + b2.numel()) * boxes.element_size(), tol)


def _rpc_oriented_case(op: str, gen, n: int, p: int, dtype, device: str, tol: float) -> Case:
    """RPC of oriented (9-DoF) boxes: the near-plane-clipped projection of the tilted box, its IoU
    with a noisy 2D box; against the same in vectorized torch."""
    aabb, K, R, t = _scene(gen, n, dtype, device)
    centre, size = (aabb[:, :3] + aabb[:, 3:]) / 2, (aabb[:, 3:] - aabb[:, :3])
    angles = ((torch.rand(n, 3, generator=gen, dtype=torch.float64) - 0.5) * 2 * math.pi).to(dtype=dtype, device=device)
    boxes = torch.cat([centre, size, angles], 1)
    near = 1e-4
    proj = vr.project_box_3d(boxes, K, R, t, near, seq="xyz")[0]
    noise = torch.randn(n, 4, generator=gen).to(dtype=dtype, device=device) * 10
    b2 = proj + noise
    b2 = torch.cat([torch.minimum(b2[:, :2], b2[:, 2:]), torch.maximum(b2[:, :2], b2[:, 2:])], 1)

    def torch_rpc():  # in float64, as verireward computes (float32 rotations alone are off by 5e-4 in IoU)
        d = lambda x: x.to(torch.float64)
        pr, valid = bl.torch_project_corners(bl.torch_oriented_corners(d(boxes)), d(K), d(R), d(t), near)
        return torch.where(valid, bl.torch_iou(d(b2), pr, 2), torch.zeros_like(d(b2)[:, 0])).to(dtype)

    return Case(op, f"n={n:,}", n, lambda: vr.rpc(b2, boxes, K, R, t, near, seq="xyz"), {"torch": torch_rpc}, {},
                lambda: vr.rpc(b2[:p], boxes[:p], K, R, t, near, seq="xyz"), p, 0, tol)


def _match_case(op: str, gen, n: int, p: int, dtype, device: str, tol: float) -> Case:
    """4096 samples of up to 20 predictions against up to 20 ground-truth boxes (many overlap,
    some duplicates): the maximum matched total IoU per sample."""
    P = G = 20
    g = torch.rand(n, G, 2, generator=gen, dtype=torch.float64) * 10
    gt = torch.cat([g, g + 1 + torch.rand(n, G, 2, generator=gen, dtype=torch.float64) * 3], 2)
    pick = torch.randint(0, G, (n, P), generator=gen)
    pred = torch.gather(gt, 1, pick[..., None].expand(n, P, 4)) + torch.randn(n, P, 4, generator=gen, dtype=torch.float64) * 0.5
    pred = torch.cat([torch.minimum(pred[..., :2], pred[..., 2:]), torch.maximum(pred[..., :2], pred[..., 2:])], 2)
    pc, gc = torch.randint(0, P + 1, (n,), generator=gen), torch.randint(0, G + 1, (n,), generator=gen)
    pred, gt = pred.to(dtype), gt.to(dtype)
    q = max(1, min(n, p // 40))
    pn, gn, pcl, gcl = pred[:q].double().numpy(), gt[:q].double().numpy(), pc[:q].tolist(), gc[:q].tolist()
    totals = lambda a, b, c, d: vr.match_boxes(a, c, b, d).iou.double().sum(1)
    return Case(op, f"N={n:,} P,G<=20", n, lambda: totals(pred, gt, pc, gc), {},
                {"scipy": lambda: bl.scipy_match_totals(pn, pcl, gn, gcl)}, lambda: totals(pred[:q], gt[:q], pc[:q], gc[:q]),
                q, 0, 1e-9 if dtype == torch.float64 else 1e-4)


def _detection_case(op: str, gen, n: int, p: int, dtype, device: str, tol: float) -> Case:
    """n synthetic detection scenes (:func:`verireward.data.detection_scenes`: 0-6 labelled objects
    per image, one in six with nothing to find, real-world image sizes) and detections around their
    ground truth (near copies, duplicates, wrong classes, false positives); mAP at IoU 0.5 and 0.75,
    COCO's 101 points."""
    scenes = detection_scenes(n, seed=int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
    per = torch.tensor([len(s.labels) for s in scenes], dtype=torch.int64)
    T = int(per.sum())
    gt = torch.from_numpy(np.concatenate([s.boxes2d for s in scenes] + [np.zeros((0, 4))]))
    g_img = torch.repeat_interleave(torch.arange(n), per)
    g_lab = torch.tensor([DETECTION_LABELS.index(lab) for s in scenes for lab in s.labels], dtype=torch.int64)
    C = len(DETECTION_LABELS)
    src = torch.randint(0, max(T, 1), (T * 3 // 2,), generator=gen)
    size = (gt[src, 2:] - gt[src, :2]).repeat(1, 2)
    det = gt[src] + torch.randn(len(src), 4, generator=gen, dtype=torch.float64) * 0.08 * size
    det = torch.cat([torch.minimum(det[:, :2], det[:, 2:]), torch.maximum(det[:, :2], det[:, 2:]) + 0.1], 1)
    d_img, d_lab = g_img[src], torch.where(torch.rand(len(src), generator=gen) < 0.9, g_lab[src], torch.randint(0, C, (len(src),), generator=gen))
    score = torch.rand(len(src), generator=gen, dtype=torch.float64)
    thr = (0.5, 0.75)
    q = max(1, min(n, p // 10))
    dn, gn = det.numpy(), gt.numpy()

    def by_image(limit):
        dets: dict = {}
        gts: dict = {}
        for i in np.nonzero(d_img.numpy() < limit)[0]:
            dets.setdefault(int(d_img[i]), []).append((dn[i].tolist(), float(score[i]), int(d_lab[i])))
        for i in np.nonzero(g_img.numpy() < limit)[0]:
            gts.setdefault(int(g_img[i]), []).append((gn[i].tolist(), int(g_lab[i])))
        return dets, gts

    small = by_image(q)

    def inputs(limit):  # the first `limit` images, selected before timing
        dk, gk = d_img < limit, g_img < limit
        return det[dk], score[dk], d_lab[dk], d_img[dk], gt[gk], g_lab[gk], g_img[gk]

    full, prefix = inputs(n), inputs(q)
    ours = lambda args: vr.detection_map(*args, thresholds=thr).map
    return Case(op, f"{n:,} images, {T:,} boxes", n, lambda: ours(full), {},
                {"python": lambda: bl.python_detection_map(small[0], small[1], thr)}, lambda: ours(prefix), q, 0, 1e-9)


def _containment_case(op: str, gen, n: int, p: int, dtype, device: str, tol: float) -> Case:
    k = 16
    boxes = _boxes(gen, n, 3, dtype, device)
    pts = (torch.rand(n, k, 3, generator=gen, dtype=torch.float64) * 150).to(dtype=dtype, device=device)
    counts = torch.randint(0, k + 1, (n,), generator=gen).to(device)
    pts_l, c_l, b_l = pts[:p].tolist(), counts[:p].tolist(), boxes[:p].tolist()
    return Case(op, f"n={n:,} K={k}", n, lambda: vr.keypoint_containment(pts, counts, boxes),
                {"torch": lambda: bl.torch_containment(pts, counts, boxes)},
                {"python": lambda: bl.py_containment_batch(pts_l, c_l, b_l, 3)},
                lambda: vr.keypoint_containment(pts[:p], counts[:p], boxes[:p]), p,
                pts.numel() * pts.element_size(), tol)


def _pipeline_case(op: str, gen, n: int, p: int, dtype, device: str, tol: float) -> Case:
    """Texts + token ids → routed per-token advantages (GRCA with RPC), in float64 whatever --dtype:
    the precision rewards are computed in. See verireward._bench.pipeline."""

    group = 8
    n = max(group, n - n % group)
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
    batch = pl.make_batch(n, group, seed)
    if device != "cpu":
        K, R, t = batch.camera
        batch.gt = {k: v.to(device) for k, v in batch.gt.items()}
        batch.camera, batch.mask = (K.to(device), R.to(device), t.to(device)), batch.mask.to(device)
    verifier = vr.GroundingVerifier(pl.schema())
    p = max(group, min(n, PIPELINE_PYTHON_ROWS) // group * group)
    small = pl.slice_batch(batch, p)
    ids = [r[m].tolist() for r, m in zip(small.token_ids, small.mask.cpu())]
    gt2d, gt3d = small.gt["bbox2d"].tolist(), small.gt["bbox3d"].tolist()
    cams = list(zip(*(c.tolist() for c in small.camera)))
    tokens = float(batch.mask.sum(1).double().mean())
    return Case(op, f"N={n:,} L~{tokens:.0f}", n, lambda: pl.verireward_pipeline(batch, verifier), {},
                {"python": lambda: python_pipeline(small.texts, ids, gt2d, gt3d, cams, batch.tokenizer, group),
                 "py-prefix": lambda: python_pipeline(small.texts, ids, gt2d, gt3d, cams, batch.tokenizer, group,
                                                      offsets="prefix")},
                lambda: pl.verireward_pipeline(small, verifier), p, 0, 1e-9)


def _mask_case(op: str, gen, n: int, p: int, dtype, device: str, tol: float) -> Case:
    """B clouds of 8192 points (xyz + 3 features) in the unit cube: FPS + KNN + masking of 40% of
    512 patches of 32, against torch as Point-MAE writes it. Agreement: the same centres, and the
    same sorted neighbour distances (torch's cdist is float32, so near-ties may pick other points
    at the same distance)."""
    points = torch.rand(n, 8192, 6, generator=gen).to(dtype=dtype, device=device)
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))

    def ours():
        m = vr.mask_point_patches(points, 512, 32, 0.4, torch.Generator(device=device).manual_seed(seed))
        return m.centres.double(), m.distances.sqrt()

    def theirs():
        centres, dist, _, _ = bl.torch_mask_point_patches(points, 512, 32, 0.4, torch.Generator(device=device).manual_seed(seed))
        return centres.double(), dist.double()

    return Case(op, f"B={n} P=8192", n, ours, {"torch": theirs}, {}, ours, 0, points.numel() * points.element_size(), 2e-5)


def _ap_grpo_case(op: str, gen, n: int, p: int, dtype, device: str, tol: float) -> Case:
    n = max(8, n - n % 8)
    R = torch.rand(n, generator=gen).to(dtype=dtype, device=device)
    r_abs = torch.rand(n, generator=gen).to(dtype=dtype, device=device)
    return Case(op, f"n={n:,} G=8", n, lambda: vr.ap_grpo_advantages(R, r_abs, 8),
                {"torch": lambda: bl.torch_ap_grpo(R, r_abs, 8, 1.0, 1.5)}, {}, lambda: vr.ap_grpo_advantages(R, r_abs, 8),
                0, 2 * R.numel() * R.element_size(), 1e-4 if dtype == torch.float32 else 1e-9)


PARSE_LABELS = ("person", "car", "chair", "cup", "traffic light", "dining table", "potted plant", "handbag",
                "red umbrella", "bottle", "stop sign", "cell phone")


def _qwen25vl_answers(rng: np.random.Generator, n: int) -> List[str]:
    """n answers as Qwen2.5-VL writes grounding: a fenced JSON list of 1-20
    ``{"bbox_2d": [x1, y1, x2, y2], "label": ...}`` in pixels of the resized image, one object a
    line, now and then a sentence before the fence."""
    out = []
    for i in range(n):
        k = int(rng.integers(1, 21))
        xy = rng.integers(0, 1100, (k, 2))
        wh = rng.integers(4, 400, (k, 2))
        lab = rng.integers(0, len(PARSE_LABELS), k)
        rows = ",\n".join(f'\t{{"bbox_2d": [{x}, {y}, {x + w}, {y + h}], "label": "{PARSE_LABELS[c]}"}}'
                          for (x, y), (w, h), c in zip(xy.tolist(), wh.tolist(), lab.tolist()))
        lead = "Here are the objects I found.\n" if i % 7 == 0 else ""
        out.append(f"{lead}```json\n[\n{rows}\n]\n```")
    return out


def _parse_canon(out: Any) -> np.ndarray:
    """Boxes (NaN as -1), counts and label codes of either side's output, as one float array."""
    if isinstance(out, tuple):
        boxes, counts, labels = out
    else:
        boxes, counts, labels = np.asarray(out.values["bbox_2d"]), np.asarray(out.counts), out.labels
    code = {name: k for k, name in enumerate(PARSE_LABELS)}
    lab = np.full(boxes.shape[:2], -2.0)
    for i, row in enumerate(labels):
        lab[i, :len(row)] = [code.get(v, -1) for v in row]
    return np.concatenate([np.nan_to_num(boxes, nan=-1.0).reshape(len(boxes), -1), np.asarray(counts, dtype=np.float64)[:, None],
                           lab], axis=1)


def _parse_case(op: str, gen, n: int, p: int, dtype, device: str, tol: float) -> Case:
    """n Qwen2.5-VL answers (:func:`_qwen25vl_answers`) read into padded boxes, counts and label
    lists: ``parse_objects`` with ``Schema.qwen25vl_2d()`` against a fence regex + ``orjson.loads``
    (and ``json.loads``) per answer into the same arrays. The answers are all well formed, so the
    peers can read them (verireward also reads what they drop: truncated answers, box tokens,
    prose)."""
    import json

    rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
    texts = _qwen25vl_answers(rng, n)
    schema = vr.Schema.qwen25vl_2d()
    M = 64
    ours = lambda: vr.parse_objects(texts, schema, max_objects=M, array="numpy")
    peers = {"orjson": lambda: bl.fenced_json_objects(texts, M, "bbox_2d", "label", bl.orjson_loads()),
             "json": lambda: bl.fenced_json_objects(texts, M, "bbox_2d", "label", json.loads)}
    mb = sum(len(t) for t in texts) / 1e6
    return Case(op, f"N={n:,} {mb:.1f} MB", n, ours, peers, {}, ours, 0, 0, 0.0, canon=_parse_canon)


def crowded_scenes(rng: np.random.Generator, n: int, classes: int):
    """n crowded detection scenes on a 1000 x 1000 image: 50-100 true boxes (10-250 px, log-uniform
    sizes, overlapping freely) and 50-100 predictions (90% near a truth, some duplicated, the rest
    anywhere), labels of ``classes`` names (90% of the matched truth's)."""
    P = G = 100
    gc, pc = rng.integers(50, G + 1, n), rng.integers(50, P + 1, n)
    size = np.exp(rng.uniform(np.log(10), np.log(250), (n, G, 2)))
    lo = rng.uniform(0, 1000, (n, G, 2)) - size / 2
    gt = np.concatenate([lo, lo + size], 2)
    src = rng.integers(0, G, (n, P)) % gc[:, None]
    near = np.take_along_axis(gt, src[..., None].repeat(4, 2), 1)
    jitter = rng.normal(0, 0.08, (n, P, 4)) * np.concatenate([size, size], 2)[np.arange(n)[:, None], src]
    pred = near + jitter
    stray = rng.random((n, P)) < 0.1
    psize = np.exp(rng.uniform(np.log(10), np.log(250), (n, P, 2)))
    plo = rng.uniform(0, 1000, (n, P, 2))
    pred[stray] = np.concatenate([plo, plo + psize], 2)[stray]
    pred = np.concatenate([np.minimum(pred[..., :2], pred[..., 2:]), np.maximum(pred[..., :2], pred[..., 2:])], 2)
    names = [f"class{k}" for k in range(classes)]
    gcls = rng.integers(0, classes, (n, G))
    pcls = np.where(rng.random((n, P)) < 0.9, np.take_along_axis(gcls, src, 1), rng.integers(0, classes, (n, P)))
    gl = [[names[c] for c in row[:k]] for row, k in zip(gcls.tolist(), gc.tolist())]
    pl = [[names[c] for c in row[:k]] for row, k in zip(pcls.tolist(), pc.tolist())]
    return pred, pc, gt, gc, pl, gl


def _match_crowded_case(op: str, gen, n: int, p: int, dtype, device: str, tol: float) -> Case:
    """Crowded scenes (:func:`crowded_scenes`): the maximum matched total IoU per sample, against
    a per-sample numpy IoU matrix + scipy ``linear_sum_assignment``; ``match_boxes_crowded_labels``
    with 10 string labels (pairs of different labels may not match; verireward takes the lists as
    they are, the loop compares them as numpy string arrays)."""
    rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
    pred, pc, gt, gc, pl, gl = crowded_scenes(rng, n, 10)
    labels = op.endswith("_labels")
    pt, gtt = torch.from_numpy(pred).to(dtype), torch.from_numpy(gt).to(dtype)
    q = max(1, min(n, p // 5))  # about 200 samples: the loop takes about 0.6 ms a sample
    pn, gn = pt[:q].double().numpy(), gtt[:q].double().numpy()
    lab = (pl, gl) if labels else (None, None)
    lab_q = (pl[:q], gl[:q]) if labels else (None, None)

    def totals(a, ac, b, bc, l_):
        return vr.match_boxes(a, ac, b, bc, pred_labels=l_[0], gt_labels=l_[1]).iou.double().sum(1)

    return Case(op, f"N={n:,} P,G=50-100", n, lambda: totals(pt, pc, gtt, gc, lab), {},
                {"scipy": lambda: bl.scipy_match_totals(pn, pc[:q].tolist(), gn, gc[:q].tolist(), *lab_q)},
                lambda: totals(pt[:q], pc[:q], gtt[:q], gc[:q], lab_q), q, 0, 1e-9 if dtype == torch.float64 else 1e-4)


def _coco_scale(rng: np.random.Generator, n: int, classes: int = 80, per_image: int = 100):
    """n images at COCO val2017's scale: 1-14 truths each (7.3 on average, 80 classes), 640 x 480,
    and ``per_image`` scored detections each (near copies of the truths, wrong classes, strays)."""
    g_per = rng.integers(1, 15, n)
    T = int(g_per.sum())
    g_img = np.repeat(np.arange(n), g_per)
    wh = np.exp(rng.uniform(np.log(8), np.log(400), (T, 2)))
    lo = rng.uniform(0, 1, (T, 2)) * np.maximum([640.0, 480.0] - wh, 1.0)
    gt = np.concatenate([lo, lo + wh], 1)
    g_lab = rng.integers(0, classes, T)
    D = n * per_image
    d_img = np.repeat(np.arange(n), per_image)
    first = np.concatenate([[0], np.cumsum(g_per)[:-1]])
    src = first[d_img] + (rng.integers(0, 1 << 30, D) % g_per[d_img])
    size = np.concatenate([wh[src], wh[src]], 1)
    det = gt[src] + rng.normal(0, 0.12, (D, 4)) * size
    stray = rng.random(D) < 0.5
    slo = rng.uniform(0, 600, (D, 2))
    det[stray] = np.concatenate([slo, slo + rng.uniform(8, 200, (D, 2))], 1)[stray]
    det = np.concatenate([np.minimum(det[:, :2], det[:, 2:]), np.maximum(det[:, :2], det[:, 2:]) + 0.5], 1)
    d_lab = np.where(rng.random(D) < 0.8, g_lab[src], rng.integers(0, classes, D))
    score = rng.permutation(D).astype(np.float64) / D + 1e-6  # distinct, as COCOeval's sort wants
    return det, score, d_lab, d_img, gt, g_lab, g_img


def _detection_coco_case(op: str, gen, n: int, p: int, dtype, device: str, tol: float) -> Case:
    """``detection_map`` at COCO val2017 scale (:func:`_coco_scale`; thresholds 0.5:0.95, COCO's
    101 points) against pycocotools' COCOeval and faster-coco-eval's COCOeval_faster, each
    configured as detection_map computes (one area range, a cap that never binds), timed from the
    results list to the AP matrix (``loadRes``, ``evaluate``, ``accumulate``) on the first 500
    images (the ground truth's COCO object is built outside the timing); AP per class and
    threshold compared to 1e-9."""
    rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
    C = 80
    det, score, d_lab, d_img, gt, g_lab, g_img = _coco_scale(rng, n, C)
    thr = tuple(np.round(np.linspace(0.5, 0.95, 10), 2))
    q = max(1, min(n, 500))
    dk, gk = d_img < q, g_img < q
    ours = lambda k_d, k_g: vr.detection_map(det[k_d], score[k_d], d_lab[k_d], d_img[k_d], gt[k_g], g_lab[k_g], g_img[k_g],
                                             thresholds=thr).ap
    all_d, all_g = np.ones(len(det), bool), np.ones(len(gt), bool)
    xywh = np.concatenate([det[dk][:, :2], det[dk][:, 2:] - det[dk][:, :2]], 1).tolist()
    results = [{"image_id": int(i) + 1, "category_id": int(c) + 1, "bbox": b, "score": float(s)}
               for i, c, b, s in zip(d_img[dk], d_lab[dk], xywh, score[dk])]

    def peer(name: str) -> Callable[[], Any]:
        """The peer's AP; its ground-truth COCO object built on the first call (the untimed
        agreement check), so a peer that is not installed (dropped by build_cases) builds nothing."""
        built: Dict[str, Any] = {}

        def run() -> Any:
            if "gt" not in built:
                built["gt"] = bl.coco_ground_truth(name, gt[gk], g_lab[gk], g_img[gk], q, C)
            return bl.coco_ap(name, built["gt"], results, thr, C)
        return run

    peers = {name: peer(name) for name in ("pycocotools", "faster-coco-eval")}
    # the prefix's classes: those in its truth or detections (what detection_map reports)
    present = np.union1d(np.unique(g_lab[gk]), np.unique(d_lab[dk]))
    canon = lambda out: np.nan_to_num(np.asarray(out, dtype=np.float64)[present] if len(out) == C else np.asarray(out), nan=-1.0)
    return Case(op, f"{n:,} images, {len(gt):,} truths, {len(det):,} dets", n, lambda: ours(all_d, all_g), {}, peers,
                lambda: ours(dk, gk), q, 0, 1e-9, canon=canon)


_BUILDERS = {
    "iou_2d": _iou_case,
    "iou_3d": _iou_case,
    "pairwise_iou_2d": _pairwise_case,
    "pairwise_iou_3d": _pairwise_case,
    "project_box_3d": _projection_case,
    "rpc": _projection_case,
    "keypoint_containment": _containment_case,
    "grca_pipeline": _pipeline_case,
    "mask_point_patches": _mask_case,
    "ap_grpo_advantages": _ap_grpo_case,
    "iou_2d_rotated": _oriented_case,
    "iou_3d_oriented": _oriented_case,
    "pairwise_iou_3d_oriented": _oriented_case,
    "iou_3d_oriented_9dof": _oriented_case,
    "rpc_oriented": _rpc_oriented_case,
    "match_boxes": _match_case,
    "detection_map": _detection_case,
    "parse_objects": _parse_case,
    "match_boxes_crowded": _match_crowded_case,
    "match_boxes_crowded_labels": _match_crowded_case,
    "detection_map_coco": _detection_coco_case,
}


def build_cases(sizes: Dict[str, int], dtype, device: str, python_limit: int, seed: int,
                skipped: List[str] = None) -> List[Case]:
    """One Case per op in `sizes` (op -> n; for pairwise ops n x n), from one seeded generator.

    A case or baseline whose optional package is not installed is left out, and one line saying
    which and why is appended to `skipped` (when given)."""
    gen = torch.Generator().manual_seed(seed)
    tol = 1e-5 if dtype == torch.float32 else 1e-9
    notes = skipped if skipped is not None else []
    hint = 'pip install "verireward[bench]"'
    cases = []
    for op, n in sizes.items():
        need = CASE_NEEDS.get(op)
        if need and not _installed(need):
            notes.append(f"skipped case {op}: it needs {need}, which is not installed ({hint})")
            continue
        case = _BUILDERS[op](op, gen, n, min(n, python_limit), dtype, device, tol)
        for table in (case.baselines, case.prefix_baselines):
            for name in list(table):
                need = BASELINE_NEEDS.get(name)
                if need and not _installed(need):
                    del table[name]
                    how = 'pip install "verireward[peers]"' if name in PEERS else hint
                    notes.append(f"skipped baseline {name} of {op}: {need} is not installed ({how})")
        cases.append(case)
    return cases
