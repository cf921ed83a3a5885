"""Character offsets of generated tokens in their decoded text (the alignment step of GRCA §3.3).

Offsets are derived from the token ids with the tokenizer's own ``decode``, never by re-encoding
the text. Token t's characters end where the decoded text of the first t+1 tokens stops agreeing
with the decoded text of the whole completion (their longest common prefix), kept non-decreasing.
This works for every tokenizer family because it measures exactly the text the parser reads:

* byte-level BPE: a multi-byte character split over several tokens belongs to the token that
  completes it (the earlier pieces decode to U+FFFD and get zero width); leading-space tokens own
  their space;
* SentencePiece / Metaspace: the ``▁`` a token carries becomes its leading space (none at the start);
* WordPiece: ``##`` pieces join their word; words own the space before them; ``decode``'s
  cleanup (e.g. ``a .`` → ``a.``) is accounted for because the full decode is the reference;
* special tokens (with ``skip_special_tokens=True``) and padding get zero width.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

import numpy as np


def _decode_many(tokenizer: Any, seqs: List[List[int]], skip_special_tokens: bool) -> List[str]:
    if hasattr(tokenizer, "decode_batch"):  # tokenizers.Tokenizer
        return list(tokenizer.decode_batch(seqs, skip_special_tokens=skip_special_tokens))
    if hasattr(tokenizer, "batch_decode"):  # transformers
        return list(tokenizer.batch_decode(seqs, skip_special_tokens=skip_special_tokens))
    return [tokenizer.decode(s, skip_special_tokens=skip_special_tokens) for s in seqs]


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def token_char_offsets(tokenizer: Any, token_ids: Any, mask: Any, *, texts: Optional[Sequence[str]] = None,
                       skip_special_tokens: bool = True) -> Any:
    """``[N, L+1]`` character offsets: generated token t of row i covers
    ``decoded[i][off[i, t]:off[i, t+1]]``, where ``decoded[i] = tokenizer.decode(ids, skip_special_tokens)``
    of the row's tokens inside ``mask``.

    Args:
        tokenizer: a ``tokenizers.Tokenizer`` or a ``transformers`` tokenizer (anything with
            ``decode(ids, skip_special_tokens=...)``; ``decode_batch``/``batch_decode`` are used when present).
        token_ids: ``[N, L]`` integers (torch or numpy).
        mask: ``[N, L]`` generated-token mask; tokens outside it get zero width.
        texts: the decoded completions the rewards were computed on. When given, each must equal
            the decode above, else ``ValueError`` naming the row: offsets into another text would
            route credit to the wrong tokens.
        skip_special_tokens: passed to ``decode``.

    Returns:
        ``[N, L+1]`` int64, non-decreasing per row, ending at ``len(decoded[i])``; the kind of
        ``token_ids`` (CPU). Cost: the row's prefixes are decoded (O(L²) tokens per row, in the
        tokenizer's native batch decoder).
    """
    ids = token_ids.detach().cpu().numpy() if hasattr(token_ids, "detach") else np.asarray(token_ids)
    m = mask.detach().cpu().numpy() if hasattr(mask, "detach") else np.asarray(mask)
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"token_char_offsets: argument 'token_ids' must be an [N, L] integer array, got {ids.dtype} {list(ids.shape)}")
    if m.shape != ids.shape:
        raise ValueError(f"token_char_offsets: argument 'mask' must have shape {list(ids.shape)}, got {list(m.shape)}")
    if texts is not None and len(texts) != ids.shape[0]:
        raise ValueError(f"token_char_offsets: argument 'texts' has {len(texts)} entries for {ids.shape[0]} rows")
    n, L = ids.shape
    out = np.zeros((n, L + 1), dtype=np.int64)
    for i in range(n):
        positions = np.flatnonzero(m[i] != 0)
        row = [int(x) for x in ids[i, positions]]
        decoded = _decode_many(tokenizer, [row[: k + 1] for k in range(len(row))] or [[]], skip_special_tokens)
        full = decoded[-1] if row else ""
        if texts is not None and texts[i] != full:
            raise ValueError(f"token_char_offsets: texts[{i}] is not tokenizer.decode(token_ids[{i}] inside mask, "
                             f"skip_special_tokens={skip_special_tokens}); offsets would point into another text")
        ends = np.zeros(L, dtype=np.int64)
        end = 0
        k = 0
        for t in range(L):
            if k < len(positions) and positions[k] == t:
                end = max(end, _common_prefix(decoded[k], full))
                k += 1
            ends[t] = end
        if row:
            ends[positions[-1]:] = len(full)  # the last generated token reaches the end of the text
        out[i, 1:] = ends
        out[i, 0] = 0
    if hasattr(token_ids, "detach"):
        import torch

        return torch.from_numpy(out)
    return out


__all__ = ["token_char_offsets"]
