"""The AP-GRPO reference trainer (Smooth Operator paper §3.2–3.4): numeric answers scored with SNRA
under a sharpness schedule, the composite reward with a format term, and AP-GRPO's advantage and
loss — or the comparison rows of the paper's Table 2.

Modes: ``"binary"`` (GRPO with a 0/1 reward: relative error <= ``binary_tol``), ``"snra"`` (GRPO on
the composite SNRA reward, i.e. AP-GRPO with α = 0 and no clip) and ``"ap_grpo"``. ``schedule``:
``"fixed"``, ``"linear"`` or ``"sigmoid"`` (:class:`verireward.SharpnessSchedule` over
``config.steps``).

Dataset records: ``{"prompt": str, "answer": float}`` (e.g. from
:func:`verireward.data.numeric_questions`). The answer is the first number in the completion; a
completion without one is invalid (error ``e_max``, format reward 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

from verireward.rewards.numeric import advantage_variance, composite_reward, first_number, SharpnessSchedule, snra, squared_error
from verireward.trainers.base import RLConfig, RLTrainer, Rollout
from verireward.ops.grpo import ap_grpo_advantages, group_standardize
from verireward.objectives.policy import ap_grpo_loss

AP_MODES = ("binary", "snra", "ap_grpo")


@dataclass
class APGRPOConfig(RLConfig):
    """:class:`RLConfig` plus:

    Attributes:
        mode: ``"binary"``, ``"snra"`` or ``"ap_grpo"``.
        schedule: the sharpness schedule, ``"fixed"`` (k = ``k_min`` throughout), ``"linear"`` or ``"sigmoid"``.
        k_min, k_max, tau, s: the schedule's constants (the paper's 1, 100, 0.5, 10).
        e_max: the error of an answer without a number.
        format_weight: λ of the composite reward (the paper's 0.1).
        alpha, clip: AP-GRPO's exponent and symmetric clip (the paper's 1 and 1.5).
        binary_tol: relative error counted correct in ``"binary"`` mode.
        beta: KL weight (the paper's 0.02).
    """

    mode: str = "ap_grpo"
    schedule: str = "sigmoid"
    k_min: float = 1.0
    k_max: float = 100.0
    tau: float = 0.5
    s: float = 10.0
    e_max: float = 10.0
    format_weight: float = 0.1
    alpha: float = 1.0
    clip: float = 1.5
    binary_tol: float = 0.05
    beta: float = 0.02

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode not in AP_MODES:
            raise ValueError(f"APGRPOConfig: mode must be one of {', '.join(AP_MODES)}, got {self.mode!r}")


def numeric_records(questions: Sequence[Any]) -> List[Dict[str, Any]]:
    """Trainer records from :func:`verireward.data.numeric_questions`."""
    return [{"prompt": q.question, "answer": q.answer} for q in questions]


class APGRPOTrainer(RLTrainer):
    """SNRA + AP-GRPO on numeric answers."""

    config_class = APGRPOConfig

    def __init__(self, model: Any, tokenizer: Any, dataset: Sequence[Dict[str, Any]], config: Optional[APGRPOConfig] = None,
                 build_inputs: Any = None) -> None:
        super().__init__(model, tokenizer, dataset, config or APGRPOConfig(), build_inputs)
        c = self.config
        self.sharpness = SharpnessSchedule(c.steps, c.schedule, c.k_min, c.k_max, c.tau, c.s)

    def score(self, batch: Rollout):
        import torch

        c: APGRPOConfig = self.config
        f64 = dict(dtype=torch.float64, device=self.device)
        pred = torch.tensor([first_number(t) for t in batch.texts], **f64)
        target = torch.tensor([float(r["answer"]) for r in batch.records], **f64)
        fmt = torch.isfinite(pred).to(torch.float64)
        k = self.sharpness(self.step)
        r = snra(squared_error(pred, target), k, e_max=c.e_max)
        total = composite_reward(r, fmt, c.format_weight)
        if c.mode == "binary":
            correct = ((pred - target).abs() <= c.binary_tol * target.abs()).to(torch.float64)
            seq = group_standardize(correct, batch.group_size)
        elif c.mode == "snra":
            seq = ap_grpo_advantages(total, r, batch.group_size, alpha=0.0, clip=None)
        else:
            seq = ap_grpo_advantages(total, r, batch.group_size, alpha=c.alpha, clip=c.clip)
        self.last_rewards, self.last_sequence_advantages = total, seq
        logs = {"reward": float(total.mean()), "snra": float(r.mean()), "format": float(fmt.mean()), "k": k,
                "advantage_variance": float(advantage_variance(seq, batch.group_size).mean()),
                "accuracy": float(((pred - target).abs() <= c.binary_tol * target.abs()).double().mean())}
        return seq.to(torch.float32)[:, None] * batch.mask, logs

    def loss(self, logp, old_logp, advantages, mask, ref_logp):
        c = self.config
        return ap_grpo_loss(logp, old_logp, advantages.to(logp.dtype), mask, c.clip_eps, ref_logp, c.beta,
                            aggregation=c.aggregation, return_stats=True)


__all__ = ["APGRPOConfig", "APGRPOTrainer", "numeric_records", "first_number", "AP_MODES"]
