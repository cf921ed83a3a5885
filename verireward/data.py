"""Camera-calibrated synthetic data, seeded and built locally (no downloads), in the spirit of the
GRCA paper's benchmark (§4.1): one object per sample — a box, a cylinder or a sphere — in a world
with z up, seen by a pinhole camera framing it, with the ground truth the paper's schema asks for;
detection scenes with several labelled yaw-rotated objects, or none (:func:`detection_scenes`),
on images of real-world sizes with Qwen2.5-VL's resized frames; and numeric spatial questions
(size, distance, depth) for SNRA.

Grounding samples (:func:`grounding_samples`):

* the object sits on the floor (z = 0) at x, y in [-1, 1], sizes 0.2–1.2 m, so it lies within
  ``METRIC_RANGE`` (±2 m) on every axis;
* the camera: a 512×512 image, focal length for a 60° field of view, principal point at the
  centre; elevation 15–35° (the paper's range), any azimuth, looking at the object's centre from
  the distance at which its bounding sphere fills 60–80% of the field of view;
* ground truth: ``bbox3d`` the object's AABB (metric, world frame), ``bbox2d`` its projection
  (:func:`verireward.project_box_3d`) normalized by the image size, 1024 ``points`` sampled
  uniformly (by area) on the surface, 16 ``kpts3d`` chosen from them by farthest point sampling
  (the paper's 16 topological keypoints) and ``kpts2d`` their projections (normalized);
* ``target``: the completion a perfect model writes, in the GRCA schema (answer, description,
  bbox2d, bbox3d, kpts2d, kpts3d), bins 0..1000 over [0, 1] (2D) and ``METRIC_RANGE`` (3D);
  :func:`grounding_schema` reads it back.

:func:`write_jsonl` writes the ground truth in the format ``verireward score`` reads (and, if asked,
the targets as a prediction file).
"""

from __future__ import annotations

import json
import os
import math
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
from verireward.parsing.schema import Schema
from verireward.ops.project_box import project_box_3d
from verireward.ops.points import farthest_point_sampling
from verireward.parsing.frames import qwen_resized_size

IMAGE_SIZE = 512
FOV_DEG = 60.0
METRIC_RANGE = (-2.0, 2.0)
SHAPES = ("box", "cylinder", "sphere")
COLOURS = ["red", "blue", "green", "white", "black", "wooden", "metal", "grey"]
NOUNS = {"box": ["crate", "cabinet", "box", "table"], "cylinder": ["bin", "vase", "barrel", "lamp"],
         "sphere": ["ball", "globe", "lamp shade", "melon"]}


def intrinsics(image_size: int = IMAGE_SIZE, fov_deg: float = FOV_DEG) -> np.ndarray:
    """A pinhole K for a square image with the given horizontal field of view."""
    f = image_size / 2 / math.tan(math.radians(fov_deg) / 2)
    return np.array([[f, 0.0, image_size / 2], [0.0, f, image_size / 2], [0.0, 0.0, 1.0]])


