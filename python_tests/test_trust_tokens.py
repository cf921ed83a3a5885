"""Trust: token_char_offsets from many threads, with a literal U+FFFD in the text, with ids a
tokenizer does not know, and with misuse that names the argument. Each test failed before its fix."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import verireward as vr
from test_tokens import byte_bpe, bytes_to_unicode, unigram
from verireward.parsing import tokens as vt

METHODS = ["auto", "windowed", "prefix"]


def byte_ids(tok, text: str):
    """One id per byte of the text's UTF-8 (GPT-2's printable byte characters are in every
    byte-level vocabulary), so that every multi-byte character is split over tokens."""
    table = bytes_to_unicode()
    return [tok.token_to_id(table[byte]) for byte in text.encode("utf-8")]


@pytest.mark.parametrize("text", ["\ufffd", "a\ufffdb", "\ufffd\ufffd", "x \ufffd", "中\ufffd文"])
def test_every_method_agrees_on_a_literal_replacement_character(text):
    tok = byte_bpe()
    ids = byte_ids(tok, text)
    assert tok.decode(ids) == text
    t = torch.tensor([ids])
    mask = torch.ones_like(t, dtype=torch.bool)
    got = {m: vr.token_char_offsets(tok, t, mask, method=m).tolist() for m in METHODS}
    assert got["auto"] == got["windowed"] == got["prefix"], got
    ends = got["prefix"][0][1:]
    # the token that completes a character owns it: the last byte of each U+FFFD
    want, at = [], 0
    for ch in text:
        n = len(ch.encode("utf-8"))
        want += [at] * (n - 1) + [at + 1]
        at += 1
    assert ends == want


def test_the_piece_table_cache_is_safe_from_many_threads():
    toks = [byte_bpe() for _ in range(3)] + [unigram() for _ in range(3)] + [byte_bpe() for _ in range(6)]
    ids = torch.tensor([[5, 6, 7, 8]])
    mask = torch.ones_like(ids, dtype=torch.bool)
    errors = []

    def work(k):
        try:
            for j in range(40):
                vr.token_char_offsets(toks[(k + j) % len(toks)], ids, mask)
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(vt._TABLES) <= 8


def test_ids_the_tokenizer_does_not_know_get_zero_width():
    tok = byte_bpe()
    V = tok.get_vocab_size(with_added_tokens=True)
    known = tok.encode("ab cd").ids
    ids = torch.tensor([known[:1] + [V + 3] + known[1:]])
    mask = torch.ones_like(ids, dtype=torch.bool)
    text = tok.decode(ids[0].tolist())
    assert text == tok.decode(known)
    for m in METHODS:
        off = vr.token_char_offsets(tok, ids, mask, method=m)
        assert off[0, 2] == off[0, 1]  # the unknown id covers nothing
        assert off[0, -1] == len(text)


def test_padding_ids_outside_the_mask_are_never_read():
    tok = byte_bpe()
    ids = torch.tensor([[5, 6, -100, -100], [7, -1, 2**40, 0]])
    mask = torch.tensor([[1, 1, 0, 0], [1, 0, 0, 1]], dtype=torch.bool)
    off = vr.token_char_offsets(tok, ids, mask)
    assert off.shape == (2, 5)


@pytest.mark.parametrize("ids, message", [
    ([[5, -3]], "argument 'token_ids' holds -3 inside the mask; token ids must lie in \\[0, 2\\*\\*32\\)"),
    ([[5, 2**33]], "argument 'token_ids' holds 8589934592 inside the mask"),
    ([[5, 6], [7]], "argument 'token_ids' must be an \\[N, L\\] array; got rows of different lengths"),
    ([[0.5, 1.0]], "argument 'token_ids' must be an \\[N, L\\] integer array, got float64"),
])
def test_bad_token_ids_name_the_argument(ids, message):
    tok = byte_bpe()
    mask = np.ones((len(ids), 2), dtype=bool) if len({len(r) for r in ids}) == 1 else [[1, 1], [1]]
    with pytest.raises(ValueError, match="token_char_offsets: " + message):
        vr.token_char_offsets(tok, ids, mask)


def test_a_missing_tokenizer_is_a_type_error():
    with pytest.raises(TypeError, match="token_char_offsets: argument 'tokenizer' must have a decode"):
        vr.token_char_offsets(None, [[1, 2]], [[1, 1]])
    with pytest.raises(TypeError, match="argument 'texts' must be a sequence of str, got str"):
        vr.token_char_offsets(byte_bpe(), [[1, 2]], [[1, 1]], texts="ab")


def test_a_processor_aligns_through_its_tokenizers_fast_path():
    """A VLM processor (TRL's processing_class) holds its tokenizer as `.tokenizer` and has no
    backend_tokenizer: offsets through it equal the tokenizer's, computed by the piece table
    (the processor's own decode is never called: the decode-based fallback would call it per row)."""
    from tiny_lm import bpe_tokenizer

    texts = ['{"bbox_2d": [1, 2, 3, 4], "label": "猫"}', "no box here", '[{"bbox_2d": [5, 6, 7, 8]}]']
    tok = bpe_tokenizer(texts, 300)

    class Processor:
        def __init__(self, tokenizer):
            self.tokenizer, self.calls = tokenizer, 0

        def decode(self, *a, **k):
            self.calls += 1
            return self.tokenizer.decode(*a, **k)

        def batch_decode(self, *a, **k):
            self.calls += 1
            return self.tokenizer.batch_decode(*a, **k)

    enc = [tok.encode(t, add_special_tokens=False) for t in texts]
    L = max(map(len, enc))
    ids = torch.zeros(len(texts), L, dtype=torch.int64)
    mask = torch.zeros(len(texts), L, dtype=torch.bool)
    for i, e in enumerate(enc):
        ids[i, :len(e)], mask[i, :len(e)] = torch.tensor(e), True
    proc = Processor(tok)
    got = vr.token_char_offsets(proc, ids, mask)
    want = vr.token_char_offsets(tok, ids, mask)
    assert torch.equal(torch.as_tensor(got), torch.as_tensor(want))
    assert proc.calls == 0
    assert vt.text_tokenizer(proc) is tok and vt.text_tokenizer(tok) is tok
