"""grounding_metrics from a verifier output, and VSI-Bench MRA against its definition."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import verireward as vr


def test_grounding_metrics_hand_case():
    # raw integer coordinates: IoUs of exactly 1, 0.5 and 0 (Acc@0.5 counts IoU >= 0.5, ScanRefer)
    schema = vr.Schema((vr.Field("bbox2d", "box2d", frame="raw"), vr.Field("bbox3d", "box3d", frame="raw"),
                        vr.Field("kpts2d", "points2d", frame="raw"), vr.Field("kpts3d", "points3d", frame="raw")))
    texts = ['{"bbox2d": [0, 0, 4, 4], "bbox3d": [0, 0, 0, 4, 4, 4], "kpts2d": [[1, 1]], "kpts3d": []}',
             '{"bbox2d": [0, 0, 2, 4], "bbox3d": [0, 0, 0, 2, 4, 4], "kpts2d": [[9, 9]], "kpts3d": [[1, 1, 1]]}',
             "no answer"]
    gt = {"bbox2d": torch.tensor([[0.0, 0, 4, 4]], dtype=torch.float64),
          "bbox3d": torch.tensor([[0.0, 0, 0, 4, 4, 4]], dtype=torch.float64)}
    m = vr.grounding_metrics(vr.GroundingVerifier(schema)(texts, gt))
    assert m["IoU2D"] == pytest.approx(0.5) and m["IoU3D"] == pytest.approx(0.5)
    assert m["Acc@0.25"] == pytest.approx(2 / 3) and m["Acc@0.5"] == pytest.approx(2 / 3)
    assert m["Acc2D@0.5"] == pytest.approx(2 / 3)
    assert m["KPA-2D"] == pytest.approx(1 / 3) and m["KPA-3D"] == pytest.approx(1 / 3)
    assert m["parse_failure_rate"] == pytest.approx(2 / 3)  # row 0's "kpts3d": [] writes no point: invalid
    assert m["invalid_rate/kpts3d"] == pytest.approx(2 / 3) and m["invalid_rate/kpts2d"] == pytest.approx(1 / 3)
    assert m["invalid_rate/bbox2d"] == pytest.approx(1 / 3) and "RPC" not in m


def mra_oracle(p: float, g: float) -> float:
    """Written from VSI-Bench: thresholds linspace(0.5, 0.95, 10) = 0.5 + k * (0.45 / 9), relative
    error <= 1 - theta; zero target: exact only."""
    if not math.isfinite(p):
        return 0.0
    rel = abs(p - g) / abs(g) if g != 0 else (0.0 if p == 0 else math.inf)
    return sum(rel <= 1 - (0.5 + k * ((0.95 - 0.5) / 9)) for k in range(10)) / 10


@given(st.lists(st.tuples(st.one_of(st.floats(-1e6, 1e6), st.sampled_from([math.nan, math.inf, 0.0])),
                          st.one_of(st.floats(-1e6, 1e6), st.just(0.0))), max_size=20))
def test_mra_matches_definition(pairs):
    p = np.array([a for a, _ in pairs], dtype=np.float64)
    g = np.array([b for _, b in pairs], dtype=np.float64)
    got = vr.mra(p, g)
    assert got.tolist() == pytest.approx([mra_oracle(a, b) for a, b in pairs])


def test_mra_table_and_kinds():
    g = torch.tensor([10.0, 10.0, 10.0, 10.0, 0.0, 0.0])
    p = torch.tensor([10.0, 11.0, 15.0, 30.0, 0.0, 0.1])
    got = vr.mra(p, g)
    # rel 0 -> all 10; 0.1 -> theta <= 0.9 (9 of 10); 0.5 -> theta = 0.5 only; 2.0 -> none
    assert isinstance(got, torch.Tensor) and got.tolist() == pytest.approx([1.0, 0.9, 0.1, 0.0, 1.0, 0.0])
    with pytest.raises(ValueError, match=r"mra: 'pred' and 'gt' must both have shape \[N\]"):
        vr.mra(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="mra: argument 'gt' has a NaN or infinite value"):
        vr.mra(np.zeros(1), np.array([math.nan]))
