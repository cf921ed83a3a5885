"""The protocol every experiment here follows (issue 22): the plan (primary metric, budget, success
criterion, validity gate) is a constant of the script, written on its page before any result; arms
are paired by seed (every arm of a seed starts from the same data and initial weights); each
comparison is reported per seed with the mean and the 95% confidence interval of the paired
difference (Student's t); a result counts only when the validity gate passes, and the page says so
when it does not instead of giving a verdict."""

from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence

# two-sided 97.5% quantiles of Student's t, by degrees of freedom (scipy.stats.t.ppf(0.975, df))
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086}


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


def write(here: Path, name: str, page: List[str], payload: dict) -> None:
    (here / f"{name}.md").write_text("\n".join(page).rstrip() + "\n")
    (here / f"{name}.json").write_text(json.dumps(payload, indent=1) + "\n")


def plan_lines(plan: Dict[str, str]) -> List[str]:
    """The pre-registered plan, as the page's first section."""
    out = ["## Plan (fixed in the script before any run)", ""]
    out += [f"- **{k}**: {v}" for k, v in plan.items()]
    return out + [""]