def look_at(eye: np.ndarray, target: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """``(R, t)`` with ``X_cam = R X_world + t`` for a camera at ``eye`` looking at ``target``:
    x right, y down, z forward; the world's z is up."""
    fwd = np.asarray(target, dtype=np.float64) - np.asarray(eye, dtype=np.float64)
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    R = np.stack([right, down, fwd])
    return R, -R @ np.asarray(eye, dtype=np.float64)


def orbit_camera(rng: np.random.Generator, centre: np.ndarray, radius: float,
                 elevation_deg: Tuple[float, float] = (15.0, 35.0), fill: Tuple[float, float] = (0.6, 0.8),
                 fov_deg: float = FOV_DEG) -> Tuple[np.ndarray, np.ndarray]:
    """``(R, t)`` of a camera at a random elevation and azimuth around ``centre``, at the distance
    where a sphere of ``radius`` spans a random fraction ``fill`` of the field of view."""
    el = math.radians(rng.uniform(*elevation_deg))
    az = rng.uniform(0.0, 2 * math.pi)
    half = math.radians(fov_deg) / 2 * rng.uniform(*fill)
    dist = radius / math.sin(half)
    eye = centre + dist * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
    return look_at(eye, centre)


def _surface(rng: np.random.Generator, shape: str, centre: np.ndarray, size: np.ndarray, n: int) -> np.ndarray:
    """n points uniform (by area) on the surface of the shape inscribed in the AABB centre ± size/2."""
    half = size / 2
    if shape == "box":
        areas = np.array([size[1] * size[2], size[0] * size[2], size[0] * size[1]] * 2)
        face = rng.choice(6, size=n, p=areas / areas.sum())
        u = rng.uniform(-1, 1, size=(n, 3)) * half
        axis, sign = face % 3, np.where(face < 3, -1.0, 1.0)
        u[np.arange(n), axis] = sign * half[axis]
        return centre + u
    if shape == "cylinder":  # axis z, elliptic when the AABB is not square: radii half[0], half[1]
        r = math.sqrt(half[0] * half[1])
        side, cap = 2 * math.pi * r * size[2], 2 * math.pi * r * r
        on_side = rng.uniform(size=n) < side / (side + cap)
        theta = rng.uniform(0, 2 * math.pi, size=n)
        rad = np.where(on_side, 1.0, np.sqrt(rng.uniform(size=n)))
        z = np.where(on_side, rng.uniform(-1, 1, size=n), np.where(rng.uniform(size=n) < 0.5, -1.0, 1.0))
        return centre + np.stack([rad * np.cos(theta) * half[0], rad * np.sin(theta) * half[1], z * half[2]], 1)
    v = rng.normal(size=(n, 3))  # sphere (an ellipsoid when the AABB is not a cube)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return centre + v * half


@dataclass
class GroundingSample:
    """One object, one camera, and the ground truth (see the module docstring for frames)."""

    id: str
    shape: str
    name: str
    K: np.ndarray          # [3, 3]
    R: np.ndarray          # [3, 3]
    t: np.ndarray          # [3]
    bbox3d: np.ndarray     # [6] metric AABB
    bbox2d: np.ndarray     # [4] normalized to [0, 1]
    kpts3d: np.ndarray     # [16, 3] metric
    kpts2d: np.ndarray     # [16, 2] normalized
    points: np.ndarray     # [1024, 3] metric surface points
    description: str
    target: str            # the perfect completion in the GRCA schema


def _bins(v: np.ndarray, lo: float, hi: float) -> List[int]:
    return [int(b) for b in np.clip(np.round((np.asarray(v, dtype=np.float64) - lo) / (hi - lo) * 1000), 0, 1000)]


def _bins_inside(points: np.ndarray, box: np.ndarray, lo: float, hi: float) -> List[List[int]]:
    """Bins of points lying in the closed box, nudged to the nearest bin whose dequantized value
    (as the parser computes it, lo + b·(hi − lo)/1000) is still inside the box: a keypoint on the
    object's surface may lie on the box's boundary, and rounding must not carry it out."""
    d = points.shape[1]
    scale = (hi - lo) / 1000
    out = []
    for p in points:
        row = []
        for k, b in enumerate(_bins(p, lo, hi)):
            b_lo, b_hi = box[k], box[k + d]
            while b < 1000 and lo + scale * b < b_lo:
                b += 1
            while b > 0 and lo + scale * b > b_hi:
                b -= 1
            row.append(b)
        out.append(row)
    return out


def completion(answer: str, description: str, bbox2d: Sequence[float], bbox3d: Sequence[float],
               kpts2d: Sequence[Sequence[float]], kpts3d: Sequence[Sequence[float]],
               metric_range: Tuple[float, float] = METRIC_RANGE) -> str:
    """The GRCA schema's JSON for these values (2D normalized, 3D metric), quantized to bins 0..1000;
    keypoints stay inside their box (see :func:`_bins_inside`), so the target's KPA is 1."""
    lo, hi = metric_range
    b2, b3 = _bins(bbox2d, 0.0, 1.0), _bins(bbox3d, lo, hi)
    p2 = _bins_inside(np.asarray(kpts2d, dtype=np.float64), np.asarray(bbox2d, dtype=np.float64), 0.0, 1.0)
    p3 = _bins_inside(np.asarray(kpts3d, dtype=np.float64), np.asarray(bbox3d, dtype=np.float64), lo, hi)
    return json.dumps({"answer": answer, "description": description, "bbox2d": b2, "bbox3d": b3,
                       "kpts2d": p2, "kpts3d": p3}, separators=(", ", ": "))


def grounding_schema(metric_range: Tuple[float, float] = METRIC_RANGE, max_points: int = 16) -> Any:
    """The schema these scenes are written in: :meth:`verireward.Schema.default` with its 3D bins
    over ``metric_range`` (metres). Pass it wherever synthetic scenes are scored."""
    return Schema.default(metric_range, max_points)


def grounding_samples(n: int, seed: int = 0, *, num_points: int = 1024, num_keypoints: int = 16) -> List[GroundingSample]:
    """n samples, the same for the same seed (numpy's PCG64 and verireward's deterministic FPS)."""

    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"grounding_samples: argument 'n' must be an int >= 0, got {n!r}")
    if not isinstance(num_keypoints, int) or not 1 <= num_keypoints <= num_points:
        raise ValueError(f"grounding_samples: argument 'num_keypoints' must be an int in [1, num_points], got {num_keypoints!r}")
    rng = np.random.default_rng(seed)
    K = intrinsics()
    out = []
    for i in range(n):
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        size = rng.uniform(0.2, 1.2, size=3)
        if shape == "sphere" and rng.uniform() < 0.5:
            size[:] = size[0]
        centre = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), size[2] / 2])
        box = np.concatenate([centre - size / 2, centre + size / 2])
        R, t = orbit_camera(rng, centre, float(np.linalg.norm(size)) / 2)
        points = _surface(rng, shape, centre, size, num_points)
        keys = points[farthest_point_sampling(points[None], num_keypoints)[0]]
        px, valid = project_box_3d(box[None], K[None], R[None], t[None])
        if not bool(valid[0]):  # cannot happen: the camera looks at the object from outside it
            raise RuntimeError("grounding_samples: the object is behind the camera")
        bbox2d = np.clip(px[0] / IMAGE_SIZE, 0.0, 1.0)
        h = (K @ (R @ keys.T + t[:, None])).T
        kpts2d = np.clip(h[:, :2] / h[:, 2:], 0, IMAGE_SIZE) / IMAGE_SIZE
        name = str(rng.choice(NOUNS[shape]))
        desc = f"a {rng.choice(COLOURS)} {name} on the floor, {size.max():.1f} m at its largest"
        out.append(GroundingSample(f"syn-{seed}-{i}", shape, name, K, R, t, box, bbox2d, keys, kpts2d, points, desc,
                                   completion(name, desc, bbox2d, box, kpts2d, keys)))
    return out


