"""Pictures of scored samples for ``verireward score --render``, drawn with pillow.

Each picture is the image plane (the real image when the ground-truth line names one under
``image``, else a blank canvas of ``image_size`` with a light grid) under a three-line caption:
the title, the sample's values (rewards, RPC, set rewards) and a legend. Colours: ground truth
green, a prediction blue (matched, or a 2D box) or red (unmatched, or a 3D box's projected
wireframe); each 3D edge is clipped at the near plane before it is projected. Labels are drawn on
a tag of their box's colour in white, so they stay legible on any image. Lines are drawn without
anti-aliasing, so every pixel of a box edge is exactly its colour.

pillow is needed only here: the import is deferred, and a missing pillow is an ImportError that
says what to install.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Tuple

import numpy as np

GREEN, BLUE, RED, GRAY, BLACK, WHITE = (0, 160, 0), (30, 90, 230), (220, 30, 30), (235, 235, 235), (20, 20, 20), \
    (255, 255, 255)
FONT_SIZE = 13
GLYPH_H = 16  # a caption line's height
CAPTION_H = 3 * GLYPH_H + 6  # three caption lines above the picture
EDGES = [(c, c | b) for c in range(8) for b in (1, 2, 4) if not c & b]


def _pil():
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        raise ImportError("verireward score --render draws with pillow: pip install pillow") from None
    return Image, ImageDraw, ImageFont


def _font():
    _, _, ImageFont = _pil()
    try:
        return ImageFont.load_default(size=FONT_SIZE)  # pillow >= 10.1 with FreeType: a scalable font
    except TypeError:  # older pillow: its bitmap font
        return ImageFont.load_default()


def _canvas(size: Sequence[float], image: Optional[str], max_side: Optional[int]) -> Tuple[Any, float, float, str]:
    """The plane to draw on (the real image when it opens, else a blank canvas with a grid), scaled to
    at most ``max_side``, and the factors from pixels of ``size`` to its pixels; a note when the
    named image could not be read."""
    Image, ImageDraw, _ = _pil()
    w0, h0 = max(float(size[0]), 1.0), max(float(size[1]), 1.0)
    note = ""
    plane = None
    if image:
        try:
            with Image.open(image) as im:
                plane = im.convert("RGB")
        except (OSError, ValueError) as e:
            note = f"image not read: {os.path.basename(str(image))} ({type(e).__name__})"
    if plane is None:
        plane = Image.new("RGB", (max(int(round(w0)), 1), max(int(round(h0)), 1)), WHITE)
        d = ImageDraw.Draw(plane)
        w, h = plane.size
        for x in range(0, w, max(w // 8, 1)):
            d.line([(x, 0), (x, h - 1)], fill=GRAY)
        for y in range(0, h, max(h // 8, 1)):
            d.line([(0, y), (w - 1, y)], fill=GRAY)
    if max_side:
        s = min(1.0, max_side / max(plane.size))
        if s < 1.0:
            plane = plane.resize((max(int(round(plane.size[0] * s)), 1), max(int(round(plane.size[1] * s)), 1)))
    return plane, plane.size[0] / w0, plane.size[1] / h0, note


def image_path(gt_line: dict, gt_path: str) -> Optional[str]:
    """A ground-truth line's ``image`` (relative to GT.jsonl's folder unless absolute), or None."""
    img = gt_line.get("image")
    if not isinstance(img, str) or not img:
        return None
    return img if os.path.isabs(img) else os.path.join(os.path.dirname(os.path.abspath(gt_path)), img)


def _finite(*xs: Any) -> bool:
    return all(np.all(np.isfinite(np.asarray(x, dtype=np.float64))) for x in xs)


def _clip(v: float) -> float:
    """A coordinate pillow can take (a model can write 1e300)."""
    return float(min(max(v, -1e6), 1e6))


def draw_box(draw, box: Sequence[float], color, sx: float = 1.0, sy: float = 1.0) -> None:
    if not _finite(box):
        return
    x1, y1, x2, y2 = (_clip(v) for v in (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy))
    draw.line([(x1, y1), (x2, y1), (x2, y2), (x1, y2), (x1, y1)], fill=color, width=2)


def draw_cross(draw, p: Sequence[float], color, r: int = 3) -> None:
    if _finite(p):
        x, y = _clip(p[0]), _clip(p[1])
        draw.line([(x - r, y - r), (x + r, y + r)], fill=color)
        draw.line([(x - r, y + r), (x + r, y - r)], fill=color)


def draw_wireframe(draw, box3d: Sequence[float], K, R, t, color, near: float = 1e-4, sx: float = 1.0,
                   sy: float = 1.0) -> None:
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
        a, c = p[:2] / p[2], q[:2] / q[2]
        if _finite(a, c):
            draw.line([(_clip(a[0] * sx), _clip(a[1] * sy)), (_clip(c[0] * sx), _clip(c[1] * sy))], fill=color)


def draw_tag(draw, font, x: float, y: float, text: str, color, bounds: Tuple[int, int]) -> None:
    """A label: white text on a filled tag of the box's colour, its top-left corner at (x, y)
    moved inside the picture."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    w, h = right - left + 4, bottom - top + 2
    x = int(min(max(x, 0), max(bounds[0] - w, 0)))
    y = int(min(max(y, 0), max(bounds[1] - h, 0)))
    draw.rectangle([x, y, x + w - 1, y + h - 1], fill=color)
    draw.text((x + 2 - left, y + 1 - top), text, fill=WHITE, font=font)


def project_points(points: np.ndarray, K, R, t, near: float = 1e-4) -> np.ndarray:
    """[M, 2] pixels of world points; NaN for points behind the near plane."""
    h = (np.asarray(points, dtype=np.float64) @ np.asarray(R, dtype=np.float64).T + np.asarray(t, dtype=np.float64)) \
        @ np.asarray(K, dtype=np.float64).T
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = h[:, :2] / h[:, 2:3]
    uv[h[:, 2] < near] = np.nan
    return uv


