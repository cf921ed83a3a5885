"""PNG pictures of a sample in the image plane, with numpy and zlib only: ground-truth 2D box and
3D wireframe (green), predicted 2D box (blue), predicted 3D box's projected wireframe (red), each
3D edge clipped at the near plane before it is projected; predicted 2D keypoints (blue crosses)
and projected 3D keypoints (red crosses). A caption (a built-in 5x7 bitmap font) gives the line,
the sample's rewards and RPC, a legend, and PARSE FAILED when nothing geometric parsed."""

from __future__ import annotations

import struct
import zlib
from typing import Optional, Sequence

import numpy as np

GREEN, BLUE, RED, GRAY, BLACK = (0, 160, 0), (30, 90, 230), (220, 30, 30), (235, 235, 235), (20, 20, 20)

# 5x7 glyphs: seven rows of five bits (the high bit is the left column); text is drawn upper-case
FONT = {
    'A': (0xe, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11),
    'B': (0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e),
    'C': (0xe, 0x11, 0x10, 0x10, 0x10, 0x11, 0xe),
    'D': (0x1e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1e),
    'E': (0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f),
    'F': (0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10),
    'G': (0xe, 0x11, 0x10, 0x17, 0x11, 0x11, 0xf),
    'H': (0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11),
    'I': (0xe, 0x4, 0x4, 0x4, 0x4, 0x4, 0xe),
    'J': (0x7, 0x2, 0x2, 0x2, 0x2, 0x12, 0xc),
    'K': (0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11),
    'L': (0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f),
    'M': (0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11),
    'N': (0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11),
    'O': (0xe, 0x11, 0x11, 0x11, 0x11, 0x11, 0xe),
    'P': (0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10),
    'Q': (0xe, 0x11, 0x11, 0x11, 0x15, 0x12, 0xd),
    'R': (0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11),
    'S': (0xf, 0x10, 0x10, 0xe, 0x1, 0x1, 0x1e),
    'T': (0x1f, 0x4, 0x4, 0x4, 0x4, 0x4, 0x4),
    'U': (0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0xe),
    'V': (0x11, 0x11, 0x11, 0x11, 0x11, 0xa, 0x4),
    'W': (0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0xa),
    'X': (0x11, 0x11, 0xa, 0x4, 0xa, 0x11, 0x11),
    'Y': (0x11, 0x11, 0xa, 0x4, 0x4, 0x4, 0x4),
    'Z': (0x1f, 0x1, 0x2, 0x4, 0x8, 0x10, 0x1f),
    '0': (0xe, 0x11, 0x13, 0x15, 0x19, 0x11, 0xe),
    '1': (0x4, 0xc, 0x4, 0x4, 0x4, 0x4, 0xe),
    '2': (0xe, 0x11, 0x1, 0x2, 0x4, 0x8, 0x1f),
    '3': (0x1f, 0x2, 0x4, 0x2, 0x1, 0x11, 0xe),
    '4': (0x2, 0x6, 0xa, 0x12, 0x1f, 0x2, 0x2),
    '5': (0x1f, 0x10, 0x1e, 0x1, 0x1, 0x11, 0xe),
    '6': (0x6, 0x8, 0x10, 0x1e, 0x11, 0x11, 0xe),
    '7': (0x1f, 0x1, 0x2, 0x4, 0x8, 0x8, 0x8),
    '8': (0xe, 0x11, 0x11, 0xe, 0x11, 0x11, 0xe),
    '9': (0xe, 0x11, 0x11, 0xf, 0x1, 0x2, 0xc),
    '.': (0x0, 0x0, 0x0, 0x0, 0x0, 0xc, 0xc),
    ',': (0x0, 0x0, 0x0, 0x0, 0xc, 0x4, 0x8),
    ':': (0x0, 0xc, 0xc, 0x0, 0xc, 0xc, 0x0),
    '=': (0x0, 0x0, 0x1f, 0x0, 0x1f, 0x0, 0x0),
    '-': (0x0, 0x0, 0x0, 0x1f, 0x0, 0x0, 0x0),
    '+': (0x0, 0x4, 0x4, 0x1f, 0x4, 0x4, 0x0),
    '/': (0x0, 0x1, 0x2, 0x4, 0x8, 0x10, 0x0),
    '(': (0x2, 0x4, 0x8, 0x8, 0x8, 0x4, 0x2),
    ')': (0x8, 0x4, 0x2, 0x2, 0x2, 0x4, 0x8),
    '@': (0xe, 0x11, 0x17, 0x15, 0x17, 0x10, 0xf),
    '%': (0x18, 0x19, 0x2, 0x4, 0x8, 0x13, 0x3),
    '_': (0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x1f),
    '?': (0xe, 0x11, 0x1, 0x2, 0x4, 0x0, 0x4),

}
GLYPH_W, GLYPH_H = 6, 8  # advance and line height, in font pixels
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


def draw_text(img: np.ndarray, x: int, y: int, text: str, color, scale: int = 1) -> int:
    """Text with its top-left corner at (x, y), clipped to the image; returns the x after it.
    Characters the font lacks are drawn as '?'."""
    h, w, _ = img.shape
    for ch in text.upper():
        rows = FONT.get(ch, FONT["?"]) if ch != " " else (0,) * 7
        for r, bits in enumerate(rows):
            for c in range(5):
                if bits >> (4 - c) & 1:
                    y0, x0 = y + r * scale, x + c * scale
                    if 0 <= y0 < h and 0 <= x0 < w:
                        img[y0:min(y0 + scale, h), x0:min(x0 + scale, w)] = color
        x += GLYPH_W * scale
    return x


