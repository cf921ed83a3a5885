"""GroundingVerifier: decoded completions + ground truth (+ cameras) → per-field rewards, RPC,
validity and value spans (GRCA paper §3.3–3.4, §3.7).

Rewards per geometric field of the schema, in schema order:

* box2d: ``IoU(pred, gt["bbox2d"])``; box3d: ``IoU3D(pred, gt["bbox3d"])``;
* points2d: keypoint containment in the ground-truth 2D box (Eq. 8); points3d: in the 3D box.

A field that is missing or malformed gets reward 0 (its parsed values are NaN and its point count
0, which every geometry op scores 0). RPC (Eq. 13) compares the predicted 2D box with the
projection of the predicted 3D box and is 0 when either is invalid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from verireward import geometry
from verireward.parse import KINDS, ParsedBatch, Schema, parse


@dataclass
class VerifierOutput:
    """``rewards [N, G]`` for the schema's G geometric fields (``reward_fields`` names them,
    ``reward_kinds`` gives their kinds);
    ``rpc [N]`` or None; ``valid [N, F]`` and ``char_spans [N, F, 2]`` for all F schema fields
    (``fields``); ``parsed``: the :class:`ParsedBatch`. Tensors are on the ground truth's device."""

    reward_fields: Tuple[str, ...]
    reward_kinds: Tuple[str, ...]
    rewards: Any
    rpc: Optional[Any]
    fields: Tuple[str, ...]
    valid: Any
    char_spans: Any
    parsed: ParsedBatch


class GroundingVerifier:
    """Verifies a batch of completions against ground truth.

    Args:
        schema: the output schema (default :meth:`Schema.default`). Its frames convert what the model
            writes into the ground truth's frame at parse time.
        near: near-plane depth for RPC's projection.

    Call with ``texts`` (N str), ``gt`` (a dict with ``"bbox2d" [N|1, 4]`` and/or ``"bbox3d" [N|1, 6]``
    torch tensors in the ground truth's frame: every geometric field needs the box of its dimension)
    and, for RPC, ``camera=(K, R, t)`` as in :func:`verireward.rpc`. RPC works in pixels: pass
    ``image_size`` (``(W, H)`` or ``[N|1, 2]``) when the 2D ground truth is normalized to [0, 1] (the
    default schema's frame), so the 2D box is scaled to pixels first; leave it None when the 2D frame
    is pixels already.

    Example:
        >>> v = GroundingVerifier()
        >>> out = v(texts, {"bbox2d": gt2d, "bbox3d": gt3d}, camera=(K, R, t), image_size=(640, 480))
        >>> out.rewards  # [N, 4]: bbox2d IoU, bbox3d IoU, KPA-2D, KPA-3D
    """

    def __init__(self, schema: Optional[Schema] = None, near: float = 1e-4):
        self.schema = schema or Schema.default()
        self.near = near
        self.geometric = [f for f in self.schema.fields if f.kind != "text"]
        if not self.geometric:
            raise ValueError("GroundingVerifier: the schema has no geometric field to reward")

    def __call__(self, texts: Sequence[str], gt: Dict[str, Any], camera: Optional[Tuple[Any, Any, Any]] = None,
                 image_size: Any = None) -> VerifierOutput:
        import torch

        parsed = parse(texts, self.schema)
        if not isinstance(gt, dict):
            raise TypeError(f"GroundingVerifier: argument 'gt' must be a dict of tensors, got {type(gt).__name__}")
        ref = next((v for v in gt.values() if isinstance(v, torch.Tensor)), None)
        if ref is None:
            raise ValueError("GroundingVerifier: argument 'gt' needs 'bbox2d' and/or 'bbox3d' torch tensors")
        dev, dt = ref.device, ref.dtype if ref.dtype.is_floating_point else torch.float32
        columns: List[Any] = []
        for f in self.geometric:
            dim = KINDS[f.kind][1]
            key = "bbox2d" if dim == 2 else "bbox3d"
            if key not in gt:
                raise ValueError(f"GroundingVerifier: field {f.name!r} needs gt[{key!r}]")
            box = gt[key]
            pred = parsed.values[f.name].to(device=dev, dtype=box.dtype)
            if f.kind.startswith("box"):
                columns.append(geometry.iou_2d(pred, box) if dim == 2 else geometry.iou_3d(pred, box))
            else:
                counts = parsed.counts[f.name].to(dev)
                columns.append(geometry.keypoint_containment(pred, counts, box))  # box [N|1, 2D] broadcasts
        rewards = torch.stack([c.to(dt) for c in columns], 1)
        rpc = None
        if camera is not None:
            b2 = next((f for f in self.geometric if f.kind == "box2d"), None)
            b3 = next((f for f in self.geometric if f.kind == "box3d"), None)
            if b2 is None or b3 is None:
                raise ValueError("GroundingVerifier: RPC needs a box2d and a box3d field in the schema")
            K, R, t = camera
            boxes2d = parsed.values[b2.name].to(device=dev, dtype=K.dtype)
            if image_size is not None:
                wh = (torch.as_tensor(image_size, dtype=K.dtype, device=dev)).reshape(-1, 2)
                boxes2d = boxes2d * torch.cat([wh, wh], 1)
            boxes3d = parsed.values[b3.name].to(device=dev, dtype=K.dtype)
            rpc = geometry.rpc(boxes2d, boxes3d, K, R, t, near=self.near).to(dt)
        return VerifierOutput(tuple(f.name for f in self.geometric), tuple(f.kind for f in self.geometric), rewards,
                              rpc, parsed.fields,
                              parsed.valid.to(dev), parsed.char_spans.to(dev), parsed)


__all__ = ["GroundingVerifier", "VerifierOutput"]
