"""Run by test_trainers.py, alone or under torchrun: AP-GRPO steps with deterministic (scripted)
completions, so that a 2-process run and a 1-process run on the same records can be compared."""

from __future__ import annotations

import hashlib
import json
import sys

import torch

from verireward import data
from verireward.trainers import APGRPOConfig, APGRPOTrainer, numeric_records


def build_tokenizer(questions):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [q["prompt"] for q in questions] + [f"The answer is {q['answer']}" for q in questions]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus * 3, trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>", "<|pad|>"],
                                                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                            show_progress=False))
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|pad|>")


class Scripted(APGRPOTrainer):
    """Each prompt's G completions are a function of the prompt and the step only."""

    def generate(self, inputs):
        G = self.config.group_size
        key = hashlib.sha256((str(inputs["input_ids"][0].tolist()) + str(self.step)).encode()).digest()
        rows = [self.tokenizer(f"The answer is {0.5 + key[g] / 64:.{key[g + 8] % 5}f}" + " ok" * (key[g + 16] % 4))["input_ids"]
                + [self.tokenizer.eos_token_id]
                for g in range(G)]
        T = max(len(r) for r in rows)
        out = torch.full((G, T), self.pad_id, dtype=torch.long)
        for g, r in enumerate(rows):
            out[g, : len(r)] = torch.tensor(r)
        return out


def main(outdir: str, tag: str, prompts_per_step: int) -> None:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    questions = numeric_records(data.numeric_questions(16, seed=2))
    tok = build_tokenizer(questions)
    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    model = Qwen2ForCausalLM(cfg)
    seen = []
    trainer = Scripted(model, tok, questions, APGRPOConfig(steps=2, prompts_per_step=prompts_per_step, group_size=4,
                                                           learning_rate=1e-3, beta=0.0, aggregation="token_mean"))
    inner = trainer.rollout
    trainer.rollout = lambda records: seen.extend(r["prompt"] for r in records) or inner(records)
    logs = trainer.train()
    with open(f"{outdir}/{tag}-rank{trainer.rank}.json", "w") as f:
        json.dump({"prompts": seen, "world": trainer.world, "losses": [row["loss"] for row in logs]}, f)
    if trainer.rank == 0:
        torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, f"{outdir}/{tag}-params.pt")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
