"""Trust: GroundingVerifier takes the ground truth the docs promise (numpy, lists, any real
dtype) and blames misuse on its own public arguments. Each test failed before its fix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import verireward as vr

TEXTS = ['{"bbox2d": [200, 200, 600, 600], "bbox3d": [100, 100, 500, 250, 400, 900]}', 'nothing']
GT2 = [[0.2, 0.2, 0.6, 0.6]]
GT3 = [[0.1, 0.1, 0.5, 0.4, 0.4, 0.9]]


@pytest.mark.parametrize("kind", ["torch", "numpy", "list", "int", "float16"])
def test_ground_truth_of_every_documented_kind(kind):
    conv = {"torch": torch.tensor, "numpy": np.array, "list": lambda x: x,
            "int": lambda x: (np.array(x) * 1000).astype(np.int64), "float16": lambda x: torch.tensor(x, dtype=torch.float16)}[kind]
    gt = {"bbox2d": conv(GT2), "bbox3d": conv(GT3)}
    schema = None
    if kind == "int":  # integer ground truth in bins: a schema that keeps bins as written
        schema = vr.Schema((vr.Field("bbox2d", "box2d", frame="raw"), vr.Field("bbox3d", "box3d", frame="raw")))
    out = vr.GroundingVerifier(schema)(TEXTS, gt)
    assert isinstance(out.rewards, torch.Tensor) and out.rewards.dtype in (torch.float32, torch.float64)
    assert out.rewards[0, :2].tolist() == pytest.approx([1.0, 0.5], abs=2e-3)
    assert out.rewards[1].tolist() == [0.0] * out.rewards.shape[1]


@pytest.mark.parametrize("call, message", [
    (lambda v: v(TEXTS, {"bbox2d": torch.zeros(3, 4), "bbox3d": torch.zeros(1, 6)}),
     r"GroundingVerifier: gt\['bbox2d'\] must have shape \[2\|1, 4\] for 2 completions, got \[3, 4\]"),
    (lambda v: v(TEXTS, {"bbox2d": torch.zeros(1, 4)}),
     "GroundingVerifier: argument 'gt' needs the key 'bbox3d'"),
    (lambda v: v(TEXTS, [1, 2]), "GroundingVerifier: argument 'gt' must be a dict"),
    (lambda v: v(TEXTS, {"bbox2d": [[1, 2], [3]], "bbox3d": GT3}), r"gt\['bbox2d'\] must be an array of shape"),
    (lambda v: v(TEXTS, {"bbox2d": ["a", "b", "c", "d"], "bbox3d": GT3}), r"gt\['bbox2d'\] must hold real numbers"),
    (lambda v: v(TEXTS, {"bbox2d": GT2, "bbox3d": GT3}, camera=torch.eye(3)),
     r"GroundingVerifier: argument 'camera' must be a tuple \(K, R, t\), got Tensor"),
    (lambda v: v(TEXTS, {"bbox2d": GT2, "bbox3d": GT3}, camera=(torch.eye(3), torch.eye(3), torch.zeros(2, 3, 3))),
     r"GroundingVerifier: camera\[2\] \(t\) must have shape \[2\|1, 3\] or \[3\]"),
    (lambda v: v(TEXTS, {"bbox2d": GT2, "bbox3d": GT3}, camera=(torch.eye(4), torch.eye(3), torch.zeros(3))),
     r"GroundingVerifier: camera\[0\] \(K\) must have shape"),
    (lambda v: v(TEXTS, {"bbox2d": GT2, "bbox3d": GT3}, camera=(torch.eye(3), torch.eye(3), torch.zeros(3)), image_size=(640, 480, 3)),
     r"GroundingVerifier: image_size must have shape \[2\|1, 2\] or \[2\]"),
    (lambda v: v(TEXTS, {"bbox2d": GT2, "bbox3d": GT3}, camera=(torch.eye(3), torch.eye(3), torch.zeros(3)), image_size=(640, -1)),
     "GroundingVerifier: argument 'image_size' must hold finite"),
    (lambda v: v(TEXTS, {"bbox2d": torch.zeros(1, 4).to_sparse(), "bbox3d": GT3}), r"gt\['bbox2d'\] must be a dense tensor"),
])
def test_misuse_names_the_public_argument(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call(vr.GroundingVerifier())


def test_verifier_options_are_checked():
    with pytest.raises(TypeError, match="GroundingVerifier: argument 'schema' must be a verireward.Schema, got dict"):
        vr.GroundingVerifier({"bbox2d": "box2d"})
    with pytest.raises(ValueError, match="GroundingVerifier: argument 'near' must be a finite number > 0"):
        vr.GroundingVerifier(near=0)


def test_rpc_with_numpy_camera_and_per_row_image_size():
    K = np.array([[500., 0., 256.], [0., 500., 256.], [0., 0., 1.]])
    out = vr.GroundingVerifier()(TEXTS, {"bbox2d": np.array(GT2), "bbox3d": np.array(GT3)},
                                 camera=(K, np.eye(3), np.zeros(3)), image_size=np.array([[512, 512], [512, 512]]))
    assert out.rpc.shape == (2,) and out.rpc[1] == 0.0 and 0.0 <= float(out.rpc[0]) <= 1.0


def test_star_import_exposes_every_listed_name():
    ns: dict = {}
    exec("from verireward import *", ns)
    missing = [n for n in vr.__all__ if n not in ns]
    assert missing == []
    for name in vr.__all__:
        getattr(vr, name)
