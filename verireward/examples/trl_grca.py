"""GRCA inside TRL: routed per-field advantages with RPC in a real ``trl.GRPOTrainer`` run.

    python -m verireward.examples.trl_grca                       # tiny random-weight Qwen2, 2 steps, CPU
    python -m verireward.examples.trl_grca --model PATH --steps 200 --device cuda

The data are verireward's synthetic camera-calibrated scenes (``verireward.data``): the prompt asks
for the object's 2D and 3D boxes and keypoints in JSON, with the GRCA schema's bins. Without
``--model``, a tiny Qwen2 is first made an SFT anchor (``--sft-steps`` of supervised fine-tuning on
the scenes' answers, a few seconds), so it writes the answer's JSON and its completions score:
the printed rewards and routed advantages are not zero. (``--sft-steps 0`` keeps the random
model, whose completions are all malformed: every reward is 0.) Pass ``--model`` (a local Hugging
Face causal LM directory) for a real run. Needs ``pip install trl datasets`` (tested with trl 1.16).
"""

from __future__ import annotations

import argparse
import tempfile

from verireward import _tiny, data
from verireward.grca.fields import GRCA_MODES
from verireward.integrations import trl as vr_trl
from verireward.trainers import grounding_records


def tiny_model_and_tokenizer(corpus):
    """A byte-level BPE tokenizer trained on the corpus and a random-weight Qwen2 for it."""
    tokenizer = _tiny.byte_bpe(corpus, 600, transformers=True)
    return _tiny.qwen2(tokenizer, hidden_size=64), tokenizer


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="a local Hugging Face causal LM directory (default: a tiny random Qwen2)")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--samples", type=int, default=32, help="synthetic scenes in the dataset")
    parser.add_argument("--sft-steps", type=int, default=300, help="SFT steps that make the tiny model an anchor")
    parser.add_argument("--mode", choices=GRCA_MODES, default="routed_rpc")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = parser.parse_args(argv)

    import datasets
    from trl import GRPOConfig

    # the tiny model's answers: 4 keypoints per field (about 100 tokens) instead of 16 (about 320)
    records = grounding_records(data.grounding_samples(args.samples, seed=0, num_keypoints=16 if args.model else 4))
    if args.model:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model, tokenizer = AutoModelForCausalLM.from_pretrained(args.model), AutoTokenizer.from_pretrained(args.model)
    else:
        model, tokenizer = tiny_model_and_tokenizer([r["target"] for r in records] + [r["prompt"] for r in records])
        if args.sft_steps:
            losses = _tiny.sft(model, tokenizer, [(r["prompt"], r["target"]) for r in records], steps=args.sft_steps)
            print(f"SFT anchor: {args.sft_steps} steps, loss {losses[0]:.2f} -> {losses[-1]:.2f}")
    dataset = datasets.Dataset.from_list([{k: r[k] for k in ("prompt", "bbox2d", "bbox3d", "K", "R", "t")} for r in records])
    with tempfile.TemporaryDirectory() as out:
        length = 400 if args.model else 160  # tokens: the answer and some slack
        config = GRPOConfig(output_dir=out, per_device_train_batch_size=4, num_generations=4, max_completion_length=length,
                            max_steps=args.steps, learning_rate=1e-5, report_to=[], logging_steps=1, save_strategy="no",
                            use_cpu=args.device == "cpu", bf16=False, beta=0.0)
        trainer = vr_trl.GRCAGRPOTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                                         grounding=vr_trl.GroundingRewards(data.grounding_schema()), mode=args.mode)
        trainer.train()
    for row in trainer.state.log_history:
        shown = {k: round(v, 4) for k, v in row.items() if k.startswith("rewards/") and k.endswith("/mean") or k == "loss"}
        if shown:
            print(shown)
    if trainer.last_routed is not None:
        _, _, adv = trainer.last_routed
        moved = adv[adv != 0]
        spread = f", {moved.numel()} tokens non-zero, from {moved.min():.3f} to {moved.max():.3f}" if moved.numel() else ", all 0"
        print(f"last batch: routed advantages {tuple(adv.shape)} (per token) reached TRL's loss{spread}")


if __name__ == "__main__":
    main()
