"""Evaluation metrics of the papers' tables: grounding (GRCA Table 3, ScanRefer accuracy) and
VSI-Bench's mean relative accuracy (Smooth Operator)."""

from __future__ import annotations

from typing import Any, Dict, Sequence

import numpy as np

from verireward._backend import is_tensor, to_numpy

from verireward.rewards.grounding import VerifierOutput

# VSI-Bench's exact thresholds: np.linspace(0.5, 0.95, 10) (its 9th is 0.8999999999999999, so a
# relative error of exactly 0.1 passes it, as in the benchmark's own code).
MRA_THRESHOLDS = tuple(float(x) for x in np.linspace(0.5, 0.95, 10))


def grounding_metrics(output: VerifierOutput, thresholds: Sequence[float] = (0.25, 0.5)) -> Dict[str, float]:
    """The GRCA paper's Table 3 columns from a :class:`~verireward.GroundingVerifier` output.

    Means over all samples, a missing or malformed field counting 0: ``IoU2D``, ``IoU3D``,
    ``KPA-2D``, ``KPA-3D`` (whichever the schema has, named by field kind) and ``RPC`` (when it was
    computed). ``Acc@θ`` for each threshold: the fraction of samples with 3D IoU ``>= θ``, the
    ScanRefer evaluation's convention, kept where W2R2 §4.1 writes "exceeds" (they differ only at
    an IoU of exactly θ); ``Acc2D@θ`` likewise for the 2D box. ``parse_failure_rate``: the
    fraction of samples with at least one geometric field invalid; ``invalid_rate/<field>`` per field.
    """
    rewards = _np(output.rewards)
    n = rewards.shape[0]
    names = {"box2d": "IoU2D", "box3d": "IoU3D", "points2d": "KPA-2D", "points3d": "KPA-3D"}
    valid = _np(output.valid).astype(bool)
    out: Dict[str, float] = {}
    mean = lambda x: float(x.mean()) if n else 0.0
    for j, kind in enumerate(output.reward_kinds):
        out[names[kind]] = mean(rewards[:, j])
        if kind in ("box3d", "box2d"):
            for th in thresholds:
                key = f"Acc@{th:g}" if kind == "box3d" else f"Acc2D@{th:g}"
                out[key] = mean(rewards[:, j] >= th)
    if output.rpc is not None:
        out["RPC"] = mean(_np(output.rpc))
    geo = list(output.reward_columns)
    out["parse_failure_rate"] = mean(~valid[:, geo].all(1)) if n else 0.0
    for j, field in zip(geo, output.reward_fields):
        out[f"invalid_rate/{field}"] = mean(~valid[:, j])
    return out


def mra(pred: Any, gt: Any) -> Any:
    """VSI-Bench mean relative accuracy per sample:
    ``MRA = 1/10 Σ_{θ ∈ {0.50, 0.55, …, 0.95}} 1[ |pred − gt| / |gt| ≤ 1 − θ ]``, with the θ exactly
    as VSI-Bench computes them (``np.linspace(0.5, 0.95, 10)``).

    Zero target (the stated rule): the relative error is 0 when ``pred == 0`` and infinite
    otherwise, so only an exact 0 scores. A non-finite prediction scores 0.

    Args:
        pred, gt: ``[N]`` numbers (torch or numpy; gt finite).

    Returns:
        ``[N]`` in [0, 1], the kind of ``pred``; its mean is the benchmark's number.
    """
    p, g = _np(pred).astype(np.float64), _np(gt).astype(np.float64)
    if p.shape != g.shape or p.ndim != 1:
        raise ValueError(f"mra: 'pred' and 'gt' must both have shape [N], got {list(p.shape)} and {list(g.shape)}")
    if not np.isfinite(g).all():
        raise ValueError("mra: argument 'gt' has a NaN or infinite value")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # huge ratios are inf: score 0
        rel = np.where(g != 0, np.abs(p - g) / np.abs(g), np.where(p == 0, 0.0, np.inf))
    rel = np.where(np.isfinite(p), rel, np.inf)
    score = np.mean([rel <= 1 - th for th in MRA_THRESHOLDS], axis=0) if len(p) else np.zeros(0)
    return _like(score, pred)


_np = to_numpy


def _like(x: np.ndarray, ref: Any) -> Any:
    if not is_tensor(ref):
        return x
    import torch

    return torch.from_numpy(x).to(device=ref.device, dtype=ref.dtype if ref.dtype.is_floating_point else torch.float64)


__all__ = ["grounding_metrics", "mra", "MRA_THRESHOLDS"]
