"""Smooth rewards for numeric answers (Smooth Operator paper, §3.1–3.3, §4.3): the SNRA operator,
its sharpness schedules, the error mappings that feed it, the composite reward, and the paper's
training diagnostics. AP-GRPO's advantage is :func:`verireward.ap_grpo_advantages` (it shares the
group-statistics kernel with GRPO and GRCA) and its loss :func:`verireward.ap_grpo_loss`.

Every function takes torch tensors or numpy arrays (or Python numbers) and returns the same kind;
these are elementwise formulas, so they run as plain torch/numpy expressions on any device.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from verireward._backend import Call, check_number, float_array, is_tensor

SCHEDULES = ("sigmoid", "linear", "fixed")


_float_array = float_array  # the shared check (verireward._backend)


def snra(error: Any, k: float, *, e_max: float = math.inf) -> Any:
    """Smooth Numerical Reward Activation (SmoothOp Eq. 2): ``r = 2 / (1 + exp(k·e))``, in (0, 1], r(0) = 1.

    Computed as ``2·exp(−k·e) / (1 + exp(−k·e))``, which never overflows: a huge ``k·e`` gives
    exactly 0. An invalid error — NaN (a parse failure, a NaN prediction) or negative — is replaced
    by ``e_max`` (the paper's task-specific maximum penalty; default +inf, i.e. reward 0). A valid
    infinite error (a prediction that overflowed) gives 0.

    Args:
        error: errors ``e >= 0`` (any shape), e.g. :func:`squared_error` or :func:`discrete_error`.
        k: sharpness > 0 (a number, e.g. from :func:`sharpness`).
        e_max: the error an invalid output counts as, >= 0 (may be inf).

    Returns:
        Rewards of the shape, kind, dtype and device of ``error`` (float64 for integer input).
    """
    op = "snra"
    k = check_number(op, k, "k", lambda v: 0.0 < v < math.inf, "a finite number > 0")
    e_max = check_number(op, e_max, "e_max", lambda v: 0.0 <= v, "a number >= 0 (inf allowed)")
    e = _float_array(op, error, "error")
    if is_tensor(e):
        import torch

        bad = torch.isnan(e) | (e < 0)
        e = torch.where(bad, torch.full_like(e, e_max), e)
        return 2.0 * torch.sigmoid(-k * e)
    with np.errstate(over="ignore", invalid="ignore"):  # k·e may overflow to inf: exp(-inf) = 0
        e = np.where(np.isnan(e) | (e < 0), e_max, e)
        z = np.exp(-k * e)  # in [0, 1]: no overflow
    out = 2.0 * z / (1.0 + z)
    return out if out.ndim else out.dtype.type(out)


def sharpness(step: float, total: float, kind: str = "sigmoid", k_min: float = 1.0, k_max: float = 100.0,
              tau: float = 0.5, s: float = 10.0) -> float:
    """SNRA sharpness at training step ``step`` of ``total`` (SmoothOp Eq. 5 and its ablations).

    With progress ``p = clamp(step / total, 0, 1)``:

    * ``"sigmoid"`` (SmoothOp Eq. 5, as written): ``k_min + (k_max − k_min)·σ(s·(p − τ))``, so ``k(0)`` is
      near, not exactly, ``k_min`` (1.66 with the defaults) and ``k(total)`` near ``k_max`` (99.3);
    * ``"linear"``: ``k_min + (k_max − k_min)·p``;
    * ``"fixed"``: ``k_min`` at every step (pass the constant you want as ``k_min``; ``k_max`` only
      bounds it). Not ``k_max``: a sharp surface from step 0 is the "cold start" SmoothOp Table 5
      reports degenerating (``k_min > 1``); a fixed low k is the static landscape whose ceiling §4
      attributes to S2/S3 ("diminishing discriminative signals when the model nears the target").

    Defaults are the paper's: ``k_min = 1``, ``k_max = 100``, ``τ = 0.5``, ``s = 10``.
    """
    return SharpnessSchedule(total, kind, k_min, k_max, tau, s)(step)


@dataclass(frozen=True)
class SharpnessSchedule:
    """:func:`sharpness` as an object: build it once, call it with any trainer's step counter.

    Example:
        >>> k_of = SharpnessSchedule(total=1000)      # the paper's sigmoid schedule
        >>> r = snra(squared_error(pred, target), k_of(trainer.state.global_step))
    """

    total: float
    kind: str = "sigmoid"
    k_min: float = 1.0
    k_max: float = 100.0
    tau: float = 0.5
    s: float = 10.0

    def __post_init__(self) -> None:
        op = "SharpnessSchedule"
        check_number(op, self.total, "total", lambda v: 0.0 < v < math.inf, "a finite number > 0")
        if self.kind not in SCHEDULES:
            raise ValueError(f"{op}: argument 'kind' must be one of {', '.join(SCHEDULES)}, got {self.kind!r}")
        check_number(op, self.k_min, "k_min", lambda v: 0.0 < v < math.inf, "a finite number > 0")
        check_number(op, self.k_max, "k_max", lambda v: self.k_min <= v < math.inf, f"a finite number >= k_min = {self.k_min}")
        check_number(op, self.tau, "tau", lambda v: 0.0 < v < 1.0, "a number in (0, 1)")
        check_number(op, self.s, "s", lambda v: 0.0 < v < math.inf, "a finite number > 0")

    def __call__(self, step: float) -> float:
        step = check_number("sharpness", step, "step", lambda v: 0.0 <= v < math.inf, "a finite number >= 0")
        p = min(step / self.total, 1.0)
        span = self.k_max - self.k_min
        if self.kind == "fixed":
            return float(self.k_min)
        if self.kind == "linear":
            return float(self.k_min + span * p)
        x = self.s * (p - self.tau)
        sig = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        return float(self.k_min + span * sig)


def squared_error(pred: Any, target: Any, *, vector: bool = False) -> Any:
    """SmoothOp Eq. 1: ``e = (ŷ − y)²``, or with ``vector=True`` the squared Euclidean distance over the last
    axis. A NaN prediction (what :func:`verireward.parse` gives an invalid field) gives a NaN error,
    which :func:`snra` scores as ``e_max``."""
    op = "squared_error"
    p, t = _float_array(op, pred, "pred"), _float_array(op, target, "target")
    if is_tensor(p) != is_tensor(t):
        raise TypeError(f"{op}: arguments 'pred' and 'target' must both be torch tensors or both numpy arrays")
    if is_tensor(p):
        d = p - t
        return (d * d).sum(-1) if vector else d * d
    with np.errstate(over="ignore", invalid="ignore"):  # a huge prediction's error is inf, a NaN's NaN
        d = p - t
        return (d * d).sum(-1) if vector else d * d


def discrete_error(score: Any, scale: float = 5.0) -> Any:
    """The error of a discrete (relational) answer from its verification score ``V ∈ [0, 1]``:
    ``e = Φ(1 − V)`` with ``Φ(u) = scale·u`` (linear; the paper leaves Φ open). A right answer
    (V = 1) gives 0; a wrong one (V = 0) gives ``scale``, deep in SNRA's low-reward region
    (``snra(5, 1) = 0.013``, and it falls further as k grows); partial credit lies in between. A score
    outside [0, 1] or NaN gives NaN (invalid: :func:`snra` uses ``e_max``)."""
    op = "discrete_error"
    scale = check_number(op, scale, "scale", lambda v: 0.0 < v < math.inf, "a finite number > 0")
    v = _float_array(op, score, "score")
    if is_tensor(v):
        import torch

        return torch.where((v >= 0) & (v <= 1), scale * (1 - v), torch.full_like(v, math.nan))
    with np.errstate(invalid="ignore"):
        out = np.where((v >= 0) & (v <= 1), scale * (1 - v), np.nan)
    return out if out.ndim else out.dtype.type(out)


def composite_reward(r_hat: Any, r_fmt: Any, lam: float = 0.1) -> Any:
    """SmoothOp Eq. 4: ``R = (1 − λ)·r̂ + λ·r_fmt`` with the SNRA reward ``r̂`` and the binary format reward
    ``r_fmt`` (bool or 0/1), λ = 0.1 in the paper."""
    op = "composite_reward"
    lam = check_number(op, lam, "lam", lambda v: 0.0 <= v <= 1.0, "a number in [0, 1]")
    r = _float_array(op, r_hat, "r_hat")
    if is_tensor(r):
        import torch

        f = r_fmt.to(r.dtype) if isinstance(r_fmt, torch.Tensor) else torch.as_tensor(r_fmt, dtype=r.dtype, device=r.device)
    else:
        f = np.asarray(r_fmt, dtype=r.dtype)
    return (1.0 - lam) * r + lam * f


def advantage_variance(advantages: Any, groups: Any) -> Any:
    """The paper's Adv. Var. diagnostic (§4.3): per group, ``σ_A² = 1/G Σ_i (A_i − Ā)²`` (population
    variance over the group's rows). ``advantages``: ``[N]`` (per sequence; for per-token advantages
    pass one value per row). ``groups``: int G or ``group_ptr [B+1]``. Returns ``[B]`` float64 of
    the input's kind (CPU); an empty group gives 0. Average it over groups for a training log."""
    call = Call("advantage_variance")
    a = call.floats(advantages, "advantages")
    call.shape(a, "advantages", "[N]", a.ndim == 1)
    ptr = call.group_ptr(groups, a.shape[0])
    x = (a.detach().cpu().double().numpy() if call.kind == "torch" else a.astype(np.float64))
    p = np.asarray(ptr.cpu().numpy() if call.kind == "torch" else ptr, dtype=np.int64)
    sizes = np.diff(p)
    gid = np.repeat(np.arange(sizes.shape[0]), sizes)
    denom = np.maximum(sizes, 1)
    mean = np.bincount(gid, weights=x, minlength=sizes.shape[0]) / denom
    var = np.bincount(gid, weights=(x - mean[gid]) ** 2, minlength=sizes.shape[0]) / denom
    if call.kind == "torch":
        import torch

        return torch.from_numpy(var)
    return var


