"""``verireward score PRED.jsonl --gt GT.jsonl``: the GRCA paper's Table 3 columns for a file of
completions.

PRED.jsonl, one object per line: ``{"id": ..., "text": "<completion>"}`` (``completion`` or
``response`` are read as ``text``). GT.jsonl: ``{"id": ..., "bbox2d": [4], "bbox3d": [6]}`` plus,
for RPC and rendering, ``"K"`` (3×3), ``"R"`` (3×3), ``"t"`` (3) and ``"image_size"`` ([W, H]).
Lines are matched by ``id`` when every line has one, else by position. Coordinates are in the
frame the schema converts to (the default schema: [0, 1] on every axis). ``image_size`` declares
that a line's 2D coordinates are normalized and gives the pixel size for RPC and the pictures;
with ``"resized_size"`` too (on every line) the schema's pixels-frame fields are read in the
per-image frame (the model's pixels of the resized image, scaled to the original ``image_size``),
the 2D ground truth is in original pixels, and RPC and the pictures use those pixels as they are.
A line's optional ``"image"`` (a path, relative to GT.jsonl's folder or absolute) is the picture
``--render`` draws on; without one, a blank canvas of ``image_size``.

A ground truth whose every line has ``boxes`` is many-object (detection): the file is scored by
:mod:`verireward.cli.score_detection` (mAP at IoU 0.25 and 0.5 and the set rewards); without a schema,
Qwen2.5-VL's (``Schema.qwen25vl_2d``) when the lines carry ``resized_size``, else Qwen3-VL's
(``Schema.qwen3vl_2d``, 0–1000).
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

import numpy as np

from verireward._progress import Progress
from verireward.metrics import grounding_metrics
from verireward.parsing.fields import ParsedBatch
from verireward.parsing.schema import Schema
from verireward.rewards.grounding import GroundingVerifier, VerifierOutput
from verireward.cli import render, score_detection as det
from verireward.cli.score_detection import print_detection

TABLE = ["IoU2D", "IoU3D", "KPA-2D", "KPA-3D", "RPC", "Acc@0.25", "Acc@0.5", "parse_failure_rate"]


def _read_jsonl(path: str, what: str) -> List[Dict[str, Any]]:
    rows = []
    with open(path, "rb") as f:
        for k, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"{what} {path}:{k}: not UTF-8 (byte {e.start + 1} of the line: {raw[e.start:e.start + 1]!r})") from None
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
    """A schema from a JSON file (a list of Field arguments, :meth:`Schema.to_json`), or the
    default. Errors name ``--schema`` and the file."""
    if path is None:
        return Schema.default()
    try:
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
        return Schema.from_json(spec)
    except json.JSONDecodeError as e:
        raise ValueError(f"--schema {path}: not JSON ({e.msg}, line {e.lineno})") from None
    except (OSError, ValueError, TypeError) as e:
        raise ValueError(f"--schema {path}: {e}") from None


def schema_beside(gt_path: str) -> Optional[str]:
    """The schema file :func:`verireward.data.write_jsonl` writes beside its ground truth
    (``GT.jsonl`` -> ``GT.schema.json``), when it exists."""
    root, _ = os.path.splitext(gt_path)
    path = root + ".schema.json"
    return path if os.path.exists(path) else None


def score(pred_path: str, gt_path: str, schema: Optional[Schema] = None, render_dir: Optional[str] = None,
          worst: int = 8, progress: bool = True, chunk: int = 1024, max_objects: Optional[int] = None) -> Dict[str, Any]:
    """Scores a PRED file against a GT file (formats: the module docstring and
    :mod:`verireward.cli.score_detection`). ``max_objects``: many-object answers only; None (the
    default) reads every object an answer writes, N reads the first N (the rest still count as
    predictions in the set rewards, never as detections). Every error is a ValueError naming the
    file and, for what a line holds, the line."""
    import torch

    if max_objects is not None and (isinstance(max_objects, bool) or not isinstance(max_objects, int) or max_objects < 1):
        raise ValueError(f"--max-objects must be a positive integer, got {max_objects!r}")
    preds, gts = _read_jsonl(pred_path, "PRED"), _read_jsonl(gt_path, "GT")
    det.check_sizes(gts, gt_path)
    if not preds:
        raise ValueError(f"PRED {pred_path} has no lines: nothing to score")
    if len(preds) != len(gts):
        raise ValueError(f"PRED {pred_path} has {len(preds):,} lines but GT {gt_path} has {len(gts):,}; "
                         "every ground-truth line needs exactly one prediction")
    if all("id" in p for p in preds) and all("id" in g for g in gts):
        for what, path, rows in (("PRED", pred_path, preds), ("GT", gt_path, gts)):
            seen: Dict[Any, int] = {}
            for k, r in enumerate(rows, 1):
                key = json.dumps(r["id"], sort_keys=True)
                if key in seen:
                    raise ValueError(f"{what} {path}: id {r['id']!r} on lines {seen[key]} and {k}")
                seen[key] = k
        by_id = {json.dumps(g["id"], sort_keys=True): g for g in gts}
        missing = [p["id"] for p in preds if json.dumps(p["id"], sort_keys=True) not in by_id]
        if missing:
            raise ValueError(f"GT {gt_path} has no line for id {missing[0]!r} ({len(missing)} missing)")
        gts = [by_id[json.dumps(p["id"], sort_keys=True)] for p in preds]
    if det.is_detection(gts):  # many objects per line: mAP and set rewards
        if schema is None:
            schema = Schema.qwen25vl_2d() if any("resized_size" in g for g in gts) else Schema.qwen3vl_2d()
        return det.score_detection(preds, gts, schema, pred_path, gt_path, render_dir, worst, max_objects=max_objects)
    schema = schema or Schema.default()
    texts = [str(p.get("text", p.get("completion", p.get("response", "")))) for p in preds]
    n = len(texts)
    have_cam = n > 0 and all(all(k in g for k in ("K", "R", "t")) for g in gts)
    have_size = n > 0 and all("image_size" in g for g in gts)
    f64 = lambda key, shape: torch.tensor([g.get(key, [float("nan")] * int(np.prod(shape))) for g in gts],
                                          dtype=torch.float64).reshape(n, *shape)
    gt2d, gt3d = f64("bbox2d", (4,)), f64("bbox3d", (6,))
    cam = (f64("K", (3, 3)), f64("R", (3, 3)), f64("t", (3,))) if have_cam else None
    size = f64("image_size", (2,)) if have_size else None
    frames = det.per_image_frames(gts, gt_path) is not None  # per-image frames of a pixels-frame schema
    resized = f64("resized_size", (2,)) if frames else None
    verifier = GroundingVerifier(schema)
    outs = []
    bar = Progress(max(1, (n + chunk - 1) // chunk), progress)
    for b in range(0, max(n, 1), chunk):
        e = min(n, b + chunk)
        outs.append(verifier(texts[b:e], {"bbox2d": gt2d[b:e], "bbox3d": gt3d[b:e]},
                             camera=tuple(x[b:e] for x in cam) if cam else None,
                             image_size=size[b:e] if size is not None else None,
                             resized_size=resized[b:e] if resized is not None else None))
        bar.step(f"scored {e:,} of {n:,}")
    merged = _concat(outs)
    metrics = grounding_metrics(merged)
    result: Dict[str, Any] = {"n": n, "metrics": metrics, "warnings": frame_warnings(schema, merged, gt2d, gt3d)}
    if render_dir:
        result["rendered"] = _render_worst(render_dir, gts, schema, merged, worst, have_cam, have_size, gt_path,
                                           normalized=not frames)
    return result


def frame_warnings(schema: Schema, out: VerifierOutput, gt2d: Any, gt3d: Any) -> List[str]:
    """Signs that the predictions and the ground truth are in different frames (the most common
    mistake in grounding rewards): ground truth outside the range a bins/normalized field can
    express, or predictions whose coordinates are a different order of magnitude than the truth's."""
    warnings = []
    hint = "check --schema (verireward.data.write_jsonl writes the schema of its data beside the ground truth)"
    for f in schema.fields:
        if not f.kind.startswith("box"):
            continue
        key, gt = ("bbox2d", gt2d) if f.dim == 2 else ("bbox3d", gt3d)
        g = gt.numpy().reshape(-1, 2, f.dim)
        g = g[np.isfinite(g).all(axis=(1, 2))]
        if not len(g):
            continue
        if f.frame in ("bins", "normalized"):
            for a, (lo, hi) in enumerate(f.ranges or ((0.0, 1.0),) * f.dim):
                vals = g[:, :, a]
                slack = 1e-6 * (hi - lo)
                outside = (vals < lo - slack) | (vals > hi + slack)
                if outside.any():
                    warnings.append(f"GT {key} has coordinates outside field {f.name!r}'s range [{lo:g}, {hi:g}] on axis "
                                    f"{'xyz'[a]} (e.g. {float(vals[outside][0]):g}, {outside.mean():.0%} of them): what the "
                                    f"model writes in the {f.frame} frame can never reach them; {hint}")
                    break
            continue
        pred = out.parsed.values[f.name].numpy().reshape(-1, 2, f.dim)
        pred = pred[np.isfinite(pred).all(axis=(1, 2))]
        if len(pred):
            p_mag, g_mag = float(np.median(np.abs(pred))), float(np.median(np.abs(g)))
            if p_mag > 0 and g_mag > 0 and not 1 / 20 <= p_mag / g_mag <= 20:
                warnings.append(f"field {f.name!r}: predicted coordinates are about {p_mag:g} but GT {key}'s about {g_mag:g} "
                                f"({p_mag / g_mag:.3g}x): the {f.frame} frame looks wrong; {hint}")
    return warnings


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


