"""The end-to-end GRCA benchmark case: decoded completions + token ids → per-token advantages.

Data (seeded, built at bench time, nothing downloaded): for each prompt, an axis-aligned object in
a world with z up, seen by a pinhole camera (512×512 image, 60° field of view, elevation 15–35°,
any azimuth, framing distance). The ground truth is the object's AABB (metric, within ±2 m), its
projection (normalized to [0, 1]) and the camera. Each of the G completions of a prompt writes
the GRCA paper's schema — answer, description, bbox2d, bbox3d, kpts2d (8), kpts3d (8) in bins
0..1000 — with noise of a per-completion scale, and some are broken the ways model outputs are:
inside a ```json fence, truncated, a field missing, a bin out of range, a box of the wrong arity.
A byte-level BPE tokenizer is trained on such completions at bench time (``tokenizers``); the token
ids are its encoding of each completion, right-padded, with a response mask.

``verireward_pipeline`` is what a trainer calls; ``python_pipeline`` (in
:mod:`verireward._bench.pipeline_baseline`) is the per-sample Python that reward functions are
written as today. Both return ``[N, L]`` routed advantages (GRCA Eq. 10, GRCA Eq. 14 with RPC, λ = 0.15).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, List, Tuple

import numpy as np
import torch

import verireward as vr
from verireward import _tiny
from verireward.data import intrinsics, look_at

IMAGE = 512
FOV_DEG = 60.0
METRIC = (-2.0, 2.0)  # the 3D fields' range per axis
OBJECTS = ["chair", "table", "mug", "lamp", "box", "sofa", "bed", "shelf", "monitor", "plant"]
WORDS = ["red", "blue", "green", "small", "large", "wooden", "metal", "old", "new", "on", "under", "near",
         "left", "right", "of", "the", "a", "with", "beside", "behind", "in", "front", "corner", "room"]


def schema() -> vr.Schema:
    """The paper's schema with metric 3D fields (bins over ±2 m), a normalized 2D frame and room for
    16 keypoints (the completions write 8)."""
    metric = (METRIC,) * 3
    return vr.Schema((
        vr.Field("answer", "text"),
        vr.Field("description", "text"),
        vr.Field("bbox2d", "box2d"),
        vr.Field("bbox3d", "box3d", ranges=metric),
        vr.Field("kpts2d", "points2d", max_points=16),
        vr.Field("kpts3d", "points3d", ranges=metric, max_points=16),
    ))


def _scene(rng: random.Random):
    size = np.array([rng.uniform(0.2, 1.0) for _ in range(3)])
    centre = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), size[2] / 2 + rng.uniform(0, 0.4)])
    lo, hi = centre - size / 2, centre + size / 2
    el, az = math.radians(rng.uniform(15, 35)), math.radians(rng.uniform(0, 360))
    radius = float(np.linalg.norm(size)) / 2
    dist = 1.4 * radius / math.sin(math.radians(FOV_DEG) / 2) + 0.5
    eye = centre + dist * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
    R, t = look_at(eye, centre)
    K = intrinsics(IMAGE, FOV_DEG)
    corners = np.array([[hi[k] if (c >> k) & 1 else lo[k] for k in range(3)] for c in range(8)])
    return np.concatenate([lo, hi]), corners, K, R, t


def _bins(v: float, lo: float, hi: float) -> int:
    return int(min(1000, max(0, round((v - lo) / (hi - lo) * 1000))))


def _completion(rng: random.Random, box2d: np.ndarray, box3d: np.ndarray, k2d: np.ndarray, k3d: np.ndarray) -> str:
    noise = rng.choice([0.005, 0.02, 0.05, 0.1])
    n2 = lambda v: _bins(v + rng.gauss(0, noise), 0.0, 1.0)
    n3 = lambda v: _bins(v + rng.gauss(0, 4 * noise), *METRIC)
    b2 = [n2(v) for v in box2d]
    b3 = [n3(v) for v in box3d]
    p2 = [[n2(v) for v in p] for p in k2d]
    p3 = [[n3(v) for v in p] for p in k3d]
    fault = rng.random()
    if 0.90 <= fault < 0.93:
        b2.pop()  # wrong arity
    elif 0.93 <= fault < 0.96:
        rng.choice([b2, b3])[rng.randrange(4)] = 1234  # a bin out of range
    fields = {
        "answer": f'"{rng.choice(OBJECTS)}"',
        "description": '"' + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))) + '"',
        "bbox2d": "[" + ", ".join(map(str, b2)) + "]",
        "bbox3d": "[" + ", ".join(map(str, b3)) + "]",
        "kpts2d": "[" + ", ".join(f"[{x}, {y}]" for x, y in p2) + "]",
        "kpts3d": "[" + ", ".join(f"[{x}, {y}, {z}]" for x, y, z in p3) + "]",
    }
    if 0.96 <= fault < 0.98:
        del fields[rng.choice(["bbox2d", "bbox3d", "kpts2d", "kpts3d"])]  # a missing field
    text = "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"
    if 0.98 <= fault:
        text = text[: rng.randint(10, len(text) - 2)]  # truncated
    if rng.random() < 0.05:
        text = "Here is the answer.\n```json\n" + text + "\n```"
    return text


@dataclass
class PipelineBatch:
    texts: List[str]
    token_ids: torch.Tensor      # [N, L] int64, right-padded
    mask: torch.Tensor           # [N, L] bool
    gt: dict                     # bbox2d [N, 4] normalized, bbox3d [N, 6] metric (float64)
    camera: Tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    group_size: int
    tokenizer: Any


def train_tokenizer(seed: int, vocab_size: int = 2000) -> Any:
    """A byte-level BPE tokenizer (GPT-2/Qwen family) trained on generated completions."""
    rng = random.Random(seed)
    corpus = []
    for _ in range(300):
        box3d, corners, K, R, t = _scene(rng)
        corpus.append(_completion(rng, np.zeros(4) + 0.5, box3d, np.zeros((8, 2)) + 0.5, corners))
    return _tiny.byte_bpe(corpus, vocab_size, special_tokens=("<|endoftext|>",))


def make_batch(n: int, group_size: int = 8, seed: int = 0, tokenizer: Any = None) -> PipelineBatch:
    """n completions (a multiple of group_size) for n / group_size prompts."""
    if n % group_size:
        raise ValueError(f"n = {n} must be a multiple of group_size = {group_size}")
    rng = random.Random(seed)
    tok = tokenizer if tokenizer is not None else train_tokenizer(seed)
    texts, g2, g3, Ks, Rs, ts = [], [], [], [], [], []
    for _ in range(n // group_size):
        box3d, corners, K, R, t = _scene(rng)
        T = lambda x: torch.from_numpy(np.asarray(x, dtype=np.float64))
        px, valid = vr.project_box_3d(T(box3d)[None], T(K)[None], T(R)[None], T(t)[None])
        box2d = (px[0] / IMAGE).clamp(0, 1).numpy()
        h = (K @ (R @ corners.T + t[:, None])).T
        k2d = np.clip(h[:, :2] / h[:, 2:], 0, IMAGE) / IMAGE
        for _ in range(group_size):
            texts.append(_completion(rng, box2d, box3d, k2d, corners))
            g2.append(box2d), g3.append(box3d), Ks.append(K), Rs.append(R), ts.append(t)
    encs = [e.ids for e in tok.encode_batch(texts)]
    texts = tok.decode_batch(encs)  # what the trainer decodes (identical for byte-level BPE)
    L = max(len(e) for e in encs)
    ids = torch.zeros(n, L, dtype=torch.int64)
    mask = torch.zeros(n, L, dtype=torch.bool)
    for i, e in enumerate(encs):
        ids[i, : len(e)] = torch.tensor(e)
        mask[i, : len(e)] = True
    f64 = lambda xs: torch.from_numpy(np.stack(xs).astype(np.float64))
    return PipelineBatch(texts, ids, mask, {"bbox2d": f64(g2), "bbox3d": f64(g3)}, (f64(Ks), f64(Rs), f64(ts)),
                         group_size, tok)


def verireward_pipeline(b: PipelineBatch, verifier: vr.GroundingVerifier) -> torch.Tensor:
    """texts + ids → [N, L] routed advantages: the one call a trainer makes."""
    return vr.grca_advantages(b.texts, b.token_ids, b.mask, b.gt, b.group_size, tokenizer=b.tokenizer,
                              schema=verifier.schema, camera=b.camera, image_size=(IMAGE, IMAGE), lam=0.15).advantages


def slice_batch(b: PipelineBatch, n: int) -> PipelineBatch:
    """The first n completions (whole groups)."""
    L = int(b.mask[:n].sum(1).max()) if n else 0
    K, R, t = b.camera
    return PipelineBatch(b.texts[:n], b.token_ids[:n, :L], b.mask[:n, :L], {k: v[:n] for k, v in b.gt.items()},
                         (K[:n], R[:n], t[:n]), b.group_size, b.tokenizer)


__all__ = ["make_batch", "train_tokenizer", "verireward_pipeline", "schema", "slice_batch", "PipelineBatch"]