def _compose(path: str, plane, title: str, values: Optional[dict], legend, note: str = "", alarm: str = "") -> None:
    """The caption (title, values, legend; a note or an alarm after the legend) above the plane."""
    Image, ImageDraw, _ = _pil()
    font = _font()
    w = max(plane.size[0], 480)
    img = Image.new("RGB", (w, plane.size[1] + CAPTION_H), WHITE)
    img.paste(plane, (0, CAPTION_H))
    d = ImageDraw.Draw(img)
    d.fontmode = "1"  # crisp: every text pixel is exactly its colour
    d.text((2, 2), title, fill=BLACK, font=font)
    d.text((2, 2 + GLYPH_H), "  ".join(f"{k} {v:.2f}" for k, v in (values or {}).items()), fill=BLACK, font=font)
    x, y = 2, 2 + 2 * GLYPH_H
    for label, color in legend:
        d.rectangle([x, y + 3, x + 9, y + 12], fill=color)
        d.text((x + 13, y), label, fill=color, font=font)
        x += 13 + int(d.textlength(label, font=font)) + 12
    if note:
        d.text((x, y), note, fill=BLACK, font=font)
    if alarm:
        d.text((x, y), alarm, fill=RED, font=font)
    img.save(path, format="PNG")


def render_sample(path: str, size: Sequence[int], gt2d=None, pred2d=None, gt3d=None, pred3d=None,
                  camera: Optional[Sequence] = None, kpts2d=None, kpts3d=None, title: str = "",
                  values: Optional[dict] = None, parse_failed: bool = False, image: Optional[str] = None) -> None:
    """One PNG of a one-object answer: the image plane (``image``'s pixels when given and readable,
    else a blank W x H canvas) under a three-line caption. Boxes and keypoints are in pixels of
    ``size`` (W, H); kpts2d: [M, 2] pixels; kpts3d: [M, 3] world points (projected with the camera,
    whose pixels are those of ``size``)."""
    _, ImageDraw, ImageFont = _pil()
    plane, sx, sy, note = _canvas(size, image, None)
    d = ImageDraw.Draw(plane)
    if camera is not None:
        if gt3d is not None:
            draw_wireframe(d, gt3d, *camera, GREEN, sx=sx, sy=sy)
        if pred3d is not None:
            draw_wireframe(d, pred3d, *camera, RED, sx=sx, sy=sy)
        if kpts3d is not None and len(kpts3d):
            for p in project_points(np.asarray(kpts3d).reshape(-1, 3), *camera):
                draw_cross(d, (p[0] * sx, p[1] * sy), RED)
    if gt2d is not None:
        draw_box(d, gt2d, GREEN, sx, sy)
    if pred2d is not None:
        draw_box(d, pred2d, BLUE, sx, sy)
    if kpts2d is not None:
        for p in np.asarray(kpts2d, dtype=np.float64).reshape(-1, 2):
            draw_cross(d, (p[0] * sx, p[1] * sy), BLUE)
    if parse_failed:
        big = _font()
        try:
            big = ImageFont.load_default(size=2 * FONT_SIZE)
        except TypeError:
            pass
        d.fontmode = "1"
        text = "PARSE FAILED"
        tw = d.textlength(text, font=big)
        d.text((max(2, plane.size[0] / 2 - tw / 2), max(2, plane.size[1] / 2 - FONT_SIZE)), text, fill=RED, font=big)
    _compose(path, plane, title, values, (("GT", GREEN), ("PRED 2D", BLUE), ("PRED 3D", RED), ("X = keypoints", BLACK)),
             note, "PARSE FAILED" if parse_failed else "")


def render_objects(path: str, size: Sequence[float], gt_boxes, pred_boxes, gt_labels=None, pred_labels=None,
                   matched=None, title: str = "", values: Optional[dict] = None, max_side: int = 640,
                   image: Optional[str] = None) -> None:
    """One PNG of a many-object answer: every ground-truth box (green) and every predicted box
    (blue when it matched a ground-truth box, red when it did not: a duplicate or a false
    positive), each with its label on a tag, on the image (``image``'s pixels when given and
    readable, else a blank canvas of ``size``) scaled to at most ``max_side`` pixels. Boxes are
    (x1, y1, x2, y2) in pixels of the ``size`` (W, H) image; a box with a NaN is skipped."""
    _, ImageDraw, _ = _pil()
    plane, sx, sy, note = _canvas(size, image, max_side)
    d = ImageDraw.Draw(plane)
    d.fontmode = "1"
    font = _font()
    tags = []
    for boxes, labels, is_gt in ((gt_boxes, gt_labels, True), (pred_boxes, pred_labels, False)):
        for k, b in enumerate(np.asarray(boxes, dtype=np.float64).reshape(-1, 4)):
            if not np.isfinite(b).all():
                continue
            color = GREEN if is_gt else (BLUE if matched is not None and matched[k] else RED)
            draw_box(d, b, color, sx, sy)
            if labels is not None and k < len(labels) and labels[k]:
                tags.append((b[0] * sx, b[1] * sy, str(labels[k])[:32], color, is_gt))
    for x, y, text, color, is_gt in tags:  # after every box, so no box covers a label; the truth's
        # tag inside its box's top-left corner, a prediction's above its box
        draw_tag(d, font, x + 1, y + 1 if is_gt else y - FONT_SIZE - 4, text, color, plane.size)
    _compose(path, plane, title, values, (("GT", GREEN), ("PRED MATCHED", BLUE), ("PRED UNMATCHED", RED)), note)
