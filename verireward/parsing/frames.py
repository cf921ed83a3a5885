"""Per-image frames: the size a Qwen2-VL-family image processor resizes each image to (the frame the
model saw and writes pixel coordinates in), from ``image_grid_thw`` (exact), from the original
sizes under a processor's own resize settings, or under Qwen's defaults; and
:func:`derive_frames`, the one place the adapters decide which of these a batch allows.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from verireward._backend import check_int, is_tensor, to_numpy

QWEN_DEFAULTS = dict(patch_size=14, merge_size=2, min_pixels=56 * 56, max_pixels=28 * 28 * 1280)


def resize_settings(processor: Any) -> Dict[str, int]:
    """``patch_size``, ``merge_size``, ``min_pixels``, ``max_pixels`` of a Qwen2-VL-family processor
    or image processor (transformers 4.x attributes or 5.x ``size = {"shortest_edge",
    "longest_edge"}``); Qwen2.5-VL's defaults for what it does not say."""
    ip = getattr(processor, "image_processor", processor)
    out = dict(QWEN_DEFAULTS)
    size = getattr(ip, "size", None)
    get = (lambda k: size.get(k)) if isinstance(size, dict) else (lambda k: getattr(size, k, None))
    for key, attr, size_key in (("min_pixels", "min_pixels", "shortest_edge"), ("max_pixels", "max_pixels", "longest_edge")):
        v = get(size_key) if size is not None else None
        v = v if v is not None else getattr(ip, attr, None)
        if v is not None:
            out[key] = int(v)
    for key in ("patch_size", "merge_size"):
        v = getattr(ip, key, None)
        if v is not None:
            out[key] = int(v)
    return out


def qwen_resized_size(image_size: Any = None, *, processor: Any = None, image_grid_thw: Any = None,
                      patch_size: Optional[int] = None, merge_size: Optional[int] = None, min_pixels: Optional[int] = None,
                      max_pixels: Optional[int] = None) -> Any:
    """``[N, 2]`` (width, height) of the image each Qwen2-VL-family model saw (Qwen2-VL, Qwen2.5-VL;
    Qwen3-VL with ``patch_size=16``): what it writes pixel coordinates in.

    Three sources, the first given wins:

    - ``image_grid_thw`` ``[N, 3]`` (t, h, w), what the processor returned: exact, ``(w, h) ·
      patch_size`` (the patch size from ``processor`` when given). Use it whenever you have it:
      it is right whatever resized the image before the processor (verl's ``fetch_image``,
      EasyR1's upscaling).
    - ``image_size`` ``(W, H)`` or ``[N, 2]`` under ``processor``'s own settings
      (:func:`resize_settings`: a processor built with ``max_pixels=...`` resizes differently).
    - ``image_size`` under Qwen2.5-VL's defaults, or the keyword arguments given.

    The resize is ``smart_resize`` of transformers' Qwen2-VL image processors, with ``f =
    patch_size · merge_size``: each side is rounded to a multiple of f (round half to even); if the
    area passes ``max_pixels`` both sides are scaled by ``sqrt(max_pixels / (h·w))`` and floored
    to multiples of f (at least f); if it falls under ``min_pixels`` they are scaled up by
    ``sqrt(min_pixels / (h·w))`` and ceiled. An aspect ratio over 200 is a ``ValueError``, as in
    transformers. Keyword settings override the processor's.

    Returns:
        ``[N, 2]`` int64 (width, height), torch when the input is a tensor, else numpy.
    """
    op = "qwen_resized_size"
    settings = resize_settings(processor) if processor is not None else dict(QWEN_DEFAULTS)
    for name, v in (("patch_size", patch_size), ("merge_size", merge_size), ("min_pixels", min_pixels),
                    ("max_pixels", max_pixels)):
        if v is not None:
            settings[name] = v
    for name, v in settings.items():
        check_int(op, v, name, 1, 2**40)
    if image_grid_thw is not None:
        return _from_grid(op, image_grid_thw, settings["patch_size"])
    if image_size is None:
        raise ValueError(f"{op}: pass 'image_size' (the original sizes) or 'image_grid_thw'")
    if settings["min_pixels"] > settings["max_pixels"]:
        raise ValueError(f"{op}: argument 'min_pixels' ({settings['min_pixels']}) must not exceed 'max_pixels' "
                         f"({settings['max_pixels']})")
    raw = np.asarray(to_numpy(image_size), dtype=np.float64)
    if not (raw.shape == (2,) or (raw.ndim == 2 and raw.shape[1] == 2)):
        raise ValueError(f"{op}: argument 'image_size' must be (W, H) or [N, 2], got shape {list(raw.shape)}")
    sizes = raw.reshape(-1, 2)
    if not (np.all(np.isfinite(sizes)) and np.all(sizes >= 1) and np.all(sizes == np.floor(sizes))):
        raise ValueError(f"{op}: argument 'image_size' must hold positive integer (width, height) pairs")
    factor = settings["patch_size"] * settings["merge_size"]
    lo, hi = settings["min_pixels"], settings["max_pixels"]
    out = np.empty((len(sizes), 2), dtype=np.int64)
    for i, (w, h) in enumerate(sizes.tolist()):
        w, h = int(w), int(h)
        if max(h, w) / min(h, w) > 200:
            raise ValueError(f"{op}: image_size[{i}] = ({w}, {h}) has an aspect ratio over 200 (the processor refuses it)")
        h_bar, w_bar = round(h / factor) * factor, round(w / factor) * factor
        if h_bar * w_bar > hi:
            beta = math.sqrt((h * w) / hi)
            h_bar = max(factor, math.floor(h / beta / factor) * factor)
            w_bar = max(factor, math.floor(w / beta / factor) * factor)
        elif h_bar * w_bar < lo:
            beta = math.sqrt(lo / (h * w))
            h_bar = math.ceil(h * beta / factor) * factor
            w_bar = math.ceil(w * beta / factor) * factor
        out[i] = (w_bar, h_bar)
    if is_tensor(image_size):
        import torch

        return torch.from_numpy(out).to(image_size.device)
    return out


