"""The reference trainers end to end on a tiny random-weight Qwen2 model and a byte-level BPE
tokenizer trained here: a few steps run, losses are finite, parameters change, the advantages that
reach the loss are verireward's, and a resumed run continues exactly."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

import verireward as vr
from verireward import data
from verireward.trainers import (APGRPOConfig, APGRPOTrainer, GRCAConfig, GRCATrainer, first_number, grounding_records,
                                 numeric_records)

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def grounding():
    return grounding_records(data.grounding_samples(4, seed=11))


@pytest.fixture(scope="module")
def questions():
    return numeric_records(data.numeric_questions(6, seed=5))


@pytest.fixture(scope="module")
def tokenizer(grounding, questions):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [r["target"] for r in grounding] + [r["prompt"] for r in grounding + questions] + \
        [f"The answer is {q['answer']}" for q in questions]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus * 3, trainers.BpeTrainer(vocab_size=500, special_tokens=["<|endoftext|>", "<|pad|>"],
                                                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                            show_progress=False))
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|pad|>")


def tiny_model(tokenizer, seed=0):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    cfg = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                      eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return Qwen2ForCausalLM(cfg)


def scripted(trainer_class):
    """The trainer, with half of each group written by a script (noisy versions of a right answer) so
    that a random-weight model's batches have rewards that differ within a group."""

    class Scripted(trainer_class):
        def generate(self, inputs):
            sampled = super().generate(inputs)
            G = self.config.group_size
            rng = random.Random(self.step * 7919 + int(inputs["input_ids"].sum()))
            rec = next(r for r in self.dataset if self.tokenizer(r["prompt"])["input_ids"] == inputs["input_ids"][0].tolist())
            rows = []
            for g in range(G // 2):
                rows.append(self.tokenizer(self.script(rec, rng))["input_ids"] + [self.tokenizer.eos_token_id])
            T = max(sampled.shape[1], max(len(r) for r in rows))
            out = torch.full((G, T), self.pad_id, dtype=torch.long)
            out[: G - len(rows), : sampled.shape[1]] = sampled[: G - len(rows)]
            for k, r in enumerate(rows):
                out[G - len(rows) + k, : len(r)] = torch.tensor(r)
            return out

    return Scripted


def noisy_target(rec, rng):
    text = rec["target"]
    return "".join(str(min(1000, max(0, int(ch) + rng.choice([-1, 0, 1])))) if ch.isdigit() and rng.random() < 0.3 else ch
                   for ch in text)


def captured(trainer):
    """Records the advantages each loss call receives."""
    seen = []
    inner = trainer.loss

    def loss(logp, old, adv, mask, ref):
        seen.append(adv.detach().clone())
        return inner(logp, old, adv, mask, ref)

    trainer.loss = loss
    return seen


@pytest.mark.parametrize("mode", ["broadcast", "routed", "routed_rpc"])
def test_grca_trainer_steps_and_routes_verireward_advantages(tokenizer, grounding, mode):
    model = tiny_model(tokenizer)
    before = [p.detach().clone() for p in model.parameters()]
    Trainer = scripted(GRCATrainer)
    Trainer.script = staticmethod(noisy_target)
    cfg = GRCAConfig(steps=2, prompts_per_step=2, group_size=4, max_new_tokens=12, learning_rate=1e-2, beta=0.05, mode=mode)
    trainer = Trainer(model, tokenizer, grounding, cfg)
    seen = captured(trainer)
    logs = trainer.train()
    assert len(logs) == 2 and all(math.isfinite(v) for row in logs for v in row.values())
    assert {"reward/bbox2d", "reward/kpts3d", "rpc", "advantage_variance", "loss", "kl", "clip_fraction"} <= set(logs[0])
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))  # it learned something
    # the advantages that reached the loss are verireward's for the last batch's rewards and spans
    assert torch.equal(seen[-1], trainer.last_advantages)
    mask = trainer.last_advantages != 0
    assert mask.any()
    rpc = trainer.last_rpc if mode != "routed" else None
    want = vr.routed_advantages(trainer.last_rewards, trainer.last_spans, trainer._last_mask, cfg.group_size, rpc=rpc,
                                lam=cfg.lam, mode="broadcast" if mode == "broadcast" else "routed")
    assert torch.equal(seen[-1], want.to(torch.float32))
    if mode != "broadcast":  # routed credit: tokens of one completion carry different advantages
        assert any(len(set(row[m].tolist())) > 1 for row, m in zip(seen[-1], trainer._last_mask))


def test_grca_trainer_resumes_exactly(tokenizer, grounding, tmp_path):
    Trainer = scripted(GRCATrainer)
    Trainer.script = staticmethod(noisy_target)
    cfg = GRCAConfig(steps=2, prompts_per_step=1, group_size=4, max_new_tokens=10, learning_rate=1e-2,
                     output_dir=str(tmp_path), save_every=1)
    full = Trainer(tiny_model(tokenizer), tokenizer, grounding, cfg)
    full.train()
    resumed = Trainer(tiny_model(tokenizer, seed=1), tokenizer, grounding, cfg)  # other weights: the checkpoint wins
    resumed.load_checkpoint(str(tmp_path / "checkpoint-1.pt"))
    assert resumed.step == 1
    resumed.train()
    for a, b in zip(full.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    assert resumed.history[-1]["loss"] == full.history[-1]["loss"]


def noisy_answer(rec, rng):
    return rng.choice([f"The answer is {rec['answer']}", f"The answer is {rec['answer'] * rng.uniform(0.5, 1.5):.2f}",
                       "I do not know"])


@pytest.mark.parametrize("mode", ["binary", "snra", "ap_grpo"])
def test_ap_grpo_trainer(tokenizer, questions, mode):
    model = tiny_model(tokenizer)
    before = [p.detach().clone() for p in model.parameters()]
    Trainer = scripted(APGRPOTrainer)
    Trainer.script = staticmethod(noisy_answer)
    cfg = APGRPOConfig(steps=3, prompts_per_step=2, group_size=4, max_new_tokens=8, learning_rate=1e-2, mode=mode,
                       schedule="linear")
    trainer = Trainer(model, tokenizer, questions, cfg)
    seen = captured(trainer)
    logs = trainer.train()
    assert all(math.isfinite(v) for row in logs for v in row.values())
    assert [row["k"] for row in logs] == [vr.sharpness(s, 3, "linear") for s in range(3)]  # the schedule reads the step
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    seq = trainer.last_sequence_advantages
    assert torch.equal(seen[-1], seq.to(torch.float32)[:, None] * trainer._last_mask)
    if mode == "ap_grpo":
        assert seq.abs().max() <= cfg.clip


def test_first_number_and_configs():
    assert first_number("The answer is 3.5 m, not 4") == 3.5 and first_number("-2e1") == -20.0
    assert math.isnan(first_number("no idea")) and math.isnan(first_number("1e999"))
    with pytest.raises(ValueError, match="mode must be one of broadcast, routed, routed_rpc"):
        GRCAConfig(mode="grpo")
    with pytest.raises(ValueError, match="group_size must be an int >= 1"):
        APGRPOConfig(group_size=0)
