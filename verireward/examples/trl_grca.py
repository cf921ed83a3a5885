"""GRCA inside TRL: routed per-field advantages with RPC in a real ``trl.GRPOTrainer`` run.

    python -m verireward.examples.trl_grca                       # tiny random-weight Qwen2, 2 steps, CPU
    python -m verireward.examples.trl_grca --model PATH --steps 200 --device cuda

The data are verireward's synthetic camera-calibrated scenes (``verireward.data``): the prompt asks
for the object's 2D and 3D boxes and keypoints in JSON, with the GRCA schema's bins. With the tiny
random model every completion is malformed, so every reward and advantage is 0: that run only shows
the plumbing. Pass ``--model`` (a local Hugging Face causal LM directory) for a real run. Needs
``pip install trl datasets`` (tested with trl 1.16).
"""

from __future__ import annotations

import argparse
import tempfile


def tiny_model_and_tokenizer(corpus):
    """A byte-level BPE tokenizer trained on the corpus and a random-weight Qwen2 for it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=600, special_tokens=["<|endoftext|>", "<|pad|>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                        show_progress=False))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|pad|>")
    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, eos_token_id=tokenizer.eos_token_id,
                      pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.eos_token_id)
    return Qwen2ForCausalLM(cfg), tokenizer


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="a local Hugging Face causal LM directory (default: a tiny random Qwen2)")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--samples", type=int, default=32, help="synthetic scenes in the dataset")
    parser.add_argument("--mode", choices=["routed_rpc", "routed", "broadcast"], default="routed_rpc")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = parser.parse_args(argv)

    import datasets
    from trl import GRPOConfig

    from verireward import data
    from verireward.integrations.trl import GRCAGRPOTrainer, GroundingRewards
    from verireward.trainers import grounding_records

    records = grounding_records(data.grounding_samples(args.samples, seed=0))
    if args.model:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model, tokenizer = AutoModelForCausalLM.from_pretrained(args.model), AutoTokenizer.from_pretrained(args.model)
    else:
        model, tokenizer = tiny_model_and_tokenizer([r["target"] for r in records] + [r["prompt"] for r in records])
    dataset = datasets.Dataset.from_list([{k: r[k] for k in ("prompt", "bbox2d", "bbox3d", "K", "R", "t")} for r in records])
    with tempfile.TemporaryDirectory() as out:
        config = GRPOConfig(output_dir=out, per_device_train_batch_size=4, num_generations=4, max_completion_length=64,
                            max_steps=args.steps, learning_rate=1e-5, report_to=[], logging_steps=1, save_strategy="no",
                            use_cpu=args.device == "cpu", bf16=False, beta=0.0)
        trainer = GRCAGRPOTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                                  grounding=GroundingRewards(), mode=args.mode)
        trainer.train()
    for row in trainer.state.log_history:
        shown = {k: round(v, 4) for k, v in row.items() if k.startswith("rewards/") and k.endswith("/mean") or k == "loss"}
        if shown:
            print(shown)
    if trainer.last_routed is not None:
        _, _, adv = trainer.last_routed
        print(f"last batch: routed advantages {tuple(adv.shape)} (per token) reached TRL's loss")


if __name__ == "__main__":
    main()
