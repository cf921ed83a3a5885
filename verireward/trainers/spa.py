"""The SPA reference trainer (Streamlining Preference Alignment, §3.2): the same answer scored with
the clean point cloud and with FPS/KNN patches masked (:func:`verireward.mask_point_patches`), and
:func:`verireward.spa_loss` between the two sequence log-probabilities. For the paper's Table 4
comparison: ``mode="sft"`` trains the clean pass with cross-entropy only (extra SFT), and
``mode="dpo"`` / ``"simpo"`` run :func:`verireward.dpo_loss` / :func:`verireward.simpo_loss` on text
pairs made by corrupting the answer (the paper's "TC" rows): the ground truth is preferred to a
copy with a fraction ``corrupt_ratio`` of its tokens replaced at random (``corrupt`` overrides
how), both scored with the clean cloud; DPO's reference is a frozen copy of the starting model.
When ``collate`` puts ``"rejected_labels" [B, L]`` in the batch, those are the rejected answers
instead (the paper's "DA" rows: the model's own answer on a masked cloud, generated beforehand,
which is the two-stage pipeline SPA avoids); ``logits`` then scores them as it scores ``"labels"``.

The model is reached through ``logits(model, batch, points) -> [N, L, V]`` scoring
``batch["labels"]`` (ignore index -100), so any point-conditioned LM plugs in; ``collate(records)``
builds a batch with ``"points" [B, P, 3+C]`` and ``"labels" [B, L]``, and optionally
``"point_counts" [B]`` when clouds of different sizes are zero-padded to P. Each cloud is then
masked over its own points only, and the masked pass's ``logits`` gets the batch with
``"point_counts"`` set to how many points each masked cloud holds (``"remove"`` drops points: the
rest is zero padding), so a model that reads the counts never takes padding for points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence

from verireward.trainers.base import SupervisedConfig, TrainerBase
from verireward.ops.points import mask_point_patches, MaskedPoints
from verireward.objectives.preference import dpo_loss, sequence_logprob, simpo_loss, spa_loss

SPA_MODES = ("spa", "spa_sft", "sft", "dpo", "simpo")


@dataclass
class SPAConfig(SupervisedConfig):
    """:class:`SupervisedConfig` plus:

    Attributes:
        mode: ``"spa"`` (SPA Eq. 5 alone), ``"spa_sft"`` (SPA Eq. 5 plus the clean pass's per-token
            cross-entropy: the supervised anchor kept in the loss; our variant, not an equation of
            the paper), ``"sft"``, ``"dpo"`` or ``"simpo"``.
        beta: the loss's β (SPA: 1 in the paper; DPO: 0.1 and SimPO: 2.0 in its comparison).
        gamma: SimPO's γ (0.3 in the comparison).
        corrupt_ratio: the fraction of answer tokens replaced in a rejected answer (dpo, simpo).
        num_groups, group_size, ratio: the masking (patches per cloud, points per patch, fraction
            masked; the paper recommends 0.25–0.5).
        mask_mode: ``"remove"`` or ``"centre"`` (see :func:`verireward.mask_point_patches`).
    """

    mode: str = "spa"
    beta: float = 1.0
    gamma: float = 0.3
    corrupt_ratio: float = 0.5
    num_groups: int = 64
    group_size: int = 32
    ratio: float = 0.4
    mask_mode: str = "remove"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode not in SPA_MODES:
            raise ValueError(f"SPAConfig: mode must be one of {', '.join(SPA_MODES)}, got {self.mode!r}")


class SPATrainer(TrainerBase):
    def __init__(self, model: Any, dataset: Sequence[Dict[str, Any]], config: Optional[SPAConfig] = None, *,
                 logits: Callable, collate: Callable, corrupt: Optional[Callable] = None) -> None:
        import torch

        config = config or SPAConfig()
        super().__init__(model, dataset, config, reference=config.mode == "dpo")
        self.logits, self.collate = logits, collate
        self.corrupt = corrupt or self._corrupt
        self.generator = torch.Generator(device=self.device).manual_seed(self.config.seed * 1009 + self.rank)
        self.last_masked = None

    def _corrupt(self, labels: Any, vocab: int) -> Any:
        """A fraction ``corrupt_ratio`` of the answer tokens (not -100) replaced by random ids that
        differ from them."""
        import torch

        hit = (torch.rand(labels.shape, generator=self.generator, device=labels.device) < self.config.corrupt_ratio) & (labels != -100)
        shift = torch.randint(1, max(vocab, 2), labels.shape, generator=self.generator, device=labels.device)
        return torch.where(hit, (labels + shift) % vocab, labels)

    def _mask(self, points: Any, counts: Any) -> Any:
        """:func:`verireward.mask_point_patches` of the batch; with ``counts`` (zero-padded clouds)
        each cloud over its own first ``counts[b]`` points (G and K capped there): ``points``
        re-padded to ``[B, P, 3+C]``, ``counts`` and ``masked_points [B, P]`` (padding False) as
        tensors, and ``centres``, ``patches``, ``distances``, ``masked_patches`` as lists of each
        cloud's own (their G and K may differ)."""
        import torch

        c: SPAConfig = self.config
        B, P = points.shape[0], points.shape[1]
        if counts is None:
            return mask_point_patches(points, c.num_groups, c.group_size, c.ratio, self.generator, mode=c.mask_mode)
        counts = torch.as_tensor(counts, dtype=torch.int64).reshape(-1).cpu()
        if counts.shape[0] != B or bool((counts < 1).any() | (counts > P).any()):
            raise ValueError(f"SPATrainer: the batch's 'point_counts' must hold {B} counts in [1, {P}] (the points of "
                             f"each cloud), got {counts.tolist()}")
        if bool((counts == P).all()):
            return mask_point_patches(points, c.num_groups, c.group_size, c.ratio, self.generator, mode=c.mask_mode)
        out = torch.zeros_like(points)
        kept = torch.zeros(B, dtype=torch.int64, device=points.device)
        hit = torch.zeros(B, P, dtype=torch.bool, device=points.device)
        rows = []
        for b in range(B):
            n = int(counts[b])
            m = mask_point_patches(points[b:b + 1, :n], min(c.num_groups, n), min(c.group_size, n), c.ratio,
                                   self.generator, mode=c.mask_mode)
            out[b, :n], kept[b], hit[b, :n] = m.points[0], m.counts[0], m.masked_points[0]
            rows.append(m)
        return MaskedPoints(out, kept, [m.centres[0] for m in rows], [m.patches[0] for m in rows],
                            [m.distances[0] for m in rows], [m.masked_patches[0] for m in rows], hit)

    def _extra_state(self) -> Dict[str, Any]:
        return {"mask_rng": self.generator.get_state()}

    def _load_extra_state(self, state: Dict[str, Any]) -> None:
        self.generator.set_state(state["mask_rng"])

    def train_step(self) -> Dict[str, float]:
        import torch

        c: SPAConfig = self.config
        batch = self.collate(self._next_records(c.batch_size))
        labels = batch["labels"]
        self.model.train()
        clean = self.logits(self.model, batch, batch["points"])
        lp = sequence_logprob(clean, labels)
        tokens = (labels != -100).sum(1).clamp(min=1)
        logs = {"logp_clean": float((lp / tokens).detach().mean())}
        if c.mode == "sft":
            loss = -(lp / tokens).mean()
        elif c.mode in ("spa", "spa_sft"):
            masked = self._mask(batch["points"], batch.get("point_counts"))
            self.last_masked = masked
            ln = sequence_logprob(self.logits(self.model, {**batch, "point_counts": masked.counts}, masked.points), labels)
            loss = spa_loss(lp, ln, c.beta)
            if c.mode == "spa_sft":
                loss = loss - (lp / tokens).mean()
            logs.update({"logp_masked": float((ln / tokens).detach().mean()),
                         "preference_accuracy": float((lp > ln).float().mean()),
                         "points_kept": float(masked.counts.float().mean())})
        else:
            rejected_batch = dict(batch)
            rejected = batch.get("rejected_labels")
            if rejected is None:
                rejected = self.corrupt(labels, clean.shape[-1])
            elif tuple(rejected.shape) != tuple(labels.shape):
                raise ValueError(f"SPATrainer: the batch's 'rejected_labels' must have the shape of its 'labels' "
                                 f"{tuple(labels.shape)}, got {tuple(rejected.shape)}")
            rejected_batch["labels"] = rejected
            ln = sequence_logprob(self.logits(self.model, rejected_batch, batch["points"]), rejected)
            if c.mode == "dpo":
                with torch.no_grad():
                    rp = sequence_logprob(self.logits(self.ref_model, batch, batch["points"]), labels)
                    rn = sequence_logprob(self.logits(self.ref_model, rejected_batch, batch["points"]), rejected)
                loss = dpo_loss(lp, ln, rp, rn, c.beta)
            else:
                loss = simpo_loss(lp, ln, tokens, (rejected != -100).sum(1).clamp(min=1), c.beta, c.gamma)
            logs.update({"logp_rejected": float((ln / tokens).detach().mean()),
                         "preference_accuracy": float((lp > ln).float().mean())})
        self._optimize(loss)
        logs["loss"] = float(loss.detach())
        return self._finish_step(logs)


__all__ = ["SPAConfig", "SPATrainer", "SPA_MODES"]
