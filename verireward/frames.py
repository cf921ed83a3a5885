"""Per-image frames: the size a Qwen2-VL-family image processor resizes each image to, so that a
batch's original sizes turn into the frame the model saw (and wrote pixel coordinates in) without
opening the images.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from verireward._backend import check_int, is_tensor, to_numpy


def qwen_resized_size(image_size: Any, *, patch_size: int = 14, merge_size: int = 2, min_pixels: int = 56 * 56,
                      max_pixels: int = 28 * 28 * 1280) -> Any:
    """``[N, 2]`` (width, height) each image is resized to by the ``smart_resize`` of transformers'
    Qwen2-VL image processors (Qwen2-VL, Qwen2.5-VL; Qwen3-VL with ``patch_size=16``).

    With ``f = patch_size · merge_size``: each side is rounded to a multiple of f (round half to
    even, as Python's ``round``); if the area passes ``max_pixels`` both sides are scaled by
    ``1/β = sqrt(max_pixels / (h·w))`` and floored to multiples of f (at least f); if it falls under
    ``min_pixels`` they are scaled up by ``β = sqrt(min_pixels / (h·w))`` and ceiled. An aspect ratio
    over 200 is a ``ValueError``, as in transformers.

    Args:
        image_size: ``(W, H)`` or ``[N, 2]`` original sizes (positive integers; torch, numpy or lists).
        patch_size, merge_size, min_pixels, max_pixels: the processor's settings (Qwen2.5-VL's defaults).

    Returns:
        ``[N, 2]`` int64 (width, height), torch when ``image_size`` is a tensor, else numpy.
    """
    op = "qwen_resized_size"
    for name, v in (("patch_size", patch_size), ("merge_size", merge_size), ("min_pixels", min_pixels),
                    ("max_pixels", max_pixels)):
        check_int(op, v, name, 1, 2**40)
    if min_pixels > max_pixels:
        raise ValueError(f"{op}: argument 'min_pixels' ({min_pixels}) must not exceed 'max_pixels' ({max_pixels})")
    raw = np.asarray(to_numpy(image_size), dtype=np.float64)
    if not (raw.shape == (2,) or (raw.ndim == 2 and raw.shape[1] == 2)):
        raise ValueError(f"{op}: argument 'image_size' must be (W, H) or [N, 2], got shape {list(raw.shape)}")
    sizes = raw.reshape(-1, 2)
    if not (np.all(np.isfinite(sizes)) and np.all(sizes >= 1) and np.all(sizes == np.floor(sizes))):
        raise ValueError(f"{op}: argument 'image_size' must hold positive integer (width, height) pairs")
    factor = patch_size * merge_size
    out = np.empty((len(sizes), 2), dtype=np.int64)
    for i, (w, h) in enumerate(sizes.tolist()):
        w, h = int(w), int(h)
        if max(h, w) / min(h, w) > 200:
            raise ValueError(f"{op}: image_size[{i}] = ({w}, {h}) has an aspect ratio over 200 (the processor refuses it)")
        h_bar, w_bar = round(h / factor) * factor, round(w / factor) * factor
        if h_bar * w_bar > max_pixels:
            beta = math.sqrt((h * w) / max_pixels)
            h_bar = max(factor, math.floor(h / beta / factor) * factor)
            w_bar = max(factor, math.floor(w / beta / factor) * factor)
        elif h_bar * w_bar < min_pixels:
            beta = math.sqrt(min_pixels / (h * w))
            h_bar = math.ceil(h * beta / factor) * factor
            w_bar = math.ceil(w * beta / factor) * factor
        out[i] = (w_bar, h_bar)
    if is_tensor(image_size):
        import torch

        return torch.from_numpy(out).to(image_size.device)
    return out


__all__ = ["qwen_resized_size"]
