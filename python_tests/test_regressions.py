"""The bugs of today's grounding-reward code (issue "GRCA end to end"), each pinned as a regression
test against verireward's parse -> verify path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import verireward as vr

GT2 = torch.tensor([[0.2, 0.2, 0.6, 0.6]], dtype=torch.float64)
GT3 = torch.tensor([[0.1, 0.1, 0.5, 0.4, 0.4, 0.9]], dtype=torch.float64)
RAW = vr.Schema((vr.Field("bbox2d", "box2d", frame="raw"), vr.Field("bbox3d", "box3d", frame="raw")))


def rewards(texts, schema=None, gt2=GT2, gt3=GT3):
    return vr.GroundingVerifier(schema)(texts, {"bbox2d": gt2, "bbox3d": gt3}).rewards


def test_boxes_with_floats_or_negatives_do_not_score_zero():
    # regex-based rewards (r"\d+") drop decimals and signs and score such boxes 0 or garbage
    gt2 = torch.tensor([[-10.5, 2.25, 30.75, 40.0]], dtype=torch.float64)
    gt3 = torch.tensor([[-1.5, -0.5, 2e-1, 1.5, 0.5, 1.2e0]], dtype=torch.float64)
    r = rewards(['{"bbox2d": [-10.5, 2.25, 30.75, 40.0], "bbox3d": [-1.5, -0.5, 2e-1, 1.5, 0.5, 1.2e0]}'], RAW, gt2, gt3)
    assert r[0].tolist() == [1.0, 1.0]


def test_frames_are_converted_not_mixed():
    # a model writing Qwen-style bins 0..1000 scored against pixel ground truth: the schema declares
    # the frame and parse converts, so the same box scores 1 whichever frame the model wrote in
    px = vr.Schema((vr.Field("bbox2d", "box2d", frame="bins", ranges=((0, 640), (0, 480))),))
    gt = torch.tensor([[128.0, 96.0, 384.0, 288.0]], dtype=torch.float64)  # pixels of a 640x480 image
    in_bins = vr.GroundingVerifier(px)(['{"bbox2d": [200, 200, 600, 600]}'], {"bbox2d": gt}).rewards
    raw = vr.Schema((vr.Field("bbox2d", "box2d", frame="raw"),))
    naive = vr.GroundingVerifier(raw)(['{"bbox2d": [200, 200, 600, 600]}'], {"bbox2d": gt}).rewards
    assert in_bins.item() == pytest.approx(1.0) and naive.item() < 0.3  # read raw, the bins would be pixels


def test_zero_union_never_divides_by_zero():
    zero = torch.tensor([[0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    assert vr.iou_2d(zero, zero).item() == 0.0 and torch.isfinite(vr.iou_2d(zero, zero)).all()
    r = rewards(['{"bbox2d": [0, 0, 0, 0], "bbox3d": [0, 0, 0, 0, 0, 0]}'], None, zero,
                torch.zeros(1, 6, dtype=torch.float64))
    assert r[0, :2].tolist() == [0.0, 0.0]


def test_a_degenerate_box_sharing_a_number_with_the_ground_truth_earns_nothing():
    # a line segment on the ground truth's edge: min/max-based code without an area check rewards it
    r = rewards(['{"bbox2d": [200, 200, 200, 600], "bbox3d": [100, 100, 500, 400, 100, 900]}'])
    assert r[0, :2].tolist() == [0.0, 0.0]


def test_format_checks_do_not_accept_anything():
    # "contains a '['" style format checks pass all of these; each field here is invalid and scores 0
    texts = ['bbox2d: [200, 200, 600, 600]',                               # no JSON object
             '{"bbox2d": [200, 200, 600]}',                                # wrong arity
             '{"bbox2d": [200, 200, 600, 600], "bbox2d": [0, 0, 1, 1]}',   # duplicated key
             '{"bbox2d": "[200, 200, 600, 600]"}',                         # a string, not a list
             '{"bbox2d": [200, 200, 600, 600.5]}',                         # not a bin
             '{"bbox2d": [200, 200, 600, 600]']                            # truncated object
    out = vr.GroundingVerifier()(texts, {"bbox2d": GT2, "bbox3d": GT3})
    b = out.fields.index("bbox2d")
    assert not out.valid[:, b].any() and torch.all(out.rewards[:, 0] == 0)
