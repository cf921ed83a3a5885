"""The GRCA reference trainer (GRCA paper §3.3–3.6): per-token advantages from
:func:`verireward.grca_advantages` (parse, reward, align, route in one call) and
:func:`verireward.grca_loss`.

Modes are the rows of the paper's Table 3: ``"broadcast"`` (broadcast-reward GRPO: the mean field
reward, standardized per group, on every token; no RPC, which the paper adds only to GRCA),
``"routed"`` (each field's advantage on its own tokens) and ``"routed_rpc"`` (routed, with RPC
shaping the background tokens, λ = ``lam``). Only ``"routed_rpc"`` mixes RPC in.

Dataset records: ``{"prompt": str, "bbox2d": [4], "bbox3d": [6], "K": 3×3, "R": 3×3, "t": [3]}``
(:func:`verireward.trainers.grounding_records` makes them from :func:`verireward.data.grounding_samples`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

from verireward.trainers.base import RLConfig, RLTrainer, Rollout
from verireward.parsing.schema import Schema
from verireward.rewards.grounding import GroundingVerifier
from verireward.rewards.numeric import advantage_variance
from verireward.grca.fields import GRCA_MODES, grca_advantages, grca_mode
from verireward.objectives.policy import grca_loss


@dataclass
class GRCAConfig(RLConfig):
    """:class:`RLConfig` plus:

    Attributes:
        mode: ``"broadcast"``, ``"routed"`` or ``"routed_rpc"``.
        lam: the RPC weight λ in the background advantage (the paper's 0.15).
        image_size: ``(W, H)`` of the images the 2D fields are normalized by (RPC works in pixels).
    """

    mode: str = "routed_rpc"
    lam: float = 0.15
    image_size: Sequence[float] = (512, 512)

    def __post_init__(self) -> None:
        super().__post_init__()
        grca_mode("GRCAConfig", self.mode)


def grounding_records(samples: Sequence[Any], prompt: str = "Locate the {name} in 2D and 3D. Answer in JSON.") -> List[Dict[str, Any]]:
    """Trainer records from :func:`verireward.data.grounding_samples` (the target kept for SFT or checks)."""
    return [{"prompt": prompt.format(name=s.name), "bbox2d": s.bbox2d.tolist(), "bbox3d": s.bbox3d.tolist(),
             "K": s.K.tolist(), "R": s.R.tolist(), "t": s.t.tolist(), "target": s.target} for s in samples]


class GRCATrainer(RLTrainer):
    """Routed GRPO with RPC. ``schema`` (default :meth:`verireward.Schema.default`; :func:`verireward.data.grounding_schema` for the synthetic scenes) says how
    completions are read; the verifier's reward fields are the geometric fields of the schema."""

    config_class = GRCAConfig

    def __init__(self, model: Any, tokenizer: Any, dataset: Sequence[Dict[str, Any]], config: Optional[GRCAConfig] = None,
                 build_inputs: Any = None, schema: Any = None) -> None:

        super().__init__(model, tokenizer, dataset, config or GRCAConfig(), build_inputs)
        self.verifier = GroundingVerifier(schema or Schema.default())

    def score(self, batch: Rollout):
        import torch

        c: GRCAConfig = self.config
        f64 = dict(dtype=torch.float64, device=self.device)
        gt = {"bbox2d": torch.tensor([r["bbox2d"] for r in batch.records], **f64),
              "bbox3d": torch.tensor([r["bbox3d"] for r in batch.records], **f64)}
        cam = tuple(torch.tensor([r[k] for r in batch.records], **f64) for k in ("K", "R", "t"))
        res = grca_advantages(batch.texts, batch.ids, batch.mask, gt, batch.group_size, tokenizer=self.tokenizer,
                              schema=self.verifier.schema, camera=cam, image_size=tuple(c.image_size), lam=c.lam,
                              mode=c.mode)
        adv = res.advantages
        self.last_rewards, self.last_rpc, self.last_spans = res.rewards, res.rpc, res.token_spans
        per_seq = (adv * batch.mask).sum(1) / batch.mask.sum(1).clamp(min=1)
        logs = {f"reward/{name}": float(res.rewards[:, j].mean()) for j, name in enumerate(res.reward_fields)}
        logs.update({"rpc": float(res.rpc.mean()), "valid_fraction": float(res.valid.float().mean()),
                     "advantage_variance": float(advantage_variance(per_seq, batch.group_size).mean())})
        return adv.to(torch.float32), logs

    def loss(self, logp, old_logp, advantages, mask, ref_logp):
        c = self.config
        return grca_loss(logp, old_logp, advantages.to(logp.dtype), mask, c.clip_eps, ref_logp, c.beta,
                         aggregation=c.aggregation, return_stats=True)


__all__ = ["GRCAConfig", "GRCATrainer", "grounding_records", "GRCA_MODES"]
