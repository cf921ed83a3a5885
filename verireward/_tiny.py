"""Tiny language-model pieces built locally (nothing downloaded), for the runnable examples, the
benchmark and the tests: a byte-level BPE tokenizer (the GPT-2 / Qwen family) trained on a corpus,
optionally wrapped as a transformers fast tokenizer, a random-weight Qwen2 for it, and the
supervised fine-tuning that makes such a model an SFT anchor. One builder serves all of them."""

from __future__ import annotations

import random
from typing import Any, List, Sequence, Tuple

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


def sft_batch(tokenizer: Any, prompts: Sequence[str], targets: Sequence[str]) -> Tuple[Any, Any, Any]:
    """``(input_ids, attention_mask, labels)`` of a teacher-forcing batch: each prompt, its target and
    EOS, right-padded; the labels are the target's tokens and the EOS (``-100`` elsewhere)."""
    import torch

    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    p_ids, t_ids = tokenizer(list(prompts))["input_ids"], tokenizer(list(targets))["input_ids"]
    rows = [a + b + [eos] for a, b in zip(p_ids, t_ids)]
    L = max(map(len, rows))
    ids = torch.tensor([r + [pad] * (L - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (L - len(r)) for r in rows])
    labels = torch.tensor([[-100] * len(a) + b + [eos] + [-100] * (L - len(a) - len(b) - 1)
                           for a, b in zip(p_ids, t_ids)])
    return ids, mask, labels


def sft(model: Any, tokenizer: Any, pairs: Sequence[Tuple[str, str]], *, steps: int, batch_size: int = 16,
        learning_rate: float = 3e-3, seed: int = 0) -> List[float]:
    """Supervised fine-tuning of a causal LM on ``(prompt, target)`` pairs (teacher forcing, the loss on
    the target tokens and the EOS after them, :func:`sft_batch`; AdamW), in place: what turns a random
    tiny model into an SFT anchor that writes the answer's format. Returns the loss of each step."""
    import torch

    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    losses = []
    model.train()
    for _ in range(steps):
        chosen = [pairs[rng.randrange(len(pairs))] for _ in range(batch_size)]
        ids, mask, labels = sft_batch(tokenizer, [p for p, _ in chosen], [t for _, t in chosen])
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses
