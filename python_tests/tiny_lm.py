"""Tiny language-model pieces for the trainer and adapter tests, from verireward's one builder
(verireward/_tiny.py), and a scripted Qwen2 whose generate writes noisy right answers."""

from __future__ import annotations

import random
from typing import Sequence

import torch

from verireward import _tiny


def bpe_tokenizer(corpus: Sequence[str], vocab_size: int):
    """verireward's tiny byte-level BPE, as a transformers fast tokenizer (eos and pad tokens)."""
    return _tiny.byte_bpe(list(corpus) * 3, vocab_size, transformers=True)


def tiny_qwen2(tokenizer, seed: int = 0, cls=None):
    """A random-weight Qwen2 (or a subclass ``cls``) for the tokenizer, seeded."""
    return _tiny.qwen2(tokenizer, seed=seed, cls=cls)


def scripted_grounding_qwen2(tokenizer, records):
    """A tiny Qwen2 whose generate writes, for half of each group, a noisy version of the right answer:
    a random-weight model alone would give every completion reward 0 and every advantage 0."""
    from transformers import Qwen2ForCausalLM

    targets = {tokenizer(r["prompt"])["input_ids"].__repr__(): r["target"] for r in records}

    class Scripted(Qwen2ForCausalLM):
        def generate(self, input_ids=None, attention_mask=None, **kwargs):
            out = super().generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
            P = input_ids.shape[1]
            rng = random.Random(int(out.sum()))
            rows = []
            for k in range(out.shape[0]):
                prompt = input_ids[k][attention_mask[k].bool()].tolist() if attention_mask is not None else input_ids[k].tolist()
                text = targets.get(repr(prompt))
                if text is None or k % 2:
                    rows.append(out[k, P:].tolist())
                    continue
                noisy = "".join(str(min(9, int(c) + rng.choice([0, 0, 1]))) if c.isdigit() and rng.random() < 0.2 else c
                                for c in text)
                rows.append(tokenizer(noisy)["input_ids"] + [tokenizer.eos_token_id])
            T = max(len(r) for r in rows)
            new = torch.full((out.shape[0], P + T), tokenizer.pad_token_id, dtype=out.dtype)
            new[:, :P] = out[:, :P]
            for k, r in enumerate(rows):
                new[k, P:P + len(r)] = torch.tensor(r, dtype=out.dtype)
            return new

    return tiny_qwen2(tokenizer, cls=Scripted)
