"""The W2R2 reference trainer (Where, Not What, §3): each step runs the fused pass and the 2D-only
shortcut pass through the same decoder and minimizes :func:`verireward.w2r2_loss`.

The model is reached through two callables, so any fusion architecture plugs in:

* ``encode(model, batch) -> (features_2d, features_3d)``;
* ``decode(model, batch, features_2d, features_3d) -> dict`` with ``"logits"`` (``[N, L, V]``
  scoring ``batch["labels"]``, or ``[N, C]``) and, for ``similarity="boxes"``, ``"boxes"`` ``[N, 6]``.

The shortcut pass decodes :func:`verireward.shortcut_features` (2D detached, 3D zeroed, or with
``shortcut="mean"`` the running mean of the 3D features seen in training), so the hinge
trains the decoder but never the 2D encoder (the stop-gradient reading documented in
:mod:`verireward.objectives.w2r2`). ``collate(records) -> batch`` builds a batch dict with ``"labels"`` (and
``"gt_boxes"`` for box similarity).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence

from verireward.trainers.base import SupervisedConfig, TrainerBase
from verireward.objectives.w2r2 import box_similarity, shortcut_features, token_likelihood_similarity, w2r2_loss


@dataclass
class W2R2Config(SupervisedConfig):
    """:class:`SupervisedConfig` plus:

    Attributes:
        mu: the hinge's margin μ (the paper's 0.7).
        lam: its weight λ (the paper's 1.5; 0 trains the fused pass alone, the baseline).
        similarity: ``"tokens"`` (:func:`verireward.token_likelihood_similarity`) or ``"boxes"``
            (:func:`verireward.box_similarity`).
        shortcut: what stands in for the 3D features in the shortcut pass: ``"zero"`` (the
            paper's) or ``"mean"``, the running mean of the 3D encoder's outputs over every
            training sample so far (all processes), detached: unlike all zeros, a value the fused
            pass also sees near typical scenes, which closes the plainest "detect the zeros"
            loophole (bench/experiments/w2r2.md measures both).
    """

    mu: float = 0.7
    lam: float = 1.5
    similarity: str = "tokens"
    shortcut: str = "zero"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.similarity not in ("tokens", "boxes"):
            raise ValueError(f"W2R2Config: similarity must be 'tokens' or 'boxes', got {self.similarity!r}")
        if self.shortcut not in ("zero", "mean"):
            raise ValueError(f"W2R2Config: shortcut must be 'zero' or 'mean', got {self.shortcut!r}")


class W2R2Trainer(TrainerBase):
    def __init__(self, model: Any, dataset: Sequence[Dict[str, Any]], config: Optional[W2R2Config] = None, *,
                 encode: Callable, decode: Callable, collate: Callable) -> None:
        super().__init__(model, dataset, config or W2R2Config())
        self.encode, self.decode, self.collate = encode, decode, collate
        self.mean_3d: Any = None  # shortcut="mean": the running mean of the 3D features, and how many it averages
        self._mean_count = 0

    def _update_mean_3d(self, f3d: Any) -> Any:
        """The running mean of the 3D features over all training samples so far (summed over
        processes), updated with this batch; returns it."""
        import torch

        flat = f3d.detach().reshape(-1, f3d.shape[-1]).double()
        total, count = flat.sum(0), torch.tensor(float(flat.shape[0]), dtype=torch.float64, device=flat.device)
        if self.world > 1:
            import torch.distributed as dist

            dist.all_reduce(total)
            dist.all_reduce(count)
        n = self._mean_count + float(count)
        prev = torch.zeros_like(total) if self.mean_3d is None else self.mean_3d.to(total)
        self.mean_3d = prev + (total - prev * float(count)) / n
        self._mean_count = n
        return self.mean_3d.to(f3d.dtype)

    def _extra_state(self) -> Dict[str, Any]:
        return {"w2r2_mean_3d": self.mean_3d, "w2r2_mean_count": self._mean_count}

    def _load_extra_state(self, state: Dict[str, Any]) -> None:
        self.mean_3d, self._mean_count = state.get("w2r2_mean_3d"), state.get("w2r2_mean_count", 0)

    def train_step(self) -> Dict[str, float]:
        c: W2R2Config = self.config
        batch = self.collate(self._next_records(c.batch_size))
        self.model.train()
        f2d, f3d = self.encode(self.model, batch)
        fused = self.decode(self.model, batch, f2d, f3d)
        fill = self._update_mean_3d(f3d) if c.shortcut == "mean" else None
        short = self.decode(self.model, batch, *shortcut_features(f2d, f3d, fill))
        if c.similarity == "boxes":
            sim = box_similarity(short["boxes"], batch["gt_boxes"])
        else:
            sim = token_likelihood_similarity(short["logits"], batch["labels"])
        loss, parts = w2r2_loss(fused["logits"], batch["labels"], sim, c.mu, c.lam, return_parts=True)
        self._optimize(loss)
        return self._finish_step({"loss": float(loss.detach()), "ce": float(parts["ce"]), "hinge": float(parts["hinge"]),
                                  "active_fraction": float(parts["active_fraction"]),
                                  "short_similarity": float(sim.detach().mean())})


__all__ = ["W2R2Config", "W2R2Trainer"]
