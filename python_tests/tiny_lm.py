"""Tiny language-model pieces the trainer and adapter tests build locally: a byte-level BPE
tokenizer trained on a corpus, wrapped as a transformers fast tokenizer, and a random-weight Qwen2."""

from __future__ import annotations

import random
from typing import Sequence

import torch


def bpe_tokenizer(corpus: Sequence[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(list(corpus) * 3, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>", "<|pad|>"],
                                                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                                  show_progress=False))
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|pad|>")


def qwen2_config(tokenizer):
    from transformers import Qwen2Config

    return Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                       eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                       bos_token_id=tokenizer.eos_token_id)


def tiny_qwen2(tokenizer, seed: int = 0, cls=None):
    """A random-weight Qwen2 (or a subclass ``cls``) for the tokenizer, seeded."""
    from transformers import Qwen2ForCausalLM

    torch.manual_seed(seed)
    return (cls or Qwen2ForCausalLM)(qwen2_config(tokenizer))


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
