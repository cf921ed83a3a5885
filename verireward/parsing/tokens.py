"""Character offsets of generated tokens in their decoded text (the alignment step of GRCA §3.3).

Offsets are derived from the token ids with the tokenizer's own ``decode``, never by re-encoding
the text. Token t's characters end where the decoded text of the first t+1 tokens stops agreeing
with the decoded text of the whole completion (their longest common prefix), kept non-decreasing.
This works for every tokenizer family because it measures exactly the text the parser reads (see
:func:`token_char_offsets` for the three ways it is computed, fastest first, each checked):

* byte-level BPE: a multi-byte character split over several tokens belongs to the token that
  completes it (the earlier pieces decode to U+FFFD and get zero width); leading-space tokens own
  their space;
* SentencePiece / Metaspace: the ``▁`` a token carries becomes its leading space (none at the start);
* WordPiece: ``##`` pieces join their word; words own the space before them; ``decode``'s
  cleanup (e.g. ``a .`` → ``a.``) is accounted for because the full decode is the reference;
* special tokens (with ``skip_special_tokens=True``) and padding get zero width.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from verireward._native import _C
from verireward._backend import is_tensor
from verireward.parsing.fields import encode_texts


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


def _defer_replacement_chars(ends: List[int], changed: List[bool], full: str) -> List[int]:
    """A decode cannot tell a literal U+FFFD from the U+FFFD that stands for an incomplete
    multi-byte character: b"\\xef", b"\\xef\\xbf" and b"\\xef\\xbf\\xbd" all decode to "\\ufffd". So a
    token whose characters end in U+FFFD, followed by tokens that change nothing in the decoded
    text, hands that U+FFFD on to the last of them: the token that completes the character, as the
    byte-exact native method says."""
    prev = 0
    for t in range(len(ends) - 1):
        if ends[t] > prev and full[ends[t] - 1] == "\ufffd" and not changed[t + 1]:
            ends[t] -= 1
        prev = ends[t]
    return ends


def _ends_exact(tokenizer: Any, row: List[int], full: str, skip: bool) -> List[int]:
    """End of each token: the longest common prefix of decode(row[:t+1]) with the full text."""
    decoded = _decode_many(tokenizer, [row[: k + 1] for k in range(len(row))], skip)
    ends, end = [], 0
    for text in decoded:
        end = max(end, _common_prefix(text, full))
        ends.append(end)
    changed = [True] + [decoded[t] != decoded[t - 1] for t in range(1, len(decoded))]
    return _defer_replacement_chars(ends, changed, full)


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
    changed: List[bool] = []
    agree = 0  # len of the common prefix of `text` and `full`
    end = 0
    for t in range(len(row)):
        before, after = decoded[2 * t], decoded[2 * t + 1]
        k = _common_prefix(before, after)
        drop = len(before) - k  # characters this token changed (a completed U+FFFD, a cleanup)
        changed.append(before != after)
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
    return _defer_replacement_chars(ends, changed, full) if "".join(text) == full else None


def _gpt2_byte_decoder() -> Dict[str, int]:
    """GPT-2's printable character -> byte table (the inverse of its bytes_to_unicode)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    extra = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(bs, cs)}