def write_jsonl(samples: Sequence[GroundingSample], gt_path: str, pred_path: Optional[str] = None,
                schema_path: Optional[str] = None) -> str:
    """Ground truth for ``verireward score`` (id, bbox2d, bbox3d, K, R, t, image_size) and, with
    ``pred_path``, each sample's target as a prediction (``{"id", "text"}``). The schema the
    targets are written in (:func:`grounding_schema`) goes to ``schema_path`` (default: beside the
    ground truth, ``GT.schema.json``, where ``verireward score`` finds it). Returns that path."""
    rows = [{"id": s.id, "bbox2d": s.bbox2d.tolist(), "bbox3d": s.bbox3d.tolist(), "K": s.K.tolist(), "R": s.R.tolist(),
             "t": s.t.tolist(), "image_size": [IMAGE_SIZE, IMAGE_SIZE]} for s in samples]
    return _write_files(grounding_schema(), rows, samples, gt_path, pred_path, schema_path)


def _write_files(schema: Any, gt_rows: Sequence[dict], samples: Sequence[Any], gt_path: str, pred_path: Optional[str],
                 schema_path: Optional[str]) -> str:
    """The schema (default: beside the ground truth), the ground-truth lines, and each sample's
    ``target`` as a prediction line; returns the schema's path."""
    if schema_path is None:
        schema_path = os.path.splitext(gt_path)[0] + ".schema.json"
    with open(schema_path, "w", encoding="utf-8") as f:
        json.dump(schema.to_json(), f, indent=1)
    with open(gt_path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(row) + "\n" for row in gt_rows)
    if pred_path is not None:
        with open(pred_path, "w", encoding="utf-8") as f:
            f.writelines(json.dumps({"id": s.id, "text": s.target}) + "\n" for s in samples)
    return schema_path


# Original image sizes of the detection scenes (W, H): landscape, portrait, square, phone, panorama.
DETECTION_IMAGE_SIZES = ((640, 480), (1280, 720), (1920, 1080), (1024, 768), (720, 1280), (800, 800), (3024, 4032),
                         (2560, 1080), (333, 500))
