"""64-bit indexing: outputs past 2^31 elements. Opt-in (VERIREWARD_BIG_TESTS=1): it needs ~9 GB of
memory and ~10 s, too much for every CI run; docs/testing.md records when it last ran."""

from __future__ import annotations

import os

import numpy as np
import pytest

import verireward as vr

pytestmark = pytest.mark.skipif(os.environ.get("VERIREWARD_BIG_TESTS") != "1", reason="set VERIREWARD_BIG_TESTS=1")


def test_pairwise_past_two_to_the_31():
    n = 46341  # n * n = 2_147_488_281 > 2**31
    rng = np.random.default_rng(0)
    lo = rng.uniform(0, 100, size=(n, 2)).astype(np.float32)
    boxes = np.concatenate([lo, lo + rng.uniform(1, 30, size=(n, 2)).astype(np.float32)], 1)
    out = vr.pairwise_iou_2d(boxes, boxes)
    assert out.shape == (n, n) and n * n > 2**31
    for i in (0, 23170, n - 2, n - 1):  # rows whose flat offsets straddle and pass 2^31
        np.testing.assert_array_equal(out[i], vr.iou_2d(boxes[i], boxes))
    assert out[n - 1, n - 1] == 1.0
