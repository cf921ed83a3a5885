"""The protocol every experiment here follows (issue 22): the plan (primary metric, budget, success
criterion, validity gate) is a constant of the script, written on its page before any result; arms
are paired by seed (every arm of a seed starts from the same data and initial weights); each
comparison is reported per seed with the mean and the 95% confidence interval of the paired
difference (Student's t); a result counts only when the validity gate passes, and the page says so
when it does not instead of giving a verdict.

``VERIREWARD_EXPERIMENT_SMOKE=1`` runs a script end to end on a budget of seconds (two seeds, a few
steps: :func:`budget`), writing under ``VERIREWARD_EXPERIMENT_OUT`` instead of beside the script
(:func:`output_dir`), so the test suite keeps every experiment runnable; such a run's numbers mean
nothing."""

from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence

SMOKE = os.environ.get("VERIREWARD_EXPERIMENT_SMOKE") == "1"

# two-sided 97.5% quantiles of Student's t, by degrees of freedom (scipy.stats.t.ppf(0.975, df))
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086}


def budget(full: Any, smoke: Any) -> Any:
    """The pre-registered value, or the smoke run's tiny one."""
    return smoke if SMOKE else full


def output_dir(here: Path) -> Path:
    """Where a script writes its page, numbers and plot: beside it, or ``VERIREWARD_EXPERIMENT_OUT``
    (required for a smoke run, which must not overwrite the recorded pages)."""
    out = os.environ.get("VERIREWARD_EXPERIMENT_OUT")
    if SMOKE and not out:
        raise ValueError("VERIREWARD_EXPERIMENT_SMOKE=1 needs VERIREWARD_EXPERIMENT_OUT: a smoke run must not "
                         "overwrite the recorded pages")
    return Path(out) if out else here


@dataclass
class Paired:
    """A paired difference over seeds: per-seed values, their mean and the 95% CI of the mean."""

    per_seed: List[float]
    mean: float
    lo: float
    hi: float

    def text(self, digits: int = 3) -> str:
        return f"{self.mean:+.{digits}f} [{self.lo:+.{digits}f}, {self.hi:+.{digits}f}]"


def paired(a: Sequence[float], b: Sequence[float]) -> Paired:
    """``a − b`` seed by seed, with the t interval of its mean (n ≥ 2)."""
    d = [float(x) - float(y) for x, y in zip(a, b)]
    n = len(d)
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1)) if n > 1 else float("nan")
    half = T975[n - 1] * sd / math.sqrt(n)
    return Paired(d, mean, mean - half, mean + half)


def machine() -> Dict[str, str]:
    return {"python": platform.python_version(), "machine": platform.machine(), "processor": platform.processor() or "?",
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def verdict(gate_passes: bool, success: bool) -> str:
    """The protocol's rule: no verdict when the validity gate fails, else success or not shown."""
    return "no verdict: the gate failed" if not gate_passes else "**success**" if success else "**not shown**"


def gate_word(passes: bool) -> str:
    return f"**{'passes' if passes else 'fails'}**"


def per_seed(values: Sequence[float], fmt: str = ".3f", scale: float = 1.0) -> str:
    """Per-seed values, comma separated (``scale`` multiplies them first: 100 for points)."""
    return ", ".join(f"{scale * v:{fmt}}" for v in values)


def page_head(title: str, name: str, seconds: float, stamp: Dict[str, str], about: str, processes: int = 1) -> List[str]:
    """The page's title and the line that says which script wrote it, when, and how long it took."""
    procs = f", {processes} processes" if processes > 1 else ""
    return [f"# {title}", "", f"Written by `bench/experiments/{name}.py` in {seconds:.0f} s ({stamp['date']}, "
            f"CPU{procs}). {about}", ""]


def write(here: Path, name: str, page: List[str], payload: dict) -> None:
    (here / f"{name}.md").write_text("\n".join(page).rstrip() + "\n")
    (here / f"{name}.json").write_text(json.dumps(payload, indent=1) + "\n")


def plan_lines(plan: Dict[str, str]) -> List[str]:
    """The pre-registered plan, as the page's first section."""
    out = ["## Plan (fixed in the script before any run)", ""]
    out += [f"- **{k}**: {v}" for k, v in plan.items()]
    return out + [""]
