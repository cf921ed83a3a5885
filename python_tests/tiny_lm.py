"""Tiny language-model pieces the trainer and adapter tests build locally: a byte-level BPE
tokenizer trained on a corpus, wrapped as a transformers fast tokenizer, and a random-weight Qwen2."""

from __future__ import annotations

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
