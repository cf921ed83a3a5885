"""Kernels are safe to call from several Python threads at once (the GIL is released while they run)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

import verireward as vr


def test_concurrent_calls_give_the_serial_results():
    rng = np.random.default_rng(0)
    lo = rng.uniform(0, 50, size=(20000, 3))
    a = np.concatenate([lo, lo + rng.uniform(1, 20, size=(20000, 3))], 1)
    b = a[::-1].copy()
    want = vr.iou_3d(a, b)
    want_pair = vr.pairwise_iou_3d(a[:300], b[:300])
    with ThreadPoolExecutor(4) as pool:
        futs = [pool.submit(vr.iou_3d, a, b) for _ in range(8)] + [pool.submit(vr.pairwise_iou_3d, a[:300], b[:300]) for _ in range(4)]
        results = [f.result() for f in futs]
    for r in results[:8]:
        np.testing.assert_array_equal(r, want)
    for r in results[8:]:
        np.testing.assert_array_equal(r, want_pair)
