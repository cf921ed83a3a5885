"""Run by test_trainers.py, alone or under torchrun: AP-GRPO steps with deterministic (scripted)
completions, so that a 2-process run and a 1-process run on the same records can be compared."""

from __future__ import annotations

import hashlib
import json
import sys

import os

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiny_lm import bpe_tokenizer, tiny_qwen2  # noqa: E402

from verireward import data
from verireward.trainers import APGRPOConfig, APGRPOTrainer, numeric_records


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
    questions = numeric_records(data.numeric_questions(16, seed=2))
    tok = bpe_tokenizer([q["prompt"] for q in questions] + [f"The answer is {q['answer']}" for q in questions], 300)
    model = tiny_qwen2(tok)
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
