"""PNG pictures of a sample in the image plane, with numpy and zlib only: ground-truth 2D box and
3D wireframe (green), predicted 2D box (blue), predicted 3D box's projected wireframe (red), each
3D edge clipped at the near plane before it is projected."""

from __future__ import annotations

import struct
import zlib
from typing import Optional, Sequence

import numpy as np

GREEN, BLUE, RED, GRAY = (0, 160, 0), (30, 90, 230), (220, 30, 30), (235, 235, 235)
EDGES = [(c, c | b) for c in range(8) for b in (1, 2, 4) if not c & b]


def write_png(path: str, rgb: np.ndarray) -> None:
    """An 8-bit RGB PNG (filter 0 on every row)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].astype(np.uint8).tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def draw_line(img: np.ndarray, p: Sequence[float], q: Sequence[float], color) -> None:
    h, w, _ = img.shape
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(q))):
        return
    steps = int(min(max(abs(q[0] - p[0]), abs(q[1] - p[1])), 4 * (w + h))) + 1
    t = np.linspace(0.0, 1.0, steps + 1)
    x = np.rint(p[0] + t * (q[0] - p[0])).astype(np.int64)
    y = np.rint(p[1] + t * (q[1] - p[1])).astype(np.int64)
    keep = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    img[y[keep], x[keep]] = color


def draw_box(img: np.ndarray, box: Sequence[float], color) -> None:
    x1, y1, x2, y2 = box
    for p, q in (((x1, y1), (x2, y1)), ((x2, y1), (x2, y2)), ((x2, y2), (x1, y2)), ((x1, y2), (x1, y1))):
        draw_line(img, p, q, color)


def draw_wireframe(img: np.ndarray, box3d: Sequence[float], K, R, t, color, near: float = 1e-4) -> None:
    """The 12 edges of an axis-aligned box, each clipped to depth >= near, then projected."""
    b = np.asarray(box3d, dtype=np.float64)
    if not np.all(np.isfinite(b)):
        return
    lo, hi = np.minimum(b[:3], b[3:]), np.maximum(b[:3], b[3:])
    corners = np.array([[(hi if (c >> k) & 1 else lo)[k] for k in range(3)] for c in range(8)])
    h = (corners @ np.asarray(R, dtype=np.float64).T + np.asarray(t, dtype=np.float64)) @ np.asarray(K, dtype=np.float64).T
    for i, j in EDGES:
        p, q = h[i], h[j]
        if p[2] < near and q[2] < near:
            continue
        if p[2] < near:
            p = p + (near - p[2]) / (q[2] - p[2]) * (q - p)
        elif q[2] < near:
            q = q + (near - q[2]) / (p[2] - q[2]) * (p - q)
        draw_line(img, p[:2] / p[2], q[:2] / q[2], color)


def render_sample(path: str, size: Sequence[int], gt2d=None, pred2d=None, gt3d=None, pred3d=None,
                  camera: Optional[Sequence] = None) -> None:
    w, h = int(size[0]), int(size[1])
    img = np.full((h, w, 3), 255, dtype=np.uint8)
    img[:: max(h // 8, 1), :] = GRAY
    img[:, :: max(w // 8, 1)] = GRAY
    if camera is not None:
        if gt3d is not None:
            draw_wireframe(img, gt3d, *camera, GREEN)
        if pred3d is not None:
            draw_wireframe(img, pred3d, *camera, RED)
    if gt2d is not None:
        draw_box(img, gt2d, GREEN)
    if pred2d is not None:
        draw_box(img, pred2d, BLUE)
    write_png(path, img)
