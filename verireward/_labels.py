"""Labels and image ids as int64 codes in one vocabulary: what :func:`verireward.detection_map` and
:func:`verireward.match_boxes` compare (equal labels, as Python compares dict keys, get equal codes)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np

from verireward._backend import to_numpy


def int_array(values: Any) -> Optional[np.ndarray]:
    """A 1-D integer numpy array when ``values`` is an integer numpy array or tensor, else None."""
    if isinstance(values, (list, tuple)) or not hasattr(values, "shape"):
        return None
    arr = to_numpy(values)
    return arr.reshape(-1) if arr.dtype.kind in "iu" and arr.ndim == 1 else None


def label_codes(op: str, a: Tuple[str, Any, int], b: Tuple[str, Any, int]) -> Tuple[np.ndarray, np.ndarray, list]:
    """Two columns of labels or image ids (hashables, or integer arrays) -> int64 codes into their
    joint vocabulary (sorted when it sorts, else in order of appearance, ``b`` first)."""
    cols = []
    for name, values, n in (a, b):
        arr = int_array(values)
        if arr is None:
            if hasattr(values, "shape") and not isinstance(values, (list, tuple)):
                values = to_numpy(values)
                if values.ndim != 1:
                    raise TypeError(f"{op}: argument '{name}' must be a flat sequence of labels or ids")
                values = values.tolist()
            if not isinstance(values, (list, tuple)):
                raise TypeError(f"{op}: argument '{name}' must be a sequence of labels or ids, got {type(values).__name__}")
            for k, v in enumerate(values):
                try:
                    hash(v)
                except TypeError:
                    raise ValueError(f"{op}: argument '{name}' must hold hashable labels or ids; entry {k} is "
                                     f"{type(v).__name__} {v!r:.40}") from None
        n_got = len(arr) if arr is not None else len(values)
        if n_got != n:
            raise ValueError(f"{op}: argument '{name}' must hold {n} entries (one per box), got {n_got}")
        cols.append(arr if arr is not None else values)
    if all(isinstance(c, np.ndarray) for c in cols):  # integer arrays: vectorized
        both = np.concatenate([cols[0].astype(np.int64), cols[1].astype(np.int64)])
        if both.size and both.min() >= 0 and both.max() < 4 * both.size + 64:  # dense ids: a lookup table
            present = np.bincount(both) > 0
            vocab = np.flatnonzero(present)
            table = np.cumsum(present) - 1
            inv = table[both]
        else:
            vocab, inv = np.unique(both, return_inverse=True)
        inv = inv.astype(np.int64).reshape(-1)
        return inv[:len(cols[0])].copy(), inv[len(cols[0]):].copy(), vocab.tolist()
    lists = [c.tolist() if isinstance(c, np.ndarray) else list(c) for c in cols]
    seen: Dict[Any, None] = {}
    for v in lists[1] + lists[0]:
        seen.setdefault(v, None)
    keys = list(seen)
    try:
        keys = sorted(keys)
    except TypeError:
        pass
    index = {k: i for i, k in enumerate(keys)}
    code = lambda vals: np.fromiter((index[v] for v in vals), dtype=np.int64, count=len(vals))
    return code(lists[0]), code(lists[1]), keys


__all__ = ["int_array", "label_codes"]
