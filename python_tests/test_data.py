"""The camera-calibrated synthetic data: determinism, the geometry of every ground-truth field
against independent oracles, targets that parse and score as a perfect model's, and the JSONL that
`verireward score` reads."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import verireward as vr
from verireward import data
import oracles


@pytest.fixture(scope="module")
def samples():
    return data.grounding_samples(30, seed=7)


def test_same_seed_same_samples_and_different_seeds_differ(samples):
    again = data.grounding_samples(30, seed=7)
    for a, b in zip(samples, again):
        assert a.target == b.target and np.array_equal(a.points, b.points) and np.array_equal(a.R, b.R)
    other = data.grounding_samples(3, seed=8)
    assert other[0].target != samples[0].target
    assert {s.shape for s in samples} == set(data.SHAPES)


def test_objects_cameras_and_ground_truth(samples):
    for s in samples:
        lo, hi = s.bbox3d[:3], s.bbox3d[3:]
        assert np.all(lo >= data.METRIC_RANGE[0]) and np.all(hi <= data.METRIC_RANGE[1]) and lo[2] == 0.0
        # surface points: inside the closed AABB and on the shape's surface
        assert s.points.shape == (1024, 3) and np.all(s.points >= lo - 1e-12) and np.all(s.points <= hi + 1e-12)
        c, half = (lo + hi) / 2, (hi - lo) / 2
        u = (s.points - c) / half
        if s.shape == "box":
            assert np.all(np.isclose(np.abs(u).max(1), 1.0))
        elif s.shape == "sphere":
            assert np.allclose((u ** 2).sum(1), 1.0)
        else:
            side = np.isclose(u[:, 0] ** 2 + u[:, 1] ** 2, 1.0)
            cap = np.isclose(np.abs(u[:, 2]), 1.0) & (u[:, 0] ** 2 + u[:, 1] ** 2 <= 1 + 1e-9)
            assert np.all(side | cap)
        # the camera: a rotation, elevation 15-35 degrees above the object's centre, object in front
        assert np.allclose(s.R @ s.R.T, np.eye(3)) and np.isclose(np.linalg.det(s.R), 1.0)
        eye = -s.R.T @ s.t
        v = eye - c
        assert 15 - 1e-9 <= math.degrees(math.asin(v[2] / np.linalg.norm(v))) <= 35 + 1e-9
        corners = oracles.corners(s.bbox3d.tolist())
        assert all(oracles.homogeneous(p, s.K.tolist(), s.R.tolist(), s.t.tolist())[2] > 0 for p in corners)
        # bbox2d is the AABB's projection, normalized, and inside the image
        want = np.array(oracles.project_corners(s.bbox3d.tolist(), s.K.tolist(), s.R.tolist(), s.t.tolist())) / 512
        assert np.allclose(s.bbox2d, want, rtol=0, atol=1e-12) and np.all((s.bbox2d > 0) & (s.bbox2d < 1))
        # 16 keypoints: FPS over the surface points, and their projections
        assert np.array_equal(s.kpts3d, s.points[oracles.fps(s.points.tolist(), 16)])
        for p3, p2 in zip(s.kpts3d, s.kpts2d):
            h = oracles.homogeneous(p3.tolist(), s.K.tolist(), s.R.tolist(), s.t.tolist())
            assert np.allclose(p2, [h[0] / h[2] / 512, h[1] / h[2] / 512], atol=1e-12)


def test_targets_are_what_a_perfect_model_writes(samples, tmp_path):
    texts = [s.target for s in samples]
    gt = {"bbox2d": torch.tensor(np.stack([s.bbox2d for s in samples])),
          "bbox3d": torch.tensor(np.stack([s.bbox3d for s in samples]))}
    cams = tuple(torch.tensor(np.stack([getattr(s, k) for s in samples])) for k in "KRt")
    out = vr.GroundingVerifier(data.grounding_schema())(texts, gt, camera=cams, image_size=(512, 512))
    assert bool(out.valid.all())
    iou2d, iou3d, kpa2d, kpa3d = out.rewards.T
    assert iou2d.min() > 0.98 and iou3d.min() > 0.9  # bins of 1/1000 (4 mm in 3D)
    assert torch.all(kpa2d == 1) and torch.all(kpa3d == 1)  # keypoints quantized inside their box
    assert out.rpc.min() > 0.95
    gt_path, pred_path = tmp_path / "gt.jsonl", tmp_path / "pred.jsonl"
    data.write_jsonl(samples, str(gt_path), str(pred_path))
    first = json.loads(gt_path.read_text().splitlines()[0])
    assert set(first) == {"id", "bbox2d", "bbox3d", "K", "R", "t", "image_size"}
    from verireward.cli.score import score

    res = score(str(pred_path), str(gt_path), data.grounding_schema(), progress=False)
    m = res["metrics"]
    assert res["n"] == 30 and m["parse_failure_rate"] == 0.0 and m["KPA-3D"] == 1.0 and m["Acc@0.5"] == 1.0


def test_numeric_questions():
    qs = data.numeric_questions(9, seed=3)
    assert [q.kind for q in qs] == ["size", "distance", "depth"] * 3
    for q in qs:
        assert q.answer > 0 and round(q.answer, 2) == q.answer and q.question.endswith("in metres?")
    assert [q.answer for q in data.numeric_questions(9, seed=3)] == [q.answer for q in qs]
    with pytest.raises(ValueError, match="argument 'n' must be an int >= 0"):
        data.numeric_questions(-1)
    with pytest.raises(ValueError, match="argument 'n' must be an int >= 0"):
        data.grounding_samples(2.5)
