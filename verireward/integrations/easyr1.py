"""verireward in EasyR1 (hiyouga/EasyR1, the verl fork most VLM-RL repos start from): a reward
function for answers with many objects (boxes + labels).

EasyR1 calls ``compute_score(reward_inputs, **reward_function_kwargs)``: with
``worker.reward.reward_type=batch`` a list of dicts, with ``sequential`` one dict, each
``{"response": str, "response_length": int, "ground_truth": str}``; it wants ``{"overall": float,
...}`` per input (other float keys are logged). Configure it in EasyR1's YAML::

    worker:
      reward:
        reward_type: batch
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

EasyR1's advantage estimators are a closed enum (``algorithm.adv_estimator``), so GRCA's per-token
advantages need a patch there: the smallest is to add an estimator that calls
:func:`verireward.grca_set_advantages` with the batch's response ids and mask (see the README,
"Train Qwen2.5-VL / Qwen3-VL", EasyR1). Without it the reward above drives EasyR1's own GRPO.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

from verireward.integrations._sets import score_sets


def compute_score(reward_inputs: Union[Dict[str, Any], List[Dict[str, Any]]], schema: Any = None, reward: str = "soft_f1",
                  threshold: float = 0.5, answer_tag: Optional[str] = None, processor: Any = None,
                  max_objects: int = 64) -> Union[Dict[str, float], List[Dict[str, float]]]:
    """``{"overall": the chosen set reward, "soft_f1", "precision", "recall", "f1"}`` per input (a
    list for a list, a dict for a dict). ``schema``: a Schema, ``"qwen3vl_2d"`` (default),
    ``"qwen25vl_2d"`` or a list of Field arguments; ``reward``: the set reward EasyR1 optimizes."""
    op = "easyr1.compute_score"
    single = isinstance(reward_inputs, dict)
    inputs = [reward_inputs] if single else reward_inputs
    if not isinstance(inputs, (list, tuple)) or not all(isinstance(x, dict) and "response" in x for x in inputs):
        raise ValueError(f"{op}: argument 'reward_inputs' must be a dict with 'response' and 'ground_truth', or a list of them")
    rows = score_sets(op, [str(x["response"]) for x in inputs], [x.get("ground_truth") for x in inputs], schema=schema,
                      reward=reward, threshold=threshold, answer_tag=answer_tag, processor=processor,
                      max_objects=max_objects)
    out = [{"overall": r["reward"], **{k: r[k] for k in ("soft_f1", "precision", "recall", "f1")}} for r in rows]
    return out[0] if single else out


__all__ = ["compute_score"]