def _from_grid(op: str, grid: Any, patch_size: int) -> Any:
    g = to_numpy(grid)
    if g.dtype.kind not in "iu" or g.ndim != 2 or g.shape[1] != 3 or (g.size and g.min() < 1):
        raise ValueError(f"{op}: argument 'image_grid_thw' must be positive integers [N, 3] (t, h, w), got "
                         f"{g.dtype} {list(g.shape)}")
    out = np.ascontiguousarray(g[:, [2, 1]].astype(np.int64) * patch_size)
    if is_tensor(grid):
        import torch

        return torch.from_numpy(out).to(grid.device)
    return out


def image_sizes(images: Sequence[Any]) -> Optional[np.ndarray]:
    """``[N, 2]`` (W, H) of a column of images (PIL images, arrays ``[H, W, C]``, or a row's list of
    them: its first image); None when a row holds none."""
    out = []
    for img in images:
        if isinstance(img, (list, tuple)):
            if not img:
                return None
            img = img[0]
        if hasattr(img, "size") and isinstance(getattr(img, "size"), tuple) and len(img.size) == 2:
            out.append(img.size)  # PIL: (W, H)
        elif hasattr(img, "shape") and len(img.shape) == 3:
            out.append((img.shape[1], img.shape[0]))
        else:
            return None
    return np.asarray(out, dtype=np.float64).reshape(-1, 2)


FRAME_HELP = ("pass processor= (the one the trainer uses), or per-row 'image_size' and 'resized_size' columns "
              "(the original [W, H] and the size the model saw: verireward.qwen_resized_size)")