DETECTION_LABELS = ("chair", "table", "sofa", "bed", "cabinet", "lamp", "box", "bin")


@dataclass
class DetectionScene:
    """Several labelled objects (or none) on a floor, one camera, and the detection ground truth.

    ``boxes3d [G, 7]``: each object's yaw box (cx, cy, cz, sx, sy, sz, yaw about z, radians) in the
    world frame (metres; ``iou_3d_oriented(..., "z")``); ``boxes2d [G, 4]``: its projection
    (:func:`verireward.project_box_3d` with ``seq="z"``) clipped to the image, in pixels of the
    original image; ``labels``: G names. ``resized_size`` is what a Qwen2.5-VL processor resizes
    the image to (:func:`verireward.qwen_resized_size`), and ``target`` the answer a perfect
    Qwen2.5-VL writes: a fenced JSON list of ``{"bbox_2d": [x1, y1, x2, y2], "label": ...}`` in
    pixels of the resized image (``[]`` when there is nothing to find)."""

    id: str
    image_size: Tuple[int, int]
    resized_size: Tuple[int, int]
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    labels: List[str]
    boxes3d: np.ndarray
    boxes2d: np.ndarray
    target: str


def detection_schema() -> Any:
    """The schema the scenes' targets are written in: Qwen2.5-VL's ``bbox_2d`` in pixels of the
    resized image (:meth:`verireward.Schema.qwen25vl_2d`); pass each scene's ``image_size`` and
    ``resized_size`` when parsing to get original pixels."""
    return Schema.qwen25vl_2d()


def detection_scenes(n: int, seed: int = 0, *, max_objects: int = 6, negative_rate: float = 0.15) -> List[DetectionScene]:
    """n scenes, the same for the same seed: with probability ``negative_rate`` nothing to find,
    else 1 to ``max_objects`` objects (0.2–1.0 m, any yaw, apart from each other) on the floor
    within ±2 m, seen by a camera 15–35° above the floor framing them all, on an image of one of
    :data:`DETECTION_IMAGE_SIZES` (60° horizontal field of view). An object whose projection is
    invalid or less than 2 pixels wide or high inside the image is left out of the ground truth."""

    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"detection_scenes: argument 'n' must be an int >= 0, got {n!r}")
    if isinstance(max_objects, bool) or not isinstance(max_objects, int) or not 1 <= max_objects <= 64:
        raise ValueError(f"detection_scenes: argument 'max_objects' must be an int in [1, 64], got {max_objects!r}")
    if not (isinstance(negative_rate, (int, float)) and 0.0 <= negative_rate <= 1.0):
        raise ValueError(f"detection_scenes: argument 'negative_rate' must be in [0, 1], got {negative_rate!r}")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        W, H = DETECTION_IMAGE_SIZES[int(rng.integers(len(DETECTION_IMAGE_SIZES)))]
        count = 0 if rng.uniform() < negative_rate else int(rng.integers(1, max_objects + 1))
        boxes: List[np.ndarray] = []
        for _ in range(200 * count):  # rejection sampling: footprints' circles apart
            if len(boxes) == count:
                break
            size = rng.uniform(0.2, 1.0, size=3)
            c = np.array([rng.uniform(-2, 2), rng.uniform(-2, 2), size[2] / 2])
            r = float(np.linalg.norm(size[:2])) / 2
            if all(np.linalg.norm(c[:2] - b[:2]) > r + float(np.linalg.norm(b[3:5])) / 2 for b in boxes):
                boxes.append(np.concatenate([c, size, [rng.uniform(-math.pi, math.pi)]]))
        b3 = np.array(boxes, dtype=np.float64).reshape(-1, 7)
        centre = b3[:, :3].mean(0) if len(b3) else np.array([0.0, 0.0, 0.3])
        reach = max([float(np.linalg.norm(b[:3] - centre)) + float(np.linalg.norm(b[3:6])) / 2 for b in b3] + [1.0])
        f = W / 2 / math.tan(math.radians(FOV_DEG) / 2)
        K = np.array([[f, 0.0, W / 2], [0.0, f, H / 2], [0.0, 0.0, 1.0]])
        R, t = orbit_camera(rng, centre, reach, fill=(0.7, 0.9))
        labels = [str(rng.choice(DETECTION_LABELS)) for _ in range(len(b3))]
        keep, b2 = np.zeros(0, dtype=bool), np.zeros((0, 4))
        if len(b3):
            px, ok = project_box_3d(b3, K[None], R[None], t[None], seq="z")
            b2 = np.clip(px, 0.0, [W, H, W, H])
            keep = ok & (b2[:, 2] - b2[:, 0] >= 2) & (b2[:, 3] - b2[:, 1] >= 2)
        b3, b2 = b3[keep], b2[keep]
        labels = [lab for lab, k in zip(labels, keep) if k]
        rw, rh = (int(v) for v in qwen_resized_size((W, H)).reshape(-1))
        scale = np.array([rw / W, rh / H, rw / W, rh / H])
        objects = [{"bbox_2d": [int(v) for v in np.round(b * scale)], "label": lab} for b, lab in zip(b2, labels)]
        target = "```json\n" + json.dumps(objects, indent=1) + "\n```"
        out.append(DetectionScene(f"det-{seed}-{i}", (W, H), (rw, rh), K, R, t, labels, b3, b2, target))
    return out


