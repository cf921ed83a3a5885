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


def _ends_exact(tokenizer: Any, row: List[int], full: str, skip: bool) -> List[int]:
    """End of each token: the longest common prefix of decode(row[:t+1]) with the full text."""
    decoded = _decode_many(tokenizer, [row[: k + 1] for k in range(len(row))], skip)
    ends, end = [], 0
    for text in decoded:
        end = max(end, _common_prefix(text, full))
        ends.append(end)
    return ends


def _ends_windowed(tokenizer: Any, row: List[int], full: str, skip: bool, window: int) -> Optional[List[int]]:
    """The same ends from O(L * window) decoding: each token's effect on the text is what it changes
    in the decode of a window of `window` tokens before it (both decodes start at the same token, so
    a decoder's start-of-text rules cancel). None when the text rebuilt this way is not the full
    decode (the tokenizer's decode is not local enough): the caller then uses the exact method."""
    seqs = []
    for t in range(len(row)):
        s = max(0, t - window)
        seqs.append(row[s:t])
        seqs.append(row[s:t + 1])
    decoded = _decode_many(tokenizer, seqs, skip)
    text: List[str] = []  # the decode of row[:t+1], rebuilt token by token
    ends: List[int] = []
    agree = 0  # len of the common prefix of `text` and `full`
    end = 0
    for t in range(len(row)):
        before, after = decoded[2 * t], decoded[2 * t + 1]
        k = _common_prefix(before, after)
        drop = len(before) - k  # characters this token changed (a completed U+FFFD, a cleanup)
        if drop > len(text):
            return None
        if drop:
            del text[len(text) - drop:]
        text.extend(after[k:])
        agree = min(agree, len(text))
        while agree < len(text) and agree < len(full) and text[agree] == full[agree]:
            agree += 1
        end = max(end, agree)
        ends.append(end)
    return ends if "".join(text) == full else None


def token_char_offsets(tokenizer: Any, token_ids: Any, mask: Any, *, texts: Optional[Sequence[str]] = None,
                       skip_special_tokens: bool = True, window: Optional[int] = 8) -> Any:
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
        window: tokens of context for the fast path, which decodes O(L · window) tokens per row
            and rebuilds the text token by token; a row whose rebuilt text is not its full decode
            falls back to decoding every prefix (O(L²)). None: always the prefix method.

    Returns:
        ``[N, L+1]`` int64, non-decreasing per row, ending at ``len(decoded[i])``; the kind of
        ``token_ids`` (CPU).
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
        full = _decode_many(tokenizer, [row], skip_special_tokens)[0] if row else ""
        if texts is not None and texts[i] != full:
            raise ValueError(f"token_char_offsets: texts[{i}] is not tokenizer.decode(token_ids[{i}] inside mask, "
                             f"skip_special_tokens={skip_special_tokens}); offsets would point into another text")
        token_ends = None
        if row and window is not None:
            token_ends = _ends_windowed(tokenizer, row, full, skip_special_tokens, window)
        if row and token_ends is None:
            token_ends = _ends_exact(tokenizer, row, full, skip_special_tokens)
        ends = np.zeros(L, dtype=np.int64)
        if row:
            ends[positions] = token_ends
            ends = np.maximum.accumulate(ends)  # tokens outside the mask: zero width where they stand
            ends[positions[-1]:] = len(full)  # the last generated token reaches the end of the text
        out[i, 1:] = ends
    if hasattr(token_ids, "detach"):
        import torch

        return torch.from_numpy(out)
    return out


__all__ = ["token_char_offsets"]
