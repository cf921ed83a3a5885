"""The loop the GRPO-family reference trainers share: sample G completions per prompt with the
model's own ``generate``, score them (the subclass: verireward's rewards and advantages), and take
clipped-surrogate steps (verireward's losses). Nothing here re-derives objective math.

A trainer takes any Hugging Face causal LM and its tokenizer, a dataset (a sequence of dicts) and a
``build_inputs(record, tokenizer) -> dict`` callable that makes the model's inputs for one prompt
(``input_ids [1, P]`` and whatever else the model takes, e.g. image or point features, which are
passed to ``generate`` and to every forward pass). Tensors live on the model's device.

Several processes: launched with ``torchrun --nproc_per_node N`` or ``accelerate launch
--num_processes N`` (both set WORLD_SIZE and the rendezvous variables), every trainer joins the
process group, starts from rank 0's weights, gives each process its own slice of each step's
records (and its own sampling seed), and averages gradients over processes after each backward, so
that with equal batches per process the update is the one a single process would take on the
whole batch. GRPO groups never span processes (a prompt's G completions are sampled together).
Checkpoints are written by rank 0. Put the model on the process's device before building the
trainer.
"""

from __future__ import annotations

import copy
import os
import random
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from verireward.trainers.config import RLConfig, SupervisedConfig, TrainConfig  # noqa: F401 - re-exported
from verireward.objectives.preference import token_logprob


def default_build_inputs(record: Dict[str, Any], tokenizer: Any) -> Dict[str, Any]:
    """``record["prompt"]`` tokenized (text-only models)."""
    enc = tokenizer(record["prompt"], return_tensors="pt")
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


@dataclass
class Rollout:
    """One sampled batch: ``ids [N, T]`` completion tokens (right-padded), ``mask [N, T]``,
    ``texts`` (decoded, special tokens skipped), ``records`` (the prompt record of each row),
    ``inputs`` (the prompt inputs of each group), N = prompts × G, groups contiguous."""

    ids: Any
    mask: Any
    texts: List[str]
    records: List[Dict[str, Any]]
    inputs: List[Dict[str, Any]]
    group_size: int


def _process_group():
    """``(rank, world)``: torch.distributed's when a launcher (``torchrun``, ``accelerate launch``) set
    WORLD_SIZE > 1 — the process group is initialized here if it is not yet (NCCL with CUDA, else
    gloo) — and ``(0, 1)`` otherwise."""
    import torch
    import torch.distributed as dist

    if not dist.is_available():
        return 0, 1
    if not dist.is_initialized():
        if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
            return 0, 1
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


