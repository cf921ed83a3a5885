"""GroundingVerifier: decoded completions + ground truth (+ cameras) → per-field rewards, RPC,
validity and value spans (GRCA paper §3.3–3.4, §3.7).

Rewards per geometric field of the schema, in schema order:

* box2d: ``IoU(pred, gt["bbox2d"])``; box3d: ``IoU3D(pred, gt["bbox3d"])``;
* points2d: keypoint containment in the ground-truth 2D box (GRCA Eq. 8); points3d: in the 3D box.

A field that is missing or malformed gets reward 0 (its parsed values are NaN and its point count
0, which every geometry op scores 0). RPC (GRCA Eq. 13) compares the predicted 2D box with the
projection of the predicted 3D box and is 0 when either is invalid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from verireward.ops.box_iou import iou_2d, iou_3d
from verireward.ops.containment import keypoint_containment
from verireward.ops.oriented import iou_2d_rotated, iou_3d_oriented
from verireward.ops.project_box import rpc as rpc_op
from verireward._backend import check_number
from verireward.parsing.schema import KINDS, Schema
from verireward.parsing.fields import ParsedBatch, image_field, check_answer_tag, parse


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

    @property
    def reward_columns(self) -> Tuple[int, ...]:
        """Where each reward field sits among ``fields`` (the columns of ``valid`` and
        ``char_spans`` that ``rewards`` scores): ``fields[reward_columns[j]] == reward_fields[j]``."""
        return tuple(self.fields.index(f) for f in self.reward_fields)


class GroundingVerifier:
    """Verifies a batch of completions against ground truth.

    Args:
        schema: the output schema (default :meth:`Schema.default`). Its frames convert what the model
            writes into the ground truth's frame at parse time.
        near: near-plane depth for RPC's projection.
        answer_tag: read only the final ``<answer_tag>…</answer_tag>`` of each completion
            (see :func:`verireward.parse`).

    Call with ``texts`` (N str), ``gt`` (a dict with ``"bbox2d" [N|1, 4]`` and/or ``"bbox3d" [N|1, 6]``
    in the ground truth's frame, as torch tensors, numpy arrays or lists: every geometric field
    needs the box of its dimension; float32/float64 are kept, other real dtypes become float64)
    and, for RPC, ``camera=(K, R, t)`` as in :func:`verireward.rpc` (each ``[N|1, ...]`` or shared).
    The outputs are torch tensors on the ground truth's device, in its dtype. RPC works in pixels: pass
    ``image_size`` (``(W, H)`` or ``[N|1, 2]``) when the 2D ground truth is normalized to [0, 1] (the
    default schema's frame), so the 2D box is scaled to pixels first; leave it None when the 2D frame
    is pixels already.

    Per-image frames (Qwen's dynamic resolution resizes every image differently): pass
    ``resized_size`` (``(W, H)`` or ``[N, 2]``, what each model saw, e.g. from
    :func:`verireward.qwen_resized_size`) with ``image_size`` the original sizes (``[N, 2]``); the
    schema's pixels-frame fields are then read as pixels of row i's resized image and scaled to its
    original image (as :func:`verireward.parse` does), and RPC takes that 2D box as the pixels it is.

    Example:
        >>> v = GroundingVerifier()
        >>> out = v(texts, {"bbox2d": gt2d, "bbox3d": gt3d}, camera=(K, R, t), image_size=(640, 480))
        >>> out.rewards  # [N, 4]: bbox2d IoU, bbox3d IoU, KPA-2D, KPA-3D
    """

    def __init__(self, schema: Optional[Schema] = None, near: float = 1e-4, *, answer_tag: Optional[str] = None):
        if schema is not None and not isinstance(schema, Schema):
            raise TypeError(f"GroundingVerifier: argument 'schema' must be a verireward.Schema, got {type(schema).__name__}")
        self.schema = schema or Schema.default()
        self.near = check_number("GroundingVerifier", near, "near", lambda v: 0.0 < v < float("inf"), "a finite number > 0")
        self.answer_tag = check_answer_tag("GroundingVerifier", answer_tag)
        self.geometric = [f for f in self.schema.fields if f.kind != "text"]
        if not self.geometric:
            raise ValueError("GroundingVerifier: the schema has no geometric field to reward")

    def _box_field(self, dim: int) -> Any:
        """The schema's first box field of this dimension: it sets the ground truth's layout."""
        return next((f for f in self.geometric if f.kind == ("box2d" if dim == 2 else "box3d")), None)

    def __call__(self, texts: Sequence[str], gt: Dict[str, Any], camera: Optional[Tuple[Any, Any, Any]] = None,
                 image_size: Any = None, *, resized_size: Any = None) -> VerifierOutput:
        frames = dict(image_size=image_size, resized_size=resized_size) if resized_size is not None else {}
        parsed = parse(texts, self.schema, answer_tag=self.answer_tag or None, **frames)
        return self.score_parsed(parsed, gt, camera, image_size, resized_size=resized_size)

    def score_parsed(self, parsed: ParsedBatch, gt: Dict[str, Any], camera: Optional[Tuple[Any, Any, Any]] = None,
                     image_size: Any = None, *, resized_size: Any = None) -> VerifierOutput:
        """The rewards of completions parsed already with this verifier's schema (what ``__call__``
        does after parsing; :func:`verireward.grca_advantages` parses in its own native pass).
        ``resized_size`` says the parse used per-image frames (``image_size`` the original sizes):
        RPC then takes a pixels-frame 2D box as it is (original pixels already)."""
        import torch

        op = "GroundingVerifier"
        n = int(parsed.valid.shape[0])
        if not isinstance(gt, dict):
            raise TypeError(f"{op}: argument 'gt' must be a dict of arrays (torch, numpy or lists), got {type(gt).__name__}")
        needed = sorted({"bbox2d" if KINDS[f.kind][1] == 2 else "bbox3d" for f in self.geometric})
        boxes: Dict[str, Any] = {}
        for key in needed:
            if key not in gt:
                users = [f.name for f in self.geometric if ("bbox2d" if KINDS[f.kind][1] == 2 else "bbox3d") == key]
                raise ValueError(f"{op}: argument 'gt' needs the key {key!r} (for the schema's field(s) {', '.join(users)}); "
                                 "for a task without it use a schema without those fields, e.g. Schema.qwen3vl_2d()")
            layout = self._box_field(2 if key == "bbox2d" else 3)
            width = layout.arity if layout is not None else (4 if key == "bbox2d" else 6)
            boxes[key] = _gt_array(op, f"gt[{key!r}]", gt[key], n, (width,))
        dev = next(iter(boxes.values())).device
        for key, v in boxes.items():
            if v.device != dev:
                raise ValueError(f"{op}: gt[{key!r}] is on {v.device} but gt[{needed[0]!r}] is on {dev}")
        dt = boxes[needed[0]].dtype
        columns: List[Any] = []
        for f in self.geometric:
            dim = KINDS[f.kind][1]
            box = boxes["bbox2d" if dim == 2 else "bbox3d"]
            pred = parsed.values[f.name].to(device=dev, dtype=box.dtype)
            if f.kind.startswith("box"):
                columns.append(_box_iou(f, pred, box))
            else:  # containment in the ground-truth box, in the layout of the schema's box field
                counts = parsed.counts[f.name].to(dev)
                g = self._box_field(dim)
                rot = dict(seq=g.seq, degrees=g.degrees) if g is not None and g.oriented else {}
                columns.append(keypoint_containment(pred, counts, box, **rot))  # box [N|1, width] broadcasts
        rewards = torch.stack([c.to(dt) for c in columns], 1) if n else torch.zeros((0, len(columns)), dtype=dt, device=dev)
        rpc = None
        if camera is not None:
            b2 = next((f for f in self.geometric if f.kind == "box2d"), None)
            b3 = next((f for f in self.geometric if f.kind == "box3d"), None)
            if b2 is None or b3 is None:
                raise ValueError(f"{op}: argument 'camera' needs a box2d and a box3d field in the schema (RPC)")
            if b2.oriented:
                raise ValueError(f"{op}: RPC compares an axis-aligned 2D box with the projection of the 3D box; "
                                 f"field {b2.name!r} is a rotated rectangle")
            if not isinstance(camera, (tuple, list)) or len(camera) != 3:
                raise TypeError(f"{op}: argument 'camera' must be a tuple (K, R, t), got {type(camera).__name__}"
                                + (f" of length {len(camera)}" if isinstance(camera, (tuple, list)) else ""))
            K = _gt_array(op, "camera[0] (K)", camera[0], n, (3, 3), device=dev, dtype=dt, shared_ok=True)
            R = _gt_array(op, "camera[1] (R)", camera[1], n, (3, 3), device=dev, dtype=dt, shared_ok=True)
            t = _gt_array(op, "camera[2] (t)", camera[2], n, (3,), device=dev, dtype=dt, shared_ok=True)
            boxes2d = parsed.values[b2.name].to(device=dev, dtype=dt)
            # with per-image frames the parse already converted a pixels-frame or 0–1000 box to pixels
            if image_size is not None and not (resized_size is not None and (b2.frame == "pixels" or image_field(b2))):
                wh = _gt_array(op, "image_size", image_size, n, (2,), device=dev, dtype=dt, shared_ok=True).reshape(-1, 2)
                if not bool(((wh > 0) & torch.isfinite(wh)).all()):
                    raise ValueError(f"{op}: argument 'image_size' must hold finite (width, height) > 0")
                boxes2d = boxes2d * torch.cat([wh, wh], 1)
            boxes3d = parsed.values[b3.name].to(device=dev, dtype=dt)
            rot = dict(seq=b3.seq, degrees=b3.degrees) if b3.oriented else {}
            rpc = rpc_op(boxes2d, boxes3d, K, R, t, near=self.near, **rot).to(dt)
        return VerifierOutput(tuple(f.name for f in self.geometric), tuple(f.kind for f in self.geometric), rewards,
                              rpc, parsed.fields,
                              parsed.valid.to(dev), parsed.char_spans.to(dev), parsed)


def _box_iou(f: Any, pred: Any, box: Any) -> Any:
    """The IoU reward of a box field: axis-aligned, rotated-rectangle or oriented-3D kernel."""
    if f.oriented:
        if f.dim == 2:
            return iou_2d_rotated(pred, box, degrees=f.degrees)
        return iou_3d_oriented(pred, box, f.seq, degrees=f.degrees)
    return iou_2d(pred, box) if f.dim == 2 else iou_3d(pred, box)


def _gt_array(op: str, name: str, x: Any, n: int, tail: Tuple[int, ...], *, device: Any = None, dtype: Any = None,
              shared_ok: bool = False) -> Any:
    """A ground-truth or camera array (torch, numpy or nested lists) as a float torch tensor of
    shape [n|1, *tail] (or, with shared_ok, [*tail]), else an error naming the public argument.
    float32/float64 are kept; any other real dtype (ints, float16) becomes float64."""
    import numpy as np
    import torch

    if isinstance(x, torch.Tensor):
        if x.is_sparse or getattr(x, "is_nested", False) or x.layout != torch.strided:
            raise TypeError(f"{op}: {name} must be a dense tensor, got layout {x.layout}")
        t = x.detach()
    else:
        try:
            arr = np.asarray(x)
        except ValueError:
            raise ValueError(f"{op}: {name} must be an array of shape [{n}|1, {', '.join(map(str, tail))}]; "
                             "got ragged rows") from None
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) \
                or np.issubdtype(arr.dtype, np.complexfloating):
            raise TypeError(f"{op}: {name} must hold real numbers, got {type(x).__name__} of {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.dtype.is_complex:
        raise TypeError(f"{op}: {name} must hold real numbers, got {t.dtype}")
    if dtype is not None:
        t = t.to(dtype)
    elif t.dtype not in (torch.float32, torch.float64):
        t = t.to(torch.float64)
    if device is not None:
        t = t.to(device)
    shape = tuple(t.shape)
    ok = (len(shape) == len(tail) + 1 and shape[1:] == tail and shape[0] in (1, n)) or (shared_ok and shape == tail)
    if not ok:
        expected = f"[{n}|1, {', '.join(map(str, tail))}]" + (f" or [{', '.join(map(str, tail))}]" if shared_ok else "")
        raise ValueError(f"{op}: {name} must have shape {expected} for {n} completions, got [{', '.join(map(str, shape))}]")
    return t


__all__ = ["GroundingVerifier", "VerifierOutput"]
