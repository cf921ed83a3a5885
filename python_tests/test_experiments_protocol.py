"""The pre-registered experiments (bench/experiments/): the statistics they report (_protocol.py:
the t quantiles equal scipy's, the paired interval equals one computed from the definition), and
every script still runs end to end, on the smoke budget, without touching the recorded pages."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parent.parent / "bench" / "experiments"
PROTOCOL = EXPERIMENTS / "_protocol.py"
SCRIPTS = ("w2r2", "snra_apgrpo", "grca", "spa")


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


def test_every_experiment_script_is_run_here():
    assert sorted(SCRIPTS) == sorted(p.stem for p in EXPERIMENTS.glob("[!_]*.py"))


def test_a_smoke_run_must_write_elsewhere(monkeypatch):
    monkeypatch.setenv("VERIREWARD_EXPERIMENT_SMOKE", "1")
    monkeypatch.delenv("VERIREWARD_EXPERIMENT_OUT", raising=False)
    mod = load()
    assert mod.SMOKE and mod.budget(5, 2) == 2
    with pytest.raises(ValueError, match="VERIREWARD_EXPERIMENT_OUT"):
        mod.output_dir(EXPERIMENTS)
    monkeypatch.setenv("VERIREWARD_EXPERIMENT_SMOKE", "0")
    assert load().budget(5, 2) == 5


@pytest.mark.parametrize("name", SCRIPTS)
def test_experiment_runs_end_to_end_on_the_smoke_budget(name, tmp_path):
    """Each script, as its page's command runs it (2 processes where it uses them), on two seeds and a
    few steps: it exits 0 and writes its page (the plan before the results) and its numbers under
    VERIREWARD_EXPERIMENT_OUT, and the recorded page, numbers and plot beside it are unchanged."""
    pytest.importorskip("transformers")
    recorded = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in EXPERIMENTS.glob(f"{name}.*")}
    env = {**os.environ, "VERIREWARD_EXPERIMENT_SMOKE": "1", "VERIREWARD_EXPERIMENT_OUT": str(tmp_path)}
    run = subprocess.run([sys.executable, str(EXPERIMENTS / f"{name}.py")], env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    page = (tmp_path / f"{name}.md").read_text()
    assert 0 < page.index("## Plan (fixed in the script before any run)") < page.index("## Results")
    numbers = json.loads((tmp_path / f"{name}.json").read_text())
    assert len(numbers["seeds"]) == 2 and numbers["plan"] and numbers["seconds"] > 0
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in EXPERIMENTS.glob(f"{name}.*")} == recorded


def test_the_verdict_rule_and_the_page_head():
    mod = load()
    assert mod.verdict(False, True) == mod.verdict(False, False) == "no verdict: the gate failed"
    assert mod.verdict(True, True) == "**success**" and mod.verdict(True, False) == "**not shown**"
    assert mod.per_seed([0.1234, -0.5], "+.2f") == "+0.12, -0.50" and mod.per_seed([0.393], ".1f", 100) == "39.3"
    head = mod.page_head("T", "spa", 12.4, {"date": "D"}, "About.", processes=2)
    assert head == ["# T", "", "Written by `bench/experiments/spa.py` in 12 s (D, CPU, 2 processes). About.", ""]
    assert "(D, CPU). About." in mod.page_head("T", "w2r2", 3, {"date": "D"}, "About.")[2]