class TrainerBase:
    """What every reference trainer has: the model, an AdamW optimizer, the step counter, the logs,
    a seeded order over the dataset, and checkpoints that resume exactly."""

    def __init__(self, model: Any, dataset: Sequence[Dict[str, Any]], config: Any, reference: bool = False) -> None:
        """``reference``: keep a frozen copy of the starting model (rank 0's weights) as ``ref_model``;
        it is saved in and restored from checkpoints."""
        import torch

        if len(dataset) == 0:
            raise ValueError(f"{type(self).__name__}: the dataset is empty")
        self.model, self.dataset, self.config = model, list(dataset), config
        self.device = next(model.parameters()).device
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        self.step = 0
        self.history: List[Dict[str, float]] = []
        self._order: List[int] = []
        self.rank, self.world = _process_group()
        if self.world > 1:  # every process starts from rank 0's weights and samples its own completions
            import torch.distributed as dist

            with torch.no_grad():
                for p in model.parameters():
                    dist.broadcast(p.data, 0)
            torch.manual_seed(config.seed * 1009 + self.rank)
        self.ref_model = None
        if reference:
            self.ref_model = copy.deepcopy(model).eval()
            for p in self.ref_model.parameters():
                p.requires_grad_(False)

    def _next_records(self, count: int) -> List[Dict[str, Any]]:
        """This process's `count` records of the next ``count × processes`` of a seeded shuffle
        (reshuffled when exhausted); every process walks the same order."""
        out = []
        for _ in range(count * self.world):
            if not self._order:
                self._order = list(range(len(self.dataset)))
                random.Random(self.config.seed + self.step).shuffle(self._order)
            out.append(self.dataset[self._order.pop()])
        return out[self.rank * count:(self.rank + 1) * count]

    def _optimize(self, loss: Any) -> None:
        """Backward, gradients averaged over processes (so each process's loss counts equally: with
        the same batch on every process, the global mean), clipping, step."""
        import torch

        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.world > 1:
            import torch.distributed as dist

            for p in self.model.parameters():
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                dist.all_reduce(p.grad)
                p.grad /= self.world
        if self.config.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm)
        self.optimizer.step()

    def _finish_step(self, logs: Dict[str, float]) -> Dict[str, float]:
        c = self.config
        self.step += 1
        logs["step"] = self.step
        self.history.append(logs)
        if self.rank == 0 and c.output_dir and ((c.save_every and self.step % c.save_every == 0) or self.step == c.steps):
            self.save_checkpoint(os.path.join(c.output_dir, f"checkpoint-{self.step}.pt"))
        return logs

    def train_step(self) -> Dict[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def train(self) -> List[Dict[str, float]]:
        """Runs until ``config.steps`` steps are done (continuing after :meth:`load_checkpoint`)."""
        while self.step < self.config.steps:
            self.train_step()
        return self.history

    def _extra_state(self) -> Dict[str, Any]:
        return {}

    def _load_extra_state(self, state: Dict[str, Any]) -> None:
        pass

    def save_checkpoint(self, path: str) -> None:
        """Model, optimizer, step, logs, dataset order and RNG states, in one file."""
        import torch

        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        torch.save({"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "step": self.step,
                    "history": self.history, "order": self._order, "config": asdict(self.config),
                    "torch_rng": torch.get_rng_state(), "numpy_rng": np.random.get_state(),
                    "ref_model": self.ref_model.state_dict() if self.ref_model is not None else None,
                    **self._extra_state()}, path)

    def load_checkpoint(self, path: str) -> None:
        import torch

        state = torch.load(path, map_location=self.device, weights_only=False)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.history, self._order = state["step"], state["history"], state["order"]
        torch.set_rng_state(state["torch_rng"])
        np.random.set_state(state["numpy_rng"])
        if self.ref_model is not None and state.get("ref_model") is not None:
            self.ref_model.load_state_dict(state["ref_model"])
        self._load_extra_state(state)


class RLTrainer(TrainerBase):
    """The shared GRPO-family loop. Subclasses implement :meth:`score` (rewards → ``[N, T]``
    advantages and logs) and :meth:`loss` (a verireward loss)."""

    config_class = RLConfig

    def __init__(self, model: Any, tokenizer: Any, dataset: Sequence[Dict[str, Any]], config: Optional[RLConfig] = None,
                 build_inputs: Optional[Callable[[Dict[str, Any], Any], Dict[str, Any]]] = None) -> None:
        config = config or self.config_class()
        super().__init__(model, dataset, config, reference=config.beta > 0)
        self.tokenizer = tokenizer
        self.build_inputs = build_inputs or default_build_inputs
        self.last_advantages = None  # what reached the loss at the last step (for checks and logs)
        self._last_mask = None
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    # ---- sampling --------------------------------------------------------------------------------

    def generate(self, inputs: Dict[str, Any]) -> Any:
        """``[G, T]`` sampled continuations of one prompt (override to change how sampling is done)."""
        c = self.config
        prompt_len = inputs["input_ids"].shape[1]
        out = self.model.generate(**inputs, do_sample=True, num_return_sequences=c.group_size,
                                  max_new_tokens=c.max_new_tokens, temperature=c.temperature, top_p=c.top_p,
                                  pad_token_id=self.pad_id, eos_token_id=self.tokenizer.eos_token_id)
        return out[:, prompt_len:]

    def rollout(self, records: List[Dict[str, Any]]) -> Rollout:
        import torch

        G = self.config.group_size
        inputs, pieces = [], []
        self.model.eval()
        with torch.no_grad():
            for rec in records:
                inp = {k: (v.to(self.device) if isinstance(v, torch.Tensor) else v) for k, v in self.build_inputs(rec, self.tokenizer).items()}
                inputs.append(inp)
                pieces.append(self.generate(inp))
        T = max(p.shape[1] for p in pieces)
        ids = torch.full((G * len(records), T), self.pad_id, dtype=torch.long, device=self.device)
        for k, p in enumerate(pieces):
            ids[k * G:(k + 1) * G, : p.shape[1]] = p
        mask = self._completion_mask(ids, [p.shape[1] for p in pieces])
        texts = self.tokenizer.batch_decode([row[m].tolist() for row, m in zip(ids, mask)], skip_special_tokens=True)
        return Rollout(ids, mask, texts, [r for r in records for _ in range(G)], inputs, G)

    def _completion_mask(self, ids: Any, lengths: List[int]) -> Any:
        """Tokens up to and including the first EOS, within each group's sampled length."""
        import torch

        G = self.config.group_size
        T = ids.shape[1]
        pos = torch.arange(T, device=ids.device)[None, :]
        limit = torch.tensor([n for n in lengths for _ in range(G)], device=ids.device)[:, None]
        eos = self.tokenizer.eos_token_id
        is_eos = (ids == eos) & (pos < limit) if eos is not None else torch.zeros_like(ids, dtype=torch.bool)
        first = torch.where(is_eos.any(1), is_eos.float().argmax(1), limit.squeeze(1))
        return (pos <= first[:, None]) & (pos < limit)

    # ---- log-probabilities -----------------------------------------------------------------------

    def token_logps(self, model: Any, batch: Rollout) -> Any:
        """``[N, T]`` log-probabilities of the completion tokens under ``model`` (verireward's chunked
        :func:`verireward.token_logprob`), one forward per prompt group."""
        import torch

        G, rows = batch.group_size, []
        for k, inp in enumerate(batch.inputs):
            ids = batch.ids[k * G:(k + 1) * G]
            prompt = inp["input_ids"].expand(G, -1)
            P = prompt.shape[1]
            full = torch.cat([prompt, ids], 1)
            attn = torch.cat([inp.get("attention_mask", torch.ones_like(inp["input_ids"])).expand(G, -1),
                              batch.mask[k * G:(k + 1) * G].long()], 1)
            extra = {key: v for key, v in inp.items() if key not in ("input_ids", "attention_mask")}
            logits = model(input_ids=full, attention_mask=attn, **extra).logits
            rows.append(token_logprob(logits[:, P - 1:-1], ids, batch.mask[k * G:(k + 1) * G]))
        return torch.cat(rows)

    # ---- the loop --------------------------------------------------------------------------------

    def _token_mean_weight(self, mask: Any) -> Any:
        """1, except for ``token_mean`` over several processes: this process's share of all tokens
        times the process count, so that averaging gradients gives the global token mean."""
        if self.world == 1 or self.config.aggregation != "token_mean":
            return 1.0
        import torch.distributed as dist

        local = mask.sum().to(float)
        total = local.clone()
        dist.all_reduce(total)
        return (local * self.world / total.clamp(min=1)).item()

    def score(self, batch: Rollout):  # pragma: no cover - abstract
        """``(advantages [N, T], logs)`` for a rollout."""
        raise NotImplementedError

    def loss(self, logp: Any, old_logp: Any, advantages: Any, mask: Any, ref_logp: Optional[Any]):  # pragma: no cover
        """``(loss, stats)`` with a verireward loss."""
        raise NotImplementedError

    def train_step(self) -> Dict[str, float]:
        import torch

        c = self.config
        batch = self.rollout(self._next_records(c.prompts_per_step))
        advantages, logs = self.score(batch)
        self.last_advantages, self._last_mask = advantages.detach(), batch.mask
        with torch.no_grad():
            old = self.token_logps(self.model, batch)
            ref = self.token_logps(self.ref_model, batch) if self.ref_model is not None else None
        self.model.train()
        for _ in range(c.updates_per_batch):
            logp = self.token_logps(self.model, batch)
            loss, stats = self.loss(logp, old, advantages, batch.mask, ref)
            self._optimize(loss * self._token_mean_weight(batch.mask))
        logs.update({"loss": float(loss.detach()), "kl": float(stats["kl"]), "clip_fraction": float(stats["clip_fraction"]),
                     "completion_length": float(batch.mask.sum(1).float().mean())})
        return self._finish_step(logs)


__all__ = ["TrainConfig", "RLConfig", "SupervisedConfig", "RLTrainer", "TrainerBase", "Rollout", "default_build_inputs"]