def write_detection_jsonl(scenes: Sequence[DetectionScene], gt_path: str, pred_path: Optional[str] = None,
                          schema_path: Optional[str] = None) -> str:
    """Multi-object ground truth for ``verireward score`` (id, ``boxes`` in original pixels,
    ``labels``, ``image_size``, ``resized_size``, ``boxes3d``, K, R, t) and, with ``pred_path``,
    each scene's target as a prediction (``{"id", "text"}``); the schema
    (:func:`detection_schema`) beside the ground truth, as :func:`write_jsonl` does. Returns its path."""
    rows = [{"id": s.id, "boxes": s.boxes2d.tolist(), "labels": s.labels, "image_size": list(s.image_size),
             "resized_size": list(s.resized_size), "boxes3d": s.boxes3d.tolist(), "K": s.K.tolist(), "R": s.R.tolist(),
             "t": s.t.tolist()} for s in scenes]
    return _write_files(detection_schema(), rows, scenes, gt_path, pred_path, schema_path)


@dataclass
class NumericQuestion:
    """A numeric spatial question about a two-object scene seen by one camera."""

    id: str
    kind: str        # "size", "distance" or "depth"
    question: str
    answer: float    # metres, rounded to 0.01
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray


def numeric_questions(n: int, seed: int = 0) -> List[NumericQuestion]:
    """n questions cycling through size (the largest dimension of an object), distance (between
    the two objects' centres) and depth (an object's centre along the camera's optical axis)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"numeric_questions: argument 'n' must be an int >= 0, got {n!r}")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        sizes = rng.uniform(0.2, 1.2, size=(2, 3))
        centres = np.stack([np.array([rng.uniform(-1.5, 1.5), rng.uniform(-1.5, 1.5), s[2] / 2]) for s in sizes])
        names = [str(rng.choice(NOUNS[SHAPES[int(rng.integers(3))]])) for _ in range(2)]
        mid = centres.mean(0)
        R, t = orbit_camera(rng, mid, float(np.linalg.norm(centres[0] - centres[1])) / 2 + 0.8)
        kind = ("size", "distance", "depth")[i % 3]
        if kind == "size":
            q, a = f"How large is the {names[0]} at its largest dimension, in metres?", float(sizes[0].max())
        elif kind == "distance":
            q, a = f"How far apart are the centres of the {names[0]} and the {names[1]}, in metres?", \
                float(np.linalg.norm(centres[0] - centres[1]))
        else:
            q, a = f"How far is the centre of the {names[0]} from the camera along its viewing axis, in metres?", \
                float((R @ centres[0] + t)[2])
        out.append(NumericQuestion(f"num-{seed}-{i}", kind, q, round(a, 2), intrinsics(), R, t))
    return out


__all__ = ["grounding_samples", "GroundingSample", "grounding_schema", "completion", "write_jsonl", "numeric_questions",
           "NumericQuestion", "intrinsics", "look_at", "orbit_camera", "IMAGE_SIZE", "METRIC_RANGE", "detection_scenes",
           "DetectionScene", "detection_schema", "write_detection_jsonl", "DETECTION_IMAGE_SIZES", "DETECTION_LABELS"]