def convergence_step(accuracy: Sequence[float], frac: float = 0.95, steps: Optional[Sequence[float]] = None) -> Any:
    """The paper's Conv. diagnostic (§4.3): ``T_conv = min{t | Acc_t >= frac·max_t Acc_t}``.

    Args:
        accuracy: the accuracy curve, one value per evaluation (NaN entries are ignored).
        frac: the fraction of the best accuracy to reach (the paper's 0.95).
        steps: the training step of each evaluation; default 0, 1, 2, …

    Returns:
        The step (``steps[t]``, or the index t) at which the curve first reaches ``frac`` of its maximum.
    """
    op = "convergence_step"
    frac = check_number(op, frac, "frac", lambda v: 0.0 < v <= 1.0, "a number in (0, 1]")
    acc = np.asarray(accuracy.detach().cpu() if is_tensor(accuracy) else accuracy, dtype=np.float64).reshape(-1)
    if acc.size == 0 or np.all(np.isnan(acc)):
        raise ValueError(f"{op}: argument 'accuracy' needs at least one non-NaN value")
    if steps is not None and len(steps) != acc.size:
        raise ValueError(f"{op}: argument 'steps' has {len(steps)} entries for {acc.size} accuracies")
    best = np.nanmax(acc)
    with np.errstate(invalid="ignore"):
        t = int(np.flatnonzero(acc >= frac * best)[0])
    return steps[t] if steps is not None else t


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def first_number(text: str) -> float:
    """The first number written in ``text``, or NaN (never raises): how the AP-GRPO trainer and the
    TRL and verl numeric adapters read a numeric answer."""
    m = _NUMBER.search(text)
    if not m:
        return math.nan
    try:
        v = float(m.group(0))
    except ValueError:  # pragma: no cover - the pattern only matches float literals
        return math.nan
    return v if math.isfinite(v) else math.nan


__all__ = ["snra", "sharpness", "SharpnessSchedule", "squared_error", "discrete_error", "composite_reward",
           "advantage_variance", "convergence_step"]