def _render_worst(out_dir, gts, schema, out, worst, have_cam, have_size, gt_path, normalized=True) -> List[str]:
    os.makedirs(out_dir, exist_ok=True)
    r = out.rewards.numpy()
    badness = r.mean(1) + (out.rpc.numpy() if out.rpc is not None else 0)
    order = np.argsort(badness, kind="stable")[:worst]
    values = out.parsed.values
    first = lambda kind: next((f.name for f in schema.fields if f.kind == kind), None)
    b2, b3, k2, k3 = first("box2d"), first("box3d"), first("points2d"), first("points3d")
    short = {"box2d": "IOU2D", "box3d": "IOU3D", "points2d": "KPA2D", "points3d": "KPA3D"}
    geo_cols = list(out.reward_columns)
    paths = []
    for k, i in enumerate(order):
        g = gts[i]
        size = g.get("image_size", [512, 512]) if have_size else [512, 512]
        # normalized 2D coordinates are drawn scaled to the image; per-image frames are pixels already
        scale = np.array(list(size) * 2, dtype=np.float64) if have_size and normalized else np.ones(4)
        pred2d = values[b2][i].numpy() * scale if b2 else None
        gt2d = np.array(g["bbox2d"], dtype=np.float64) * scale if "bbox2d" in g else None
        cam = (g["K"], g["R"], g["t"]) if have_cam else None
        kp2 = values[k2][i, : int(out.parsed.counts[k2][i])].numpy() * scale[:2] if k2 else None
        kp3 = values[k3][i, : int(out.parsed.counts[k3][i])].numpy() if k3 else None
        shown = {short[kind]: float(r[i, j]) for j, kind in enumerate(out.reward_kinds)}
        if out.rpc is not None:
            shown["RPC"] = float(out.rpc[i])
        failed = not bool(out.valid[i, geo_cols].any())
        name = f"worst{k:02d}_line{i + 1}_iou2d{r[i, 0]:.2f}.png"
        path = os.path.join(out_dir, name)
        render.render_sample(path, size, gt2d=gt2d, pred2d=pred2d, gt3d=g.get("bbox3d"),
                             pred3d=values[b3][i].numpy() if b3 else None, camera=cam, kpts2d=kp2, kpts3d=kp3,
                             title=f"line {i + 1}" + (f"  id {g['id']}" if "id" in g else ""), values=shown,
                             parse_failed=failed, image=render.image_path(g, gt_path))
        paths.append(path)
    return paths


def print_table(result: Dict[str, Any], out) -> None:
    """The metrics as a table that fits in 100 columns."""
    if result.get("mode") == "detection":
        return print_detection(result, out)
    m = result["metrics"]
    cols = [c for c in TABLE if c in m]
    widths = [max(len(c), 6) for c in cols]
    print(f"verireward score: {result['n']:,} samples", file=out)
    print("  ".join(f"{c:>{w}}" for c, w in zip(cols, widths)), file=out)
    print("  ".join(f"{m[c]:>{w}.4f}" for c, w in zip(cols, widths)), file=out)
    for path in result.get("rendered", []):
        print(f"rendered {path}", file=out)
