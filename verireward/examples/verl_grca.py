"""GRCA and AP-GRPO inside verl: the exact call path a verl run takes, on synthetic completions.

    python -m verireward.examples.verl_grca

A full verl PPO run needs Ray workers, a rollout engine and GPUs. This example runs the part that
verireward changes, with verl's own objects: ``compute_score`` scores completions like verl's
reward manager would, the per-field output goes into a ``DataProto`` the way verl stores it, and
verl's ``compute_advantage`` (wrapped by verireward's plugin) produces routed advantages with the
``grca`` estimator. In a real run you set::

    algorithm.adv_estimator=grca
    custom_reward_function.path=<site-packages>/verireward/integrations/verl.py
    custom_reward_function.name=compute_score

and call ``verireward.integrations.verl.configure(tokenizer)`` in your driver. Needs
``pip install verl`` (tested with verl 0.9.1).
"""

from __future__ import annotations

import numpy as np

from verireward import _tiny, data
from verireward.integrations import verl as vr_verl


def synthetic_batch(tokenizer, samples, group: int = 4, seed: int = 0):
    """What verl holds after scoring: for each sample a group of completions (the right answer and
    noisy copies) scored by ``compute_score``, as the tensors and non-tensor arrays of a DataProto.
    Returns ``(texts, scores, tensors, non_tensors)``."""
    import torch

    rng = np.random.default_rng(seed)
    texts, scores = [], []
    for s in samples:
        gt = {"bbox2d": s.bbox2d.tolist(), "bbox3d": s.bbox3d.tolist(), "K": s.K.tolist(), "R": s.R.tolist(), "t": s.t.tolist()}
        for k in range(group):
            text = s.target if k == 0 else "".join(str(rng.integers(10)) if c.isdigit() and rng.random() < 0.3 else c
                                                   for c in s.target)
            texts.append(text)
            scores.append(vr_verl.compute_score("synthetic", text, gt))  # what verl's reward manager calls
    ids = [tokenizer(t)["input_ids"] for t in texts]
    L = max(map(len, ids))
    responses = torch.full((len(ids), L), tokenizer.pad_token_id)
    mask = torch.zeros(len(ids), L)
    for i, r in enumerate(ids):
        responses[i, : len(r)], mask[i, : len(r)] = torch.tensor(r), 1
    token_level_rewards = torch.zeros(len(ids), L)
    token_level_rewards[torch.arange(len(ids)), mask.sum(1).long() - 1] = torch.tensor([x["score"] for x in scores])
    tensors = {"responses": responses, "response_mask": mask, "token_level_rewards": token_level_rewards}
    non_tensors = {"uid": np.array([f"prompt{i // group}" for i in range(len(ids))], dtype=object),
                   **{k: np.array([x[k] for x in scores]) for k in scores[0] if k != "score"}}  # verl keeps every key
    return texts, scores, tensors, non_tensors


def main() -> None:
    from verl import DataProto
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo.ray_trainer import compute_advantage

    samples = data.grounding_samples(2, seed=0)
    tokenizer = _tiny.byte_bpe([s.target for s in samples] * 3, 400, transformers=True)
    vr_verl.configure(tokenizer, schema=data.grounding_schema())
    _, scores, tensors, non_tensors = synthetic_batch(tokenizer, samples)
    out = compute_advantage(DataProto.from_dict(tensors=tensors, non_tensors=non_tensors), "grca", config=AlgoConfig())
    adv, mask = out.batch["advantages"], tensors["response_mask"]
    for i, x in enumerate(scores):
        distinct = sorted({round(v, 3) for v in adv[i][mask[i].bool()].tolist()})
        print(f"completion {i}: field rewards {[round(v, 3) for v in x['vr_field_rewards']]}, rpc {x['vr_rpc']:.3f}, "
              f"token advantages take values {distinct}")


if __name__ == "__main__":
    main()
