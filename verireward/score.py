"""``verireward score PRED.jsonl --gt GT.jsonl``: the GRCA paper's Table 3 columns for a file of
completions.

PRED.jsonl, one object per line: ``{"id": ..., "text": "<completion>"}`` (``completion`` or
``response`` are read as ``text``). GT.jsonl: ``{"id": ..., "bbox2d": [4], "bbox3d": [6]}`` plus,
for RPC and rendering, ``"K"`` (3×3), ``"R"`` (3×3), ``"t"`` (3) and ``"image_size"`` ([W, H]).
Lines are matched by ``id`` when every line has one, else by position. Coordinates are in the
frame the schema converts to (the default schema: [0, 1] on every axis). ``image_size`` declares
that a line's 2D coordinates are normalized and gives the pixel size for RPC and the pictures.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

import numpy as np

from verireward._progress import Progress
from verireward.metrics import grounding_metrics
from verireward.parse import Field, ParsedBatch, Schema
from verireward.verifier import GroundingVerifier, VerifierOutput

TABLE = ["IoU2D", "IoU3D", "KPA-2D", "KPA-3D", "RPC", "Acc@0.25", "Acc@0.5", "parse_failure_rate"]


def _read_jsonl(path: str, what: str) -> List[Dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for k, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{what} {path}:{k}: not JSON ({e.msg})") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{what} {path}:{k}: each line must be a JSON object")
            rows.append(obj)
    return rows


def load_schema(path: Optional[str]) -> Schema:
    """A schema from a JSON list of Field arguments (``[{"name": ..., "kind": ...}, ...]``), or the default."""
    if path is None:
        return Schema.default()
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    fields = []
    for d in spec:
        d = dict(d)
        for key in ("aliases", "ranges", "image_size", "resized_size"):
            if d.get(key) is not None:
                d[key] = tuple(tuple(x) if isinstance(x, list) else x for x in d[key])
        fields.append(Field(**d))
    return Schema(tuple(fields))


def score(pred_path: str, gt_path: str, schema: Optional[Schema] = None, render_dir: Optional[str] = None,
          worst: int = 8, progress: bool = True, chunk: int = 1024) -> Dict[str, Any]:
    import torch

    schema = schema or Schema.default()
    preds, gts = _read_jsonl(pred_path, "PRED"), _read_jsonl(gt_path, "GT")
    if all("id" in p for p in preds) and all("id" in g for g in gts):
        by_id = {g["id"]: g for g in gts}
        missing = [p["id"] for p in preds if p["id"] not in by_id]
        if missing:
            raise ValueError(f"GT has no line for id {missing[0]!r} ({len(missing)} missing)")
        gts = [by_id[p["id"]] for p in preds]
    elif len(preds) != len(gts):
        raise ValueError(f"PRED has {len(preds)} lines and GT {len(gts)}, and not every line has an 'id'")
    texts = [str(p.get("text", p.get("completion", p.get("response", "")))) for p in preds]
    n = len(texts)
    have_cam = n > 0 and all(all(k in g for k in ("K", "R", "t")) for g in gts)
    have_size = n > 0 and all("image_size" in g for g in gts)
    f64 = lambda key, shape: torch.tensor([g.get(key, [float("nan")] * int(np.prod(shape))) for g in gts],
                                          dtype=torch.float64).reshape(n, *shape)
    gt2d, gt3d = f64("bbox2d", (4,)), f64("bbox3d", (6,))
    cam = (f64("K", (3, 3)), f64("R", (3, 3)), f64("t", (3,))) if have_cam else None
    size = f64("image_size", (2,)) if have_size else None
    verifier = GroundingVerifier(schema)
    outs = []
    bar = Progress(max(1, (n + chunk - 1) // chunk), progress)
    for b in range(0, max(n, 1), chunk):
        e = min(n, b + chunk)
        outs.append(verifier(texts[b:e], {"bbox2d": gt2d[b:e], "bbox3d": gt3d[b:e]},
                             camera=tuple(x[b:e] for x in cam) if cam else None,
                             image_size=size[b:e] if size is not None else None))
        bar.step(f"scored {e:,} of {n:,}")
    merged = _concat(outs)
    metrics = grounding_metrics(merged)
    result: Dict[str, Any] = {"n": n, "metrics": metrics}
    if render_dir:
        result["rendered"] = _render_worst(render_dir, gts, schema, merged, worst, have_cam, have_size)
    return result


def _concat(outs: List[VerifierOutput]) -> VerifierOutput:
    """One VerifierOutput for the rows of several, in order (parsed batch included)."""
    import torch

    if len(outs) == 1:
        return outs[0]
    first, cat = outs[0], torch.cat
    batches = [o.parsed for o in outs]
    values = {k: cat([p.values[k] for p in batches]) if isinstance(v, torch.Tensor) else [x for p in batches for x in p.values[k]]
              for k, v in first.parsed.values.items()}
    parsed = ParsedBatch(first.parsed.fields, values, {k: cat([p.counts[k] for p in batches]) for k in first.parsed.counts},
                         cat([p.valid for p in batches]), cat([p.char_spans for p in batches]))
    return VerifierOutput(first.reward_fields, first.reward_kinds, cat([o.rewards for o in outs]),
                          cat([o.rpc for o in outs]) if first.rpc is not None else None, first.fields,
                          cat([o.valid for o in outs]), cat([o.char_spans for o in outs]), parsed)


def _render_worst(out_dir, gts, schema, out, worst, have_cam, have_size) -> List[str]:
    from verireward import _render

    os.makedirs(out_dir, exist_ok=True)
    r = out.rewards.numpy()
    badness = r.mean(1) + (out.rpc.numpy() if out.rpc is not None else 0)
    order = np.argsort(badness, kind="stable")[:worst]
    values = out.parsed.values
    b2 = next((f.name for f in schema.fields if f.kind == "box2d"), None)
    b3 = next((f.name for f in schema.fields if f.kind == "box3d"), None)
    paths = []
    for k, i in enumerate(order):
        g = gts[i]
        size = g.get("image_size", [512, 512]) if have_size else [512, 512]
        scale = np.array(size * 2, dtype=np.float64) if have_size else np.ones(4)
        pred2d = values[b2][i].numpy() * scale if b2 else None
        gt2d = np.array(g["bbox2d"], dtype=np.float64) * scale if "bbox2d" in g else None
        cam = (g["K"], g["R"], g["t"]) if have_cam else None
        name = f"worst{k:02d}_line{i + 1}_iou2d{r[i, 0]:.2f}.png"
        path = os.path.join(out_dir, name)
        _render.render_sample(path, size, gt2d=gt2d, pred2d=pred2d, gt3d=g.get("bbox3d"),
                              pred3d=values[b3][i].numpy() if b3 else None, camera=cam)
        paths.append(path)
    return paths


def print_table(result: Dict[str, Any], out) -> None:
    m = result["metrics"]
    cols = [c for c in TABLE if c in m]
    print(f"verireward score: {result['n']:,} samples", file=out)
    print("  ".join(f"{c:>18}" for c in cols), file=out)
    print("  ".join(f"{m[c]:>18.4f}" for c in cols), file=out)
    for path in result.get("rendered", []):
        print(f"rendered {path}", file=out)