def draw_cross(img: np.ndarray, p: Sequence[float], color, r: int = 3) -> None:
    if np.all(np.isfinite(p)):
        draw_line(img, (p[0] - r, p[1] - r), (p[0] + r, p[1] + r), color)
        draw_line(img, (p[0] - r, p[1] + r), (p[0] + r, p[1] - r), color)


def project_points(points: np.ndarray, K, R, t, near: float = 1e-4) -> np.ndarray:
    """[M, 2] pixels of world points; NaN for points behind the near plane."""
    h = (np.asarray(points, dtype=np.float64) @ np.asarray(R, dtype=np.float64).T + np.asarray(t, dtype=np.float64)) \
        @ np.asarray(K, dtype=np.float64).T
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = h[:, :2] / h[:, 2:3]
    uv[h[:, 2] < near] = np.nan
    return uv


CAPTION_H = 3 * GLYPH_H + 6  # three caption lines above the picture


def render_sample(path: str, size: Sequence[int], gt2d=None, pred2d=None, gt3d=None, pred3d=None,
                  camera: Optional[Sequence] = None, kpts2d=None, kpts3d=None, title: str = "",
                  values: Optional[dict] = None, parse_failed: bool = False) -> None:
    """One PNG: the image plane (W x H, a grey 8 x 8 grid) under a three-line caption (the title;
    the sample's values, e.g. IoU and RPC; the legend). kpts2d: [M, 2] pixels; kpts3d: [M, 3]
    world points (projected with the camera)."""
    w, h = int(size[0]), int(size[1])
    img = np.full((h + CAPTION_H, max(w, 1), 3), 255, dtype=np.uint8)
    plane = img[CAPTION_H:]
    plane[:: max(h // 8, 1), :] = GRAY
    plane[:, :: max(w // 8, 1)] = GRAY
    if camera is not None:
        if gt3d is not None:
            draw_wireframe(plane, gt3d, *camera, GREEN)
        if pred3d is not None:
            draw_wireframe(plane, pred3d, *camera, RED)
        if kpts3d is not None and len(kpts3d):
            for p in project_points(np.asarray(kpts3d).reshape(-1, 3), *camera):
                draw_cross(plane, p, RED)
    if gt2d is not None:
        draw_box(plane, gt2d, GREEN)
    if pred2d is not None:
        draw_box(plane, pred2d, BLUE)
    if kpts2d is not None:
        for p in np.asarray(kpts2d, dtype=np.float64).reshape(-1, 2):
            draw_cross(plane, p, BLUE)
    draw_text(img, 2, 2, title, BLACK)
    line = "  ".join(f"{k} {v:.2f}" for k, v in (values or {}).items())
    draw_text(img, 2, 2 + GLYPH_H, line, BLACK)
    x = 2
    for label, color in (("GT", GREEN), ("PRED 2D", BLUE), ("PRED 3D", RED)):
        img[2 + 2 * GLYPH_H:2 + 2 * GLYPH_H + 7, x:x + 7] = color
        x = draw_text(img, x + 9, 2 + 2 * GLYPH_H, label, color) + GLYPH_W
    x = draw_text(img, x, 2 + 2 * GLYPH_H, "X = KEYPOINTS", BLACK)
    if parse_failed:
        draw_text(img, x + GLYPH_W, 2 + 2 * GLYPH_H, "PARSE FAILED", RED)
        draw_text(plane, max(2, w // 2 - 36 * 2), max(2, h // 2 - 8), "PARSE FAILED", RED, scale=2)
    write_png(path, img)


def render_objects(path: str, size: Sequence[float], gt_boxes, pred_boxes, gt_labels=None, pred_labels=None,
                   matched=None, title: str = "", values: Optional[dict] = None, max_side: int = 640) -> None:
    """One PNG of a many-object answer: every ground-truth box (green) and every predicted box
    (blue when it matched a ground-truth box, red when it did not: a duplicate or a false
    positive), each with its label, on the image plane scaled to at most ``max_side`` pixels.
    Boxes are (x1, y1, x2, y2) in pixels of the ``size`` (W, H) image; a box with a NaN is skipped."""
    w0, h0 = float(size[0]), float(size[1])
    s = min(1.0, max_side / max(w0, h0, 1.0))
    w, h = max(int(round(w0 * s)), 1), max(int(round(h0 * s)), 1)
    img = np.full((h + CAPTION_H, w, 3), 255, dtype=np.uint8)
    plane = img[CAPTION_H:]
    plane[:: max(h // 8, 1), :] = GRAY
    plane[:, :: max(w // 8, 1)] = GRAY
    for boxes, labels, is_gt in ((gt_boxes, gt_labels, True), (pred_boxes, pred_labels, False)):
        for k, b in enumerate(np.asarray(boxes, dtype=np.float64).reshape(-1, 4)):
            if not np.isfinite(b).all():
                continue
            color = GREEN if is_gt else (BLUE if matched is not None and matched[k] else RED)
            draw_box(plane, b * s, color)
            if labels is not None and k < len(labels) and labels[k]:
                draw_text(plane, int(min(max(b[0] * s, 0), w - 1)) + 2, int(min(max(b[1] * s, 0), h - 1)) + 2,
                          str(labels[k])[:24], color)
    draw_text(img, 2, 2, title, BLACK)
    draw_text(img, 2, 2 + GLYPH_H, "  ".join(f"{k} {v:.2f}" for k, v in (values or {}).items()), BLACK)
    x = 2
    for label, color in (("GT", GREEN), ("PRED MATCHED", BLUE), ("PRED UNMATCHED", RED)):
        img[2 + 2 * GLYPH_H:2 + 2 * GLYPH_H + 7, x:x + 7] = color
        x = draw_text(img, x + 9, 2 + 2 * GLYPH_H, label, color) + GLYPH_W
    write_png(path, img)
