"""verireward in EasyR1 (hiyouga/EasyR1, the verl fork most VLM-RL repos start from; read at commit
b44b311): a reward function for answers with many objects (boxes + labels), and GRCA's per-object
advantages behind a three-line patch.

EasyR1 loads ``worker.reward.reward_function`` (``path.py:name``) with
``importlib.util.spec_from_file_location``, binds ``reward_function_kwargs`` with ``functools.partial``
and reads the module's ``REWARD_TYPE`` (here ``"batch"``): it calls ``compute_score`` with a list of
``{"response": str, "response_length": int, "ground_truth": str}`` and wants ``{"overall": float,
...}`` per input (the other float keys are logged). A single dict (the ``sequential`` type) is
taken too. Configure it in EasyR1's YAML::

    worker:
      reward:
        reward_function: /path/to/verireward/integrations/easyr1.py:compute_score
        reward_function_kwargs: {schema: qwen3vl_2d, reward: soft_f1, threshold: 0.5}

The ground truth column holds, per row, ``{"boxes": [[x1, y1, x2, y2], ...], "labels": [...],
"image_size": [W, H], "resized_size": [W, H]}`` as JSON (labels and sizes optional). Frames:
a Qwen2.5-VL (pixels) schema needs what the model saw, ``resized_size``; EasyR1 resizes images
itself (``data.max_pixels``/``min_pixels``, upscaling small ones) before the processor, so write
``resized_size`` at data preparation from the processor's ``image_grid_thw``
(:func:`verireward.qwen_resized_size` with ``image_grid_thw=``); with ``image_size`` alone it is
derived under Qwen's defaults with a warning. A 0–1000 schema (Qwen3-VL) given ``image_size``
compares in original pixels.

GRCA's per-token credit: EasyR1's advantage estimators are a closed enum and see only the token
rewards, the mask and the uids. ``easyr1_grca_set.patch`` (beside this file; applies to EasyR1
b44b311 with ``patch -p1``) adds ``GRCA_SET = "grca_set"`` to the enum and one branch to
``ray_trainer.compute_advantage`` that calls :func:`grca_set_advantage` with the trainer's
tokenizer and the reward function's kwargs (the same schema, reward and threshold). Select it with
``algorithm.adv_estimator=grca_set``. Without the patch the reward drives EasyR1's own GRPO.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

from verireward.integrations._sets import SET_REWARDS, prepare, score_sets, uid_groups
from verireward.grca.objects import grca_set_advantages

REWARD_NAME = "verireward_set"
REWARD_TYPE = "batch"


def compute_score(reward_inputs: Union[Dict[str, Any], List[Dict[str, Any]]], schema: Any = None, reward: str = "soft_f1",
                  threshold: float = 0.5, answer_tag: Optional[str] = None, processor: Any = None,
                  max_objects: int = 64, per_object: bool = True) -> Union[Dict[str, float], List[Dict[str, float]]]:
    """``{"overall": the chosen set reward, "soft_f1", "precision", "recall", "f1"}`` per input (a
    list for a list, a dict for a dict). ``schema``: a Schema, ``"qwen3vl_2d"`` (default),
    ``"qwen25vl_2d"`` or a list of Field arguments; ``reward``: the set reward EasyR1 optimizes.
    ``per_object`` is read by :func:`grca_set_advantage` only (both get the same kwargs)."""
    op = "easyr1.compute_score"
    single = isinstance(reward_inputs, dict)
    inputs = [reward_inputs] if single else reward_inputs
    if not isinstance(inputs, (list, tuple)) or not all(isinstance(x, dict) and "response" in x for x in inputs):
        raise ValueError(f"{op}: argument 'reward_inputs' must be a dict with 'response' and 'ground_truth', or a list of them")
    rows = score_sets(op, [str(x["response"]) for x in inputs], [x.get("ground_truth") for x in inputs], schema=schema,
                      reward=reward, threshold=threshold, answer_tag=answer_tag, processor=processor,
                      max_objects=max_objects)
    out = [{"overall": r["reward"], **{k: r[k] for k in SET_REWARDS}} for r in rows]
    return out[0] if single else out


def grca_set_advantage(data: Any, tokenizer: Any, schema: Any = None, reward: str = "soft_f1", threshold: float = 0.5,
                       answer_tag: Optional[str] = None, processor: Any = None, max_objects: int = 64,
                       per_object: bool = True, skip_special_tokens: bool = True):
    """``(advantages, returns)`` ``[bs, L]`` for EasyR1's ``compute_advantage`` (the patch above):
    :func:`verireward.grca_set_advantages` (the set reward standardized per group, GRCA Eq. 9,
    routed to tokens, GRCA Eq. 10) on the batch's ``responses`` and ``response_mask`` ``[bs, L]``, the
    responses decoded as EasyR1's reward manager decodes them (the first ``response_mask.sum()``
    ids, ``skip_special_tokens``), the ``ground_truth`` column read as :func:`compute_score` reads
    it, groups from ``uid`` (need not be contiguous) and EasyR1's GRPO conventions (unbiased std,
    ``+ 1e-6``)."""
    import numpy as np
    import torch

    op = "easyr1.grca_set_advantage"
    batch, extra = getattr(data, "batch", None), getattr(data, "non_tensor_batch", None)
    if batch is None or extra is None or any(k not in batch for k in ("responses", "response_mask")) \
            or any(k not in extra for k in ("uid", "ground_truth")):
        raise ValueError(f"{op}: argument 'data' must be EasyR1's DataProto with batch 'responses', 'response_mask' "
                         f"and non_tensor_batch 'uid', 'ground_truth'")
    if tokenizer is None:
        raise ValueError(f"{op}: argument 'tokenizer' is None (the patch passes the trainer's self.tokenizer)")
    ids, mask = batch["responses"], batch["response_mask"]
    lengths = mask.sum(-1).long().tolist()
    texts = [tokenizer.decode(ids[i][:lengths[i]], skip_special_tokens=skip_special_tokens) for i in range(len(lengths))]
    sch, boxes, labels, frames = prepare(op, list(extra["ground_truth"]), schema, processor)
    order, ptr, inv = uid_groups(extra["uid"])
    o = order.tolist()
    adv = grca_set_advantages([texts[i] for i in o], ids.cpu()[order], mask.bool().cpu()[order], [boxes[i] for i in o],
                              ptr, tokenizer=tokenizer, schema=sch,
                              gt_labels=None if labels is None else [labels[i] for i in o], reward=reward,
                              per_object=per_object, threshold=threshold, max_objects=max_objects,
                              answer_tag=answer_tag, compat="verl", skip_special_tokens=skip_special_tokens,
                              **{k: np.asarray(v)[o] for k, v in frames.items()}).advantages
    adv = adv[inv].to(mask.dtype if mask.dtype.is_floating_point else torch.float32).to(mask.device) * mask
    return adv, adv


__all__ = ["compute_score", "grca_set_advantage", "REWARD_NAME", "REWARD_TYPE"]
