"""The baseline of the end-to-end GRCA benchmark: a straightforward per-sample Python pipeline, the
way grounding reward functions are written today (regex + ``json``, Python IoU, Python span
mapping, ``statistics`` for the group, a loop over tokens). It computes what verireward computes,
with the same rules where they matter for agreement on the benchmark's data (corners taken as
min/max, a zero union scores 0, closed containment, near-plane clipping, per-group standard
deviation with the same floor), so the benchmark can check that both give the same advantages.

Token offsets come from the ids in one of two ways a per-sample implementation writes them:
``offsets="token"`` sums the lengths of each token decoded alone (O(L); wrong in general — a
character split over byte-level tokens, a SentencePiece first token — but right on the benchmark's
ASCII completions, so it is the fastest honest baseline), ``offsets="prefix"`` takes the length of
the decode of each prefix (O(L²) decoded tokens; exact). On the benchmark's data both equal
verireward's longest-common-prefix rule.
"""

from __future__ import annotations

import json
import re
import statistics
from typing import Any, Dict, List, Optional, Sequence, Tuple

from verireward._bench.baselines import py_project

FIELDS = [("bbox2d", "box", 2), ("bbox3d", "box", 3), ("kpts2d", "points", 2), ("kpts3d", "points", 3)]
_OBJECT = re.compile(r"\{.*\}", re.S)


def _value_span(text: str, start: int, key: str) -> Optional[Tuple[int, int]]:
    """The characters of key's list value (brackets included), found after `start`."""
    k = text.find(f'"{key}"', start)
    if k < 0:
        return None
    i = k + len(key) + 2
    while i < len(text) and text[i] in " \t\n:":
        i += 1
    if i >= len(text) or text[i] != "[":
        return None
    depth = 0
    for j in range(i, len(text)):
        depth += {"[": 1, "]": -1}.get(text[j], 0)
        if depth == 0:
            return i, j + 1
    return None


def _read(text: str, lo: Sequence[float], hi: Sequence[float]) -> Dict[str, Any]:
    """field name -> (values, span) for each valid geometric field."""
    m = _OBJECT.search(text)
    if not m:
        return {}
    try:
        obj = json.loads(m.group(0))
    except ValueError:
        return {}
    if not isinstance(obj, dict):
        return {}
    out = {}
    for name, kind, dim in FIELDS:
        v = obj.get(name)
        if not isinstance(v, list):
            continue
        flat = [x for p in v for x in p] if v and all(isinstance(p, list) for p in v) else v
        if kind == "box" and len(flat) != 2 * dim or kind == "points" and (not flat or len(flat) % dim):
            continue
        if not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 1000 for x in flat):
            continue
        rng_lo, rng_hi = (lo, hi) if dim == 3 else ((0.0, 0.0), (1.0, 1.0))
        vals = [rng_lo[k % dim] + x / 1000 * (rng_hi[k % dim] - rng_lo[k % dim]) for k, x in enumerate(flat)]
        span = _value_span(text, m.start(), name)
        if span is not None:
            out[name] = (vals, span)
    return out


def _iou(a: Sequence[float], b: Sequence[float], dim: int) -> float:
    inter, va, vb = 1.0, 1.0, 1.0
    for k in range(dim):
        a0, a1 = min(a[k], a[k + dim]), max(a[k], a[k + dim])
        b0, b1 = min(b[k], b[k + dim]), max(b[k], b[k + dim])
        inter *= max(0.0, min(a1, b1) - max(a0, b0))
        va *= a1 - a0
        vb *= b1 - b0
    union = va + vb - inter
    return inter / union if union > 0 and va > 0 and vb > 0 else 0.0


def _containment(vals: Sequence[float], box: Sequence[float], dim: int) -> float:
    pts = [vals[i:i + dim] for i in range(0, len(vals), dim)]
    inside = sum(all(min(box[k], box[k + dim]) <= p[k] <= max(box[k], box[k + dim]) for k in range(dim)) for p in pts)
    return inside / len(pts) if pts else 0.0


def _standardize(xs: List[float], eps: float = 1e-6, floor: float = 1e-6) -> List[float]:
    if len(xs) < 2:
        return [0.0] * len(xs)
    mu, sd = statistics.fmean(xs), statistics.stdev(xs)
    if sd <= floor * max(abs(x) for x in xs):
        return [0.0] * len(xs)
    return [(x - mu) / (sd + eps) for x in xs]


def python_pipeline(texts: List[str], ids: List[List[int]], gt2d: List[List[float]], gt3d: List[List[float]],
                    cameras: List[Tuple[Any, Any, Any]], tokenizer: Any, group_size: int, lam: float = 0.15,
                    image: int = 512, metric: Tuple[float, float] = (-2.0, 2.0),
                    offsets: str = "token") -> List[List[float]]:
    """Per-sample Python: [N][L] routed advantages (L = the longest row; padding 0)."""
    lo, hi = (metric[0],) * 3, (metric[1],) * 3
    rewards, rpcs, token_spans = [], [], []
    for text, row, b2, b3, (K, R, t) in zip(texts, ids, gt2d, gt3d, cameras):
        fields = _read(text, lo, hi)
        r = []
        for name, kind, dim in FIELDS:
            if name not in fields:
                r.append(0.0)
                continue
            vals, _ = fields[name]
            box = b2 if dim == 2 else b3
            r.append(_iou(vals, box, dim) if kind == "box" else _containment(vals, box, dim))
        rewards.append(r)
        rpc = 0.0
        if "bbox2d" in fields and "bbox3d" in fields:
            proj, ok = py_project(fields["bbox3d"][0], K, R, t, 1e-4)
            if ok:
                rpc = _iou([v * image for v in fields["bbox2d"][0]], proj, 2)
        rpcs.append(rpc)
        if offsets == "prefix":  # the decode of every prefix
            ends = [len(tokenizer.decode(row[: k + 1])) for k in range(len(row))]
        else:  # each token decoded alone
            ends, end = [], 0
            for tid in row:
                end += len(tokenizer.decode([tid]))
                ends.append(end)
        starts = [0] + ends[:-1]
        spans, prev_end = [], 0
        order = sorted(range(len(FIELDS)), key=lambda f: fields[FIELDS[f][0]][1][0] if FIELDS[f][0] in fields else 0)
        spans = [(0, 0)] * len(FIELDS)
        for f in order:
            name = FIELDS[f][0]
            if name not in fields:
                continue
            cs, ce = fields[name][1]
            toks = [k for k in range(len(row)) if starts[k] < ce and ends[k] > cs and k >= prev_end]
            if toks:
                spans[f] = (toks[0], toks[-1] + 1)
                prev_end = toks[-1] + 1
        token_spans.append(spans)
    n, L = len(texts), max((len(r) for r in ids), default=0)
    adv = [[0.0] * L for _ in range(n)]
    for g in range(0, n, group_size):
        rows = range(g, g + group_size)
        cols = [_standardize([rewards[i][f] for i in rows]) for f in range(len(FIELDS))]
        a_rpc = _standardize([rpcs[i] for i in rows])
        for j, i in enumerate(rows):
            a_f = [cols[f][j] for f in range(len(FIELDS))]
            bg = (1 - lam) * sum(a_f) / len(a_f) + lam * a_rpc[j]
            for k in range(len(ids[i])):
                v = bg
                for f, (s0, s1) in enumerate(token_spans[i]):
                    if s0 <= k < s1:
                        v = a_f[f]
                        break
                adv[i][k] = v
    return adv


__all__ = ["python_pipeline"]
