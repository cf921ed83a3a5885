"""Run by test_integration_trl.py under `accelerate launch` with 2 processes: one GRCAGRPOTrainer
step whose groups of 4 completions are split 2 + 2 over the processes; each process saves what it
scored (ids, mask, ground truth) and the routed advantages it produced."""

from __future__ import annotations

import os
import sys
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
warnings.filterwarnings("ignore")

from tiny_lm import bpe_tokenizer, scripted_grounding_qwen2  # noqa: E402


def worker_records():
    from verireward import data
    from verireward.trainers import grounding_records

    return grounding_records(data.grounding_samples(8, seed=21))


def worker_tokenizer(records):
    return bpe_tokenizer([r["target"] for r in records] + [r["prompt"] for r in records], 400)


def main(outdir: str) -> None:
    import datasets
    from trl import GRPOConfig

    from verireward import data
    from verireward.integrations.trl import GRCAGRPOTrainer, GroundingRewards

    records = worker_records()
    tok = worker_tokenizer(records)
    model = scripted_grounding_qwen2(tok, records)
    dataset = datasets.Dataset.from_list([{k: r[k] for k in ("prompt", "bbox2d", "bbox3d", "K", "R", "t")} for r in records])
    cfg = GRPOConfig(output_dir=outdir, per_device_train_batch_size=2, num_generations=4, max_completion_length=256,
                     max_steps=1, learning_rate=1e-3, report_to=[], save_strategy="no", use_cpu=True, bf16=False, beta=0.0,
                     seed=0)
    trainer = GRCAGRPOTrainer(model=model, args=cfg, train_dataset=dataset, processing_class=tok,
                              grounding=GroundingRewards(data.grounding_schema()))
    seen = []
    inner = trainer._generate_and_score_completions
    trainer._generate_and_score_completions = lambda inputs: seen.append([dict(x) for x in inputs]) or inner(inputs)
    trainer.train()
    ids, mask, adv = trainer.last_routed
    rank = trainer.accelerator.process_index
    torch.save({"ids": ids.cpu(), "mask": mask.cpu(), "adv": adv.cpu(), "world": trainer.accelerator.num_processes,
                "gt": [{k: x[k] for k in ("bbox2d", "bbox3d", "K", "R", "t")} for x in seen[-1]],
                "texts": tok.batch_decode([r[m].tolist() for r, m in zip(ids, mask)], skip_special_tokens=True)},
               f"{outdir}/rank{rank}.pt")


if __name__ == "__main__":
    main(sys.argv[1])
