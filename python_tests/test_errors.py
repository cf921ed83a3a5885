"""Misuse raises TypeError/ValueError naming the op and the argument; the messages are pinned."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import verireward as vr

B2 = np.zeros((3, 4))
B3 = np.zeros((3, 6))
K = np.eye(3)
T = np.zeros(3)


def raises(exc, msg):
    return pytest.raises(exc, match=re.escape(msg))


@pytest.mark.parametrize("op,width", [(vr.iou_2d, 4), (vr.iou_3d, 6), (vr.pairwise_iou_2d, 4), (vr.pairwise_iou_3d, 6)])
def test_iou_argument_errors(op, width):
    name = op.__name__
    with raises(TypeError, f"{name}: argument 'a' must be a torch.Tensor or numpy.ndarray, got list"):
        op([[0, 0, 1, 1]], np.zeros((1, width)))
    with raises(TypeError, f"{name}: argument 'b' must have dtype float32 or float64, got int64"):
        op(np.zeros((1, width)), np.zeros((1, width), dtype=np.int64))
    with raises(TypeError, f"{name}: argument 'b' has dtype float32 but 'a' has float64; pass one float dtype"):
        op(np.zeros((1, width)), np.zeros((1, width), dtype=np.float32))
    with raises(TypeError, f"{name}: argument 'b' is a torch.Tensor but 'a' is a numpy.ndarray; pass arrays of one kind"):
        op(np.zeros((1, width)), torch.zeros(1, width, dtype=torch.float64))
    expected = f"[..., {width}]" if "pairwise" not in name else f"[N, {width}]"
    with raises(ValueError, f"{name}: argument 'a' must have shape {expected}, got [2, 5]"):
        op(np.zeros((2, 5)), np.zeros((2, width)))
    with raises(TypeError, f"{name}: argument 'a' must have dtype float32 or float64, got torch.float16"):
        op(torch.zeros(1, width, dtype=torch.float16), torch.zeros(1, width))


def test_iou_broadcast_error_and_meta_device():
    with raises(ValueError, "iou_2d: arguments 'a' [3, 4] and 'b' [2, 4] do not broadcast"):
        vr.iou_2d(np.zeros((3, 4)), np.zeros((2, 4)))
    with raises(ValueError, "iou_2d: argument 'a' is on device 'meta'; only cpu and cuda are supported"):
        vr.iou_2d(torch.zeros(1, 4, device="meta"), torch.zeros(1, 4, device="meta"))


class FakeCudaTensor(torch.Tensor):
    """Reports a CUDA device, so the argument checks can be exercised without a GPU (they only read
    .device; no kernel is reached because every check below must raise first)."""

    @property
    def device(self):
        return torch.device("cuda", 0)


def fake_cuda(shape):
    return torch.zeros(shape).as_subclass(FakeCudaTensor)


def test_cuda_tensor_on_cpu_only_build_is_rejected(monkeypatch):
    from verireward import _backend

    info = dict(vr.build_info(), cuda=False)
    monkeypatch.setattr(_backend._C, "build_info", lambda: info)
    with raises(ValueError, "iou_2d: argument 'a' is a CUDA tensor but verireward was built without CUDA "
                            "(reinstall with VERIREWARD_CUDA=1 where nvcc is available)"):
        vr.iou_2d(fake_cuda((1, 4)), fake_cuda((1, 4)))


def test_device_mismatch_is_rejected(monkeypatch):
    from verireward import _backend

    info = dict(vr.build_info(), cuda=True)
    monkeypatch.setattr(_backend._C, "build_info", lambda: info)
    with raises(ValueError, "iou_2d: argument 'b' is on cpu but 'a' is on cuda:0"):
        vr.iou_2d(fake_cuda((1, 4)), torch.zeros(1, 4))
    with raises(ValueError, "rpc: argument 'K' is on cuda:0 but 'boxes2d' is on cpu"):
        vr.rpc(torch.zeros(3, 4), torch.zeros(3, 6), fake_cuda((3, 3)), torch.eye(3), torch.zeros(3))


def test_project_and_rpc_errors():
    with raises(ValueError, "project_box_3d: argument 'boxes' must have shape [N, 6], got [3, 4]"):
        vr.project_box_3d(B2, K, K, T)
    with raises(ValueError, "project_box_3d: argument 'K' must have shape [3|1, 3, 3] or [3, 3], got [2, 3, 3]"):
        vr.project_box_3d(B3, np.zeros((2, 3, 3)), K, T)
    with raises(ValueError, "project_box_3d: argument 'K' must have shape [3|1, 3, 3] or [3, 3], got [4, 4]"):
        vr.project_box_3d(B3, np.eye(4), K, T)
    with raises(ValueError, "project_box_3d: argument 't' must have shape [3|1, 3] or [3], got [3, 1]"):
        vr.project_box_3d(B3, K, K, np.zeros((3, 1)))
    with raises(ValueError, "project_box_3d: argument 'near' must be finite and > 0, got 0.0"):
        vr.project_box_3d(B3, K, K, T, near=0.0)
    with raises(ValueError, "project_box_3d: argument 'near' must be finite and > 0, got nan"):
        vr.project_box_3d(B3, K, K, T, near=float("nan"))
    with raises(TypeError, "project_box_3d: argument 'near' must be a number, got str"):
        vr.project_box_3d(B3, K, K, T, near="1")
    with raises(ValueError, "project_box_3d: argument 'image_size' must be (width, height), got (1, 2, 3)"):
        vr.project_box_3d(B3, K, K, T, image_size=(1, 2, 3))
    with raises(ValueError, "project_box_3d: argument 'image_size' must be finite and > 0, got -5"):
        vr.project_box_3d(B3, K, K, T, image_size=(-5, 2))
    with raises(ValueError, "project_box_3d: argument 'image_size' must have shape [3|1, 2] or [2], got [3]"):
        vr.project_box_3d(B3, K, K, T, image_size=np.zeros(3))
    with raises(TypeError, "project_box_3d: argument 'R' has dtype float32 but 'boxes' has float64; pass one float dtype"):
        vr.project_box_3d(B3, K, np.eye(3, dtype=np.float32), T)
    with raises(ValueError, "rpc: argument 'boxes2d' must have shape [3, 4], got [2, 4]"):
        vr.rpc(np.zeros((2, 4)), B3, K, K, T)
    with raises(ValueError, "rpc: argument 'boxes3d' must have shape [N, 6], got [3, 4]"):
        vr.rpc(B2, B2, K, K, T)


def test_containment_errors():
    pts = np.zeros((3, 5, 2))
    with raises(ValueError, "keypoint_containment: argument 'points' must have shape [N, K, 2|3], got [3, 5, 4]"):
        vr.keypoint_containment(np.zeros((3, 5, 4)), None, B2)
    with raises(ValueError, "keypoint_containment: argument 'boxes' must have shape [3|1, 4], got [3, 6]"):
        vr.keypoint_containment(pts, None, B3)
    with raises(TypeError, "keypoint_containment: argument 'counts' must have an integer dtype, got float64"):
        vr.keypoint_containment(pts, np.zeros(3), B2)
    with raises(TypeError, "keypoint_containment: argument 'counts' must have an integer dtype, got torch.bool"):
        vr.keypoint_containment(torch.zeros(3, 5, 2), torch.zeros(3, dtype=torch.bool), torch.zeros(3, 4))
    with raises(ValueError, "keypoint_containment: argument 'counts' must have shape [3], got [2]"):
        vr.keypoint_containment(pts, np.zeros(2, dtype=np.int64), B2)
    with raises(ValueError, "keypoint_containment: argument 'counts' must lie in [0, 5] (K = points.shape[1]); got values in [-1, 6]"):
        vr.keypoint_containment(pts, np.array([-1, 6, 2]), B2)
