"""The timing loop the bench/ profile scripts share: one warm-up call, then the seconds of each of
`repeat` calls."""

from __future__ import annotations

import time
from typing import Any, Callable, List


def run_times(fn: Callable[[], Any], repeat: int) -> List[float]:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times
