"""The reference trainers' configuration dataclasses: every option documented once, in
:class:`TrainConfig` (the loop all trainers share), :class:`RLConfig` (the GRPO family) and
:class:`SupervisedConfig` (W2R2, SPA); each trainer's config subclasses one of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass
class TrainConfig:
    """Options every reference trainer has.

    Attributes:
        steps: optimizer rounds.
        learning_rate, weight_decay: AdamW.
        max_grad_norm: gradient clipping (0: none).
        seed: seeds the record order (and whatever else a trainer draws).
        output_dir: where checkpoints go (None: no checkpoints).
        save_every: rounds between checkpoints (0: only at the end when ``output_dir`` is set).
    """

    steps: int = 10
    learning_rate: float = 1e-5
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 0
    output_dir: Optional[str] = None
    save_every: int = 0

    _positive_ints = ("steps",)

    def __post_init__(self) -> None:
        for name in self._positive_ints:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{type(self).__name__}: {name} must be an int >= 1, got {v!r}")
        if self.save_every < 0:
            raise ValueError(f"{type(self).__name__}: save_every must be >= 0, got {self.save_every!r}")


@dataclass
class RLConfig(TrainConfig):
    """:class:`TrainConfig` plus the options of the GRPO-family trainers.

    Attributes:
        prompts_per_step: prompts sampled per round (per process when there are several).
        group_size: G, completions per prompt (the GRPO group).
        max_new_tokens: the longest completion.
        temperature, top_p: sampling.
        updates_per_batch: optimizer steps on each sampled batch (μ; 1 = on-policy, ratio 1 at the
            first step, as TRL's default).
        clip_eps: ε of the clipped surrogate.
        beta: KL weight; > 0 keeps a frozen copy of the initial model as the reference.
        aggregation: ``"sample_mean"`` (the papers' 1/G Σ 1/L_i Σ_t), ``"token_mean"`` or ``"sequence_sum"``
            (over several processes each is the global one: ``token_mean`` is reweighted by each
            process's share of the tokens).
    """

    prompts_per_step: int = 2
    group_size: int = 8
    max_new_tokens: int = 64
    temperature: float = 1.0
    top_p: float = 1.0
    updates_per_batch: int = 1
    clip_eps: float = 0.2
    beta: float = 0.0
    aggregation: str = "sample_mean"

    _positive_ints = ("steps", "prompts_per_step", "group_size", "max_new_tokens", "updates_per_batch")


@dataclass
class SupervisedConfig(TrainConfig):
    """:class:`TrainConfig` plus ``batch_size`` (records per step), for the trainers that learn from
    labelled batches (W2R2, SPA)."""

    steps: int = 100
    learning_rate: float = 1e-4
    batch_size: int = 8

    _positive_ints = ("steps", "batch_size")
