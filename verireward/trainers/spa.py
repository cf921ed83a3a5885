"""The SPA reference trainer (Streamlining Preference Alignment, §3.2): the same answer scored with
the clean point cloud and with FPS/KNN patches masked (:func:`verireward.mask_point_patches`), and
:func:`verireward.spa_loss` between the two sequence log-probabilities; ``mode="sft"`` trains the
clean pass with cross-entropy only (Table 4's extra-SFT row).

The model is reached through ``logits(model, batch, points) -> [N, L, V]`` scoring
``batch["labels"]`` (ignore index -100), so any point-conditioned LM plugs in; ``collate(records)``
builds a batch with ``"points" [B, P, 3+C]`` and ``"labels" [B, L]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence

from verireward.trainers.base import SupervisedConfig, TrainerBase


@dataclass
class SPAConfig(SupervisedConfig):
    """:class:`SupervisedConfig` plus:

    Attributes:
        mode: ``"spa"`` or ``"sft"``.
        beta: SPA's β (1 in the paper's loss).
        num_groups, group_size, ratio: the masking (patches per cloud, points per patch, fraction
            masked; the paper recommends 0.25–0.5).
        mask_mode: ``"remove"`` or ``"centre"`` (see :func:`verireward.mask_point_patches`).
    """

    mode: str = "spa"
    beta: float = 1.0
    num_groups: int = 64
    group_size: int = 32
    ratio: float = 0.4
    mask_mode: str = "remove"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode not in ("spa", "sft"):
            raise ValueError(f"SPAConfig: mode must be 'spa' or 'sft', got {self.mode!r}")


class SPATrainer(TrainerBase):
    def __init__(self, model: Any, dataset: Sequence[Dict[str, Any]], config: Optional[SPAConfig] = None, *,
                 logits: Callable, collate: Callable) -> None:
        import torch

        super().__init__(model, dataset, config or SPAConfig())
        self.logits, self.collate = logits, collate
        self.generator = torch.Generator(device=self.device).manual_seed(self.config.seed)
        self.last_masked = None

    def _extra_state(self) -> Dict[str, Any]:
        return {"mask_rng": self.generator.get_state()}

    def _load_extra_state(self, state: Dict[str, Any]) -> None:
        self.generator.set_state(state["mask_rng"])

    def train_step(self) -> Dict[str, float]:
        from verireward.points import mask_point_patches
        from verireward.preference import sequence_logprob, spa_loss

        c: SPAConfig = self.config
        batch = self.collate(self._next_records(c.batch_size))
        labels = batch["labels"]
        self.model.train()
        lp = sequence_logprob(self.logits(self.model, batch, batch["points"]), labels)
        tokens = (labels != -100).sum(1).clamp(min=1)
        logs = {"logp_clean": float((lp / tokens).detach().mean())}
        if c.mode == "sft":
            loss = -(lp / tokens).mean()
        else:
            masked = mask_point_patches(batch["points"], c.num_groups, c.group_size, c.ratio, self.generator, mode=c.mask_mode)
            self.last_masked = masked
            ln = sequence_logprob(self.logits(self.model, batch, masked.points), labels)
            loss = spa_loss(lp, ln, c.beta)
            logs.update({"logp_masked": float((ln / tokens).detach().mean()),
                         "preference_accuracy": float((lp > ln).float().mean()),
                         "points_kept": float(masked.counts.float().mean())})
        self._optimize(loss)
        logs["loss"] = float(loss.detach())
        return self._finish_step(logs)


__all__ = ["SPAConfig", "SPATrainer"]