_WORDPIECE_CLEANUP = [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
                      (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")]


def text_tokenizer(tokenizer: Any) -> Any:
    """The tokenizer that decodes for `tokenizer`: a processor (a VLM's, anything with a
    ``.tokenizer`` and no ``backend_tokenizer`` of its own, as TRL's ``processing_class`` is)
    decodes with its tokenizer, so that one takes the fast path; anything else is itself."""
    inner = getattr(tokenizer, "tokenizer", None)
    if inner is not None and getattr(tokenizer, "backend_tokenizer", None) is None and callable(getattr(inner, "decode", None)):
        return inner
    return tokenizer


def _backend(tokenizer: Any) -> Any:
    """The ``tokenizers.Tokenizer`` that decodes for `tokenizer`, or None."""
    try:
        from tokenizers import Tokenizer
    except ImportError:  # pragma: no cover - tokenizers is a dependency of every fast tokenizer
        return None
    if isinstance(tokenizer, Tokenizer):
        return tokenizer
    inner = getattr(tokenizer, "backend_tokenizer", None)  # transformers' fast tokenizers
    return inner if isinstance(inner, Tokenizer) else None


def _build_piece_table(backend: Any, skip: bool) -> Optional[Tuple[np.ndarray, np.ndarray, bool]]:
    """(blob, offsets, exact): piece v (v < V) is the bytes id v adds to the text after other
    tokens, piece V + v what it gives as the first token, for the decoders whose output is a
    concatenation of per-token pieces (ByteLevel, Metaspace, WordPiece, following their rules in
    ``tokenizers``); None for any other decoder. ``exact`` is True for ByteLevel, whose decode is by
    definition the concatenation of the tokens' bytes. The table is a fast path: a row is accepted
    only when its pieces rebuild the text it is checked against."""
    from tokenizers import decoders

    dec = backend.decoder
    vocab = backend.get_vocab(with_added_tokens=True)
    special = {i for i, t in backend.get_added_tokens_decoder().items() if t.special} if skip else set()
    exact = False
    if isinstance(dec, decoders.ByteLevel):
        table = _gpt2_byte_decoder()

        def piece(tok: str, first: bool) -> bytes:
            if all(c in table for c in tok):
                return bytes(table[c] for c in tok)
            return tok.encode("utf-8")
        exact = True
    elif isinstance(dec, decoders.Metaspace):
        rep, drop_first = dec.replacement, dec.prepend_scheme != "never"

        def piece(tok: str, first: bool) -> bytes:
            return tok.replace(rep, "" if first and drop_first else " ").encode("utf-8")
    elif isinstance(dec, decoders.WordPiece):
        prefix, cleanup = dec.prefix, dec.cleanup

        def piece(tok: str, first: bool) -> bytes:
            text = tok if first else tok[len(prefix):] if tok.startswith(prefix) else " " + tok
            if cleanup:
                for a, b in _WORDPIECE_CLEANUP:
                    text = text.replace(a, b)
            return text.encode("utf-8")
    else:
        return None
    size = max(vocab.values(), default=-1) + 1
    pieces: List[bytes] = [b""] * (2 * size)
    for tok, i in vocab.items():
        if i not in special:
            pieces[i], pieces[size + i] = piece(tok, False), piece(tok, True)
    lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=2 * size)
    offsets = np.zeros(2 * size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    blob = np.frombuffer(b"".join(pieces) or b"\0", dtype=np.uint8)
    return blob, offsets, exact


_TABLES: Dict[Tuple[int, bool], Tuple[Any, Any]] = {}  # (id(tokenizer), skip) -> (tokenizer, table or None)
_TABLES_LOCK = threading.Lock()


def piece_table(tokenizer: Any, skip: bool) -> Optional[Tuple[np.ndarray, np.ndarray, bool]]:
    """The piece table of `tokenizer`, built once (a vocabulary-sized loop) and cached while the
    tokenizer object lives in the cache (the 8 most recent tokenizers). Safe from many threads:
    the cache is read and written under a lock (a table is built outside it; two threads may both
    build one, and the second simply replaces the first)."""
    key = (id(tokenizer), skip)
    with _TABLES_LOCK:
        hit = _TABLES.get(key)
        if hit is not None and hit[0] is tokenizer:
            return hit[1]
    backend = _backend(tokenizer)
    table = _build_piece_table(backend, skip) if backend is not None else None
    with _TABLES_LOCK:
        while len(_TABLES) >= 8:
            _TABLES.pop(next(iter(_TABLES)))
        _TABLES[key] = (tokenizer, table)
    return table


def native_offsets(tokenizer: Any, ids64: np.ndarray, keep: np.ndarray, fulls: List[str],
                   skip: bool) -> Tuple[np.ndarray, np.ndarray, bool]:
    """Method 1 of :func:`token_char_offsets`: ``(offsets [N, L+1], done [N], exact)``; rows with
    ``done == 0`` (their pieces do not rebuild ``fulls[i]``, or the tokenizer has no table) are
    zeros; ``exact``: the table is the decoder itself (ByteLevel)."""
    n, L = ids64.shape
    out = np.zeros((n, L + 1), dtype=np.int64)
    done = np.zeros(n, dtype=np.uint8)
    table = piece_table(tokenizer, skip) if n else None
    if table is None:
        return out, done, False
    blob, offsets, exact = table
    mask8 = np.ascontiguousarray(keep, dtype=np.uint8)
    encoded = encode_texts([t if isinstance(t, str) else "" for t in fulls])
    _C.token_offsets_from_pieces(blob.ctypes.data, offsets.ctypes.data, (offsets.shape[0] - 1) // 2,
                                 ids64.ctypes.data, mask8.ctypes.data, n, L, encoded, out.ctypes.data, done.ctypes.data)
    return out, done, exact


def _int_matrix(op: str, x: Any, name: str, allow_bool: bool = False) -> np.ndarray:
    """x (torch, numpy or nested lists) as an [N, L] integer numpy array (a mask: also bool or
    float, nonzero = kept), else an error naming the argument."""
    if is_tensor(x):
        x = x.detach().cpu().numpy()
    elif not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except ValueError:  # ragged nested lists
            raise ValueError(f"{op}: argument '{name}' must be an [N, L] array; got rows of different lengths "
                             "(pad them and pass a mask)") from None
        if x.dtype == object:
            raise ValueError(f"{op}: argument '{name}' must be an [N, L] array; got rows of different lengths "
                             "(pad them and pass a mask)")
        if x.size == 0 and x.ndim == 1:
            x = x.reshape(0, 0).astype(np.int64)
    ok = np.issubdtype(x.dtype, np.integer) or (allow_bool and (x.dtype == np.bool_ or np.issubdtype(x.dtype, np.floating)))
    if x.ndim != 2 or not ok:
        raise ValueError(f"{op}: argument '{name}' must be an [N, L] integer array, got {x.dtype} {list(x.shape)}")
    return x


def token_char_offsets(tokenizer: Any, token_ids: Any, mask: Any, *, texts: Optional[Sequence[str]] = None,
                       skip_special_tokens: bool = True, method: str = "auto", window: int = 8) -> Any:
    """``[N, L+1]`` character offsets: generated token t of row i covers
    ``decoded[i][off[i, t]:off[i, t+1]]``, where ``decoded[i] = tokenizer.decode(ids, skip_special_tokens)``
    of the row's tokens inside ``mask``.

    Args:
        tokenizer: a ``tokenizers.Tokenizer`` or a ``transformers`` tokenizer (anything with
            ``decode(ids, skip_special_tokens=...)``; ``decode_batch``/``batch_decode`` are used when present),
            or a processor holding one as ``.tokenizer`` (a VLM's: it decodes with that tokenizer, fast path included).
        token_ids: ``[N, L]`` integers (torch, numpy or equal-length lists). Inside the mask each
            must lie in ``[0, 2**32)`` (else ``ValueError``); outside it any value is ignored
            (``-100``, a pad id). An id the tokenizer does not know (a model whose embedding is
            padded past the vocabulary, as Qwen's is, can sample one) decodes to nothing, so it
            gets zero width.
        mask: ``[N, L]`` generated-token mask; tokens outside it get zero width.
        texts: the decoded completions the rewards were computed on. When given, each must be the
            text of its ids, else ``ValueError`` naming the row (offsets into another text would
            route credit to the wrong tokens): for a ByteLevel tokenizer, a row whose tokens' bytes
            are ``texts[i]`` byte for byte passes without being decoded again; every other row
            must equal the decode above.
        skip_special_tokens: passed to ``decode``.
        method: ``"auto"`` (methods 1, 2, 3 below), ``"windowed"`` (2, 3) or ``"prefix"`` (3).
        window: tokens of context for method 2.

    How: the full decode of every row is one ``decode_batch`` call. Then, per row, the first
    method that reproduces that full decode exactly is used:

    1. native (C++, all rows at once): for ByteLevel, Metaspace and WordPiece decoders (read from
       ``tokenizers``, also inside a transformers fast tokenizer) a table of the bytes each id adds
       is built once per tokenizer; a row is accepted when its pieces concatenate to its full
       decode byte for byte (transformers' ``clean_up_tokenization_spaces`` or an unusual
       decoder makes rows fail this check and go to method 2);
    2. windowed: each token's effect is read from decodes of ``window`` tokens before it
       (O(L · window) decoded tokens), checked the same way;
    3. prefix: the decode of every prefix (O(L²)), exact by definition.

    Returns:
        ``[N, L+1]`` int64, non-decreasing per row, ending at ``len(decoded[i])``; the kind of
        ``token_ids`` (CPU).
    """
    op = "token_char_offsets"
    rows = TokenRows.checked(op, tokenizer, token_ids, mask, texts, skip_special_tokens)
    if method not in ("auto", "windowed", "prefix"):
        raise ValueError(f"{op}: argument 'method' must be 'auto', 'windowed' or 'prefix', got {method!r}")
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"{op}: argument 'window' must be an int >= 1, got {window!r}")
    if method == "auto":
        out, done, exact = native_offsets(tokenizer, rows.ids, rows.keep, rows.fulls, skip_special_tokens)
    else:
        out, done, exact = np.zeros((rows.n, rows.L + 1), dtype=np.int64), np.zeros(rows.n, dtype=np.uint8), False
    rows.check_texts(done, exact)
    rows.fill_remaining(out, done, method, window)
    if is_tensor(token_ids):
        import torch

        return torch.from_numpy(out)
    return out


class TokenRows:
    """A checked batch of generated token ids: ``ids [N, L]`` int64, ``keep [N, L]`` bool, and
    ``fulls`` (each row's text: the given ``texts``, else its decode). The steps of
    :func:`token_char_offsets` after the native pass are methods, so that the GRCA pipeline runs
    the same code around its own native call."""

    def __init__(self, tokenizer: Any, ids: np.ndarray, keep: np.ndarray, texts: Optional[Sequence[str]], skip: bool,
                 op: str = "token_char_offsets"):
        self.tokenizer, self.ids, self.keep, self.texts, self.skip, self.op = tokenizer, ids, keep, texts, skip, op
        self.n, self.L = ids.shape
        self._flat: List[Any] = []
        self.fulls = list(texts) if texts is not None else (_decode_many(tokenizer, self.rows_of(range(self.n)), skip) if self.n else [])

    @classmethod
    def checked(cls, op: str, tokenizer: Any, token_ids: Any, mask: Any, texts: Optional[Sequence[str]],
                skip: bool) -> "TokenRows":
        tokenizer = text_tokenizer(tokenizer)
        if tokenizer is None or not callable(getattr(tokenizer, "decode", None)):
            raise TypeError(f"{op}: argument 'tokenizer' must have a decode(ids, skip_special_tokens=...) method, "
                            f"got {type(tokenizer).__name__}")
        ids = _int_matrix(op, token_ids, "token_ids")
        m = _int_matrix(op, mask, "mask", allow_bool=True)
        if m.shape != ids.shape:
            raise ValueError(f"{op}: argument 'mask' must have shape {list(ids.shape)}, got {list(m.shape)}")
        if texts is not None:
            if isinstance(texts, str) or not isinstance(texts, Sequence):
                raise TypeError(f"{op}: argument 'texts' must be a sequence of str, got {type(texts).__name__}")
            if len(texts) != ids.shape[0]:
                raise ValueError(f"{op}: argument 'texts' has {len(texts)} entries for {ids.shape[0]} rows")
            for i, t in enumerate(texts):
                if not isinstance(t, str):
                    raise TypeError(f"{op}: texts[{i}] must be a str, got {type(t).__name__}")
        keep = np.ascontiguousarray(m != 0)
        return cls(tokenizer, np.ascontiguousarray(ids, dtype=np.int64), keep, texts, skip, op)

    def rows_of(self, which: Sequence[int]) -> List[List[int]]:
        """The generated ids (inside the mask) of some rows, from one flattening of the batch."""
        if not self._flat:
            flat = self.ids[self.keep]
            # ids outside the mask (padding: -100, a pad id) are never read. Inside it, the native
            # pass accepts only ids of its table; every other row is decoded, after this check
            if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= 2**32):
                bad = int(flat.min()) if int(flat.min()) < 0 else int(flat.max())
                raise ValueError(f"{self.op}: argument 'token_ids' holds {bad} inside the mask; "
                                 "token ids must lie in [0, 2**32)")
            self._flat.extend([flat.tolist(), np.concatenate([[0], np.cumsum(self.keep.sum(1))]).tolist()])
        flat, bounds = self._flat
        return [flat[bounds[i]:bounds[i + 1]] for i in which]

    def check_texts(self, done: np.ndarray, exact: bool) -> None:
        """Given texts must be the decode of their ids (offsets into another text would route credit
        to the wrong tokens); rows an exact table rebuilt byte for byte are proven already."""
        if self.texts is None:
            return
        check = np.flatnonzero(done == 0) if exact else np.arange(self.n)
        decoded = _decode_many(self.tokenizer, self.rows_of(check), self.skip) if len(check) else []
        for i, d in zip(check, decoded):
            if self.texts[i] != d:
                raise ValueError(f"{self.op}: texts[{i}] is not tokenizer.decode(token_ids[{i}] inside mask, "
                                 f"skip_special_tokens={self.skip}); offsets would point into another text")

    def fill_remaining(self, out: np.ndarray, done: np.ndarray, method: str = "auto", window: int = 8) -> np.ndarray:
        """Offsets of the rows the native pass left (``done == 0``), by windowed decodes, or the
        decode of every prefix where those do not rebuild the text; returns those rows' indices."""
        todo = np.flatnonzero(done == 0)
        for i in todo:
            positions = np.flatnonzero(self.keep[i])
            row, full = self.rows_of([i])[0], self.fulls[i]
            token_ends = None
            if row and method != "prefix":
                token_ends = _ends_windowed(self.tokenizer, row, full, self.skip, window)
            if row and token_ends is None:
                token_ends = _ends_exact(self.tokenizer, row, full, self.skip)
            ends = np.zeros(self.L, dtype=np.int64)
            if row:
                ends[positions] = token_ends
                ends = np.maximum.accumulate(ends)  # tokens outside the mask: zero width where they stand
                ends[positions[-1]:] = len(full)  # the last generated token reaches the end of the text
            out[i, 1:] = ends
        return todo


__all__ = ["token_char_offsets"]  # TokenRows: shared with verireward.grca.fields
