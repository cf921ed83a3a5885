"""What the EasyR1 and OpenRLHF adapters share: the ground truth as ``compute_score_set`` takes it
(``{"boxes": [...], "labels": [...], "image_size": [W, H], "resized_size": [W, H]}``, a dict or
its JSON) and one batched set-reward call with per-row frames."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Dict, List, Optional

import numpy as np

from verireward.parsing.schema import Schema
from verireward.ops.match import SET_REWARDS
from verireward.parsing.frames import derive_frames
from verireward.rewards.sets import answer_set_rewards


def parse_truth(op: str, ground_truth: Any, arg: str = "ground_truth") -> Dict[str, Any]:
    """One row's ground truth as a dict with ``boxes`` (ValueError naming the argument ``arg`` else)."""
    if isinstance(ground_truth, str):
        try:
            ground_truth = json.loads(ground_truth)
        except ValueError:
            raise ValueError(f"{op}: argument '{arg}' holds a str that is not JSON: {ground_truth[:60]!r}") from None
    if not isinstance(ground_truth, dict) or "boxes" not in ground_truth:
        raise ValueError(f"{op}: argument '{arg}' must hold a dict (or its JSON) with 'boxes' (and optional 'labels', "
                         f"'image_size', 'resized_size'), got {type(ground_truth).__name__}")
    return ground_truth


def _plain(x: Any) -> Any:
    """Mappings and sequences (OmegaConf's DictConfig/ListConfig of a YAML config) as dicts and lists."""
    if isinstance(x, Mapping):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, Sequence) and not isinstance(x, (str, bytes)):
        return [_plain(v) for v in x]
    return x


def resolve_schema(op: str, schema: Any) -> Schema:
    """A schema given as a Schema, a preset name (``"qwen3vl_2d"``, ``"qwen25vl_2d"``) or a list of
    Field arguments (what a YAML config holds; OmegaConf's ListConfig too);
    ``Schema.qwen3vl_2d()`` when None."""
    if schema is None:
        return Schema.qwen3vl_2d()
    if isinstance(schema, Schema):
        return schema
    if isinstance(schema, str) and schema in ("qwen3vl_2d", "qwen25vl_2d", "default"):
        return getattr(Schema, schema)()
    if isinstance(schema, Sequence) and not isinstance(schema, (str, bytes)):
        return Schema.from_json(_plain(schema))
    raise ValueError(f"{op}: argument 'schema' must be a Schema, 'qwen3vl_2d', 'qwen25vl_2d' or a list of Field "
                     f"arguments, got {schema!r}")


def uid_groups(index: Any):
    """(order, CSR pointer, inverse order) that put rows of one uid together, in their original
    order (verl's and EasyR1's ``uid``: rows of a group need not be contiguous)."""
    import torch

    index = np.asarray(index)
    order = np.argsort(index, kind="stable")
    sizes = np.unique(index[order], return_counts=True)[1]
    ptr = torch.from_numpy(np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))
    return torch.from_numpy(order), ptr, torch.from_numpy(np.argsort(order, kind="stable"))


def prepare(op: str, truths: Sequence[Any], schema: Any, processor: Any = None, arg: str = "ground_truth"):
    """``(schema, boxes, labels or None, frames)`` of a batch of ground truths: each row's frame from
    its ``image_size`` / ``resized_size`` (a pixels schema with ``image_size`` alone derives the
    resized size under ``processor``, or Qwen's defaults with a warning; see
    :func:`verireward.parsing.frames.derive_frames`)."""

    sch = resolve_schema(op, schema)
    gts = [parse_truth(op, g, arg) for g in truths]
    n = len(gts)
    columns: Dict[str, Any] = {}
    for key in ("image_size", "resized_size"):
        have = [g.get(key) is not None for g in gts]
        if any(have) and not all(have):
            raise ValueError(f"{op}: '{key}' is in some rows' ground truth and not in others")
        if all(have) and n:
            columns[key] = [g[key] for g in gts]
    pixels = any(f.frame == "pixels" for f in sch.fields)
    frames, _ = derive_frames(op, columns, n, pixels=pixels, processor=processor, truth_in_pixels=False)
    labels = [g.get("labels") for g in gts]
    has_labels = [lab is not None for lab in labels]
    if any(has_labels) and not all(has_labels):
        raise ValueError(f"{op}: 'labels' is in some rows' ground truth and not in others")
    return sch, [g["boxes"] for g in gts], labels if all(has_labels) and n else None, frames


def score_sets(op: str, texts: Sequence[str], truths: Sequence[Any], *, schema: Any = None, reward: str = "soft_f1",
               threshold: float = 0.5, answer_tag: Optional[str] = None, processor: Any = None,
               max_objects: int = 64, arg: str = "ground_truth") -> List[Dict[str, float]]:
    """Per row ``{"reward": the chosen set reward, "soft_f1", "precision", "recall", "f1"}`` in one
    :func:`verireward.answer_set_rewards` call, frames as :func:`prepare` derives them."""
    if reward not in SET_REWARDS:
        raise ValueError(f"{op}: argument 'reward' must be one of {', '.join(SET_REWARDS)}, got {reward!r}")
    sch, boxes, labels, frames = prepare(op, truths, schema, processor, arg)
    out = answer_set_rewards(list(texts), boxes, labels, sch, threshold=threshold, answer_tag=answer_tag,
                             max_objects=max_objects, **frames)
    rows = []
    for i in range(len(boxes)):
        r = {k: float(getattr(out, k)[i]) for k in SET_REWARDS}
        r["reward"] = r[reward]
        rows.append(r)
    return rows


__all__: List[str] = []