def derive_frames(op: str, columns: Dict[str, Any], n: int, *, pixels: bool, processor: Any = None,
                  image_grid_thw: Any = None, images_per_row: Optional[Sequence[int]] = None,
                  truth_in_pixels: bool = False) -> Tuple[Dict[str, Any], List[str]]:
    """The frame arguments (``image_size``/``resized_size``, ``[n, 2]`` each, or nothing) for a batch
    of ``n`` rows, and how they were derived, in this order:

    1. explicit per-row ``image_size`` and ``resized_size`` columns;
    2. ``image_grid_thw`` of the batch (one row per image; ``images_per_row`` when a row holds
       several: its first image is the one scored) for what the model saw, with the original sizes
       from the ``image_size`` column or the rows' images (``image``/``images`` columns);
    3. the rows' images (or an ``image_size`` column) under ``processor``'s resize settings;
    4. the same under Qwen's defaults, with a warning naming ``processor=``.

    A schema with a pixels-frame field (``pixels=True``) and none of these warns (naming
    ``processor``, ``image_size`` and ``resized_size``). For other schemas (Qwen3-VL's 0–1000) only
    an ``image_size`` is returned, so that the answer compares in original pixels: the column's,
    or the images' when ``truth_in_pixels`` (the caller saw a ground-truth coordinate above 1:
    normalized truth never has one); else nothing (normalized truth compares as it is).
    Returns ``(frames, how)``, ``how`` naming the source of ``resized_size`` when derived.
    """
    given = {k: columns.get(k) for k in ("image_size", "resized_size")}
    if given["resized_size"] is not None:
        if given["image_size"] is None:
            raise ValueError(f"{op}: the dataset has a 'resized_size' column but no 'image_size' (per row, the original [W, H])")
        return {k: np.asarray(to_numpy_rows(v), dtype=np.float64).reshape(n, 2) for k, v in given.items()}, []
    original = None
    if given["image_size"] is not None:
        original = np.asarray(to_numpy_rows(given["image_size"]), dtype=np.float64).reshape(n, 2)
    else:
        for key in ("image", "images"):
            if columns.get(key) is not None:
                original = image_sizes(columns[key])
                if original is not None and len(original) != n:
                    original = None
                break
    notes: List[str] = []
    if original is None:
        if pixels:
            warnings.warn(f"{op}: the schema reads pixels of the image the model saw, but no frame is known for this "
                          f"batch; rewards compare raw pixels. {FRAME_HELP}.", UserWarning, stacklevel=3)
        return {}, notes
    if not pixels:
        return ({"image_size": original} if given["image_size"] is not None or truth_in_pixels else {}), notes
    if image_grid_thw is not None:
        grid = to_numpy(image_grid_thw)
        if images_per_row is not None:
            starts = np.concatenate([[0], np.cumsum(images_per_row)[:-1]]).astype(np.int64)
            grid = grid[starts] if len(grid) >= int(np.sum(images_per_row)) else grid
        if len(grid) == n:
            patch = resize_settings(processor)["patch_size"] if processor is not None else QWEN_DEFAULTS["patch_size"]
            return {"image_size": original, "resized_size": _from_grid(op, grid, patch).astype(np.float64)}, ["image_grid_thw"]
    if processor is not None:
        return {"image_size": original, "resized_size": qwen_resized_size(original, processor=processor).astype(np.float64)}, \
            ["processor"]
    warnings.warn(f"{op}: the size each image was resized to is derived with Qwen2.5-VL's default pixel limits; a "
                  f"processor with its own min_pixels/max_pixels resizes differently: pass processor=.", UserWarning,
                  stacklevel=3)
    return {"image_size": original, "resized_size": qwen_resized_size(original).astype(np.float64)}, ["defaults"]


def to_numpy_rows(v: Any) -> Any:
    """A column of per-row values (a list of lists or tensors, or one tensor) as numpy."""
    if is_tensor(v):
        return to_numpy(v)
    if isinstance(v, (list, tuple)):
        return [to_numpy(x) if is_tensor(x) else x for x in v]
    return v


__all__ = ["qwen_resized_size"]  # resize_settings, derive_frames: verireward.parsing.frames (the adapters use them)
