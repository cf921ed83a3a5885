"""Tiny language-model pieces built locally (nothing downloaded), for the runnable examples, the
benchmark and the tests: a byte-level BPE tokenizer (the GPT-2 / Qwen family) trained on a corpus,
optionally wrapped as a transformers fast tokenizer, and a random-weight Qwen2 for it. One builder
serves all of them."""

from __future__ import annotations

from typing import Any, Sequence, Tuple

EOS, PAD = "<|endoftext|>", "<|pad|>"


def byte_bpe(corpus: Sequence[str], vocab_size: int, *, special_tokens: Tuple[str, ...] = (EOS, PAD),
             transformers: bool = False) -> Any:
    """A byte-level BPE ``tokenizers.Tokenizer`` trained on ``corpus`` (every byte in its alphabet),
    or with ``transformers=True`` the same wrapped as a ``PreTrainedTokenizerFast`` whose eos and
    pad tokens are the first two special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(list(corpus), trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(special_tokens),
                                                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                              show_progress=False))
    if not transformers:
        return tok
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=special_tokens[0], pad_token=special_tokens[1])


def qwen2(tokenizer: Any, *, hidden_size: int = 32, layers: int = 2, seed: int = 0, cls: Any = None) -> Any:
    """A random-weight Qwen2 (or a subclass ``cls``) for a transformers tokenizer, seeded."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                      num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                      eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                      bos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(seed)
    return (cls or Qwen2ForCausalLM)(cfg)
