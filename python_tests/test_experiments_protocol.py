"""The statistics the pre-registered experiments report (bench/experiments/_protocol.py): the t
quantiles equal scipy's, and the paired interval equals one computed from the definition."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

PROTOCOL = Path(__file__).resolve().parent.parent / "bench" / "experiments" / "_protocol.py"


def load():
    spec = importlib.util.spec_from_file_location("experiments_protocol", PROTOCOL)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_t_quantiles_equal_scipys():
    stats = pytest.importorskip("scipy.stats")
    for df, q in load().T975.items():
        assert q == pytest.approx(stats.t.ppf(0.975, df), abs=6e-4), df


def test_paired_interval_from_the_definition():
    stats = pytest.importorskip("scipy.stats")
    a, b = [0.71, 0.64, 0.80, 0.77, 0.69], [0.60, 0.66, 0.70, 0.61, 0.65]
    got = load().paired(a, b)
    d = [x - y for x, y in zip(a, b)]
    mean = sum(d) / len(d)
    sem = math.sqrt(sum((x - mean) ** 2 for x in d) / (len(d) - 1) / len(d))
    lo, hi = stats.t.interval(0.95, len(d) - 1, loc=mean, scale=sem)
    assert got.per_seed == pytest.approx(d) and got.mean == pytest.approx(mean)
    assert (got.lo, got.hi) == pytest.approx((lo, hi), abs=2e-4)
