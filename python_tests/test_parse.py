"""verireward.parse (C++ scanner) against the independent Python parser in parse_oracle.py, on
generated completions, mutated completions and arbitrary text; plus the schema's frames."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import verireward as vr
from verireward.parsing.schema import KINDS
import parse_oracle

SCHEMA = vr.Schema.default()


def oracle_fields(schema):
    out = []
    for f in schema.fields:
        kind, dim = KINDS[f.kind]
        max_values = 2 * dim if kind == 1 else f.max_points * dim
        out.append(((f.name, *f.aliases), kind, max(dim, 1), max_values, f.frame == "bins", f.bins))
    return out


def assert_matches_oracle(texts, schema=SCHEMA):
    got = vr.parse(texts, schema, array="numpy")
    fields = oracle_fields(schema)
    for i, text in enumerate(texts):
        want = parse_oracle.parse_one(text, fields)
        for j, f in enumerate(schema.fields):
            ok, span, nums = want[j]
            assert bool(got.valid[i, j]) == ok, (text, f.name)
            assert tuple(got.char_spans[i, j]) == span, (text, f.name)
            kind, dim = KINDS[f.kind]
            if kind == 0:
                assert got.values[f.name][i] == (text[span[0]:span[1]] if ok else None)
                continue
            offset, scale = f.affine()
            vals = got.values[f.name][i].reshape(-1, dim)
            k = len(nums) // dim
            if kind == 2:
                assert got.counts[f.name][i] == (k if ok else 0)
            expect = (np.array(nums, dtype=np.float64).reshape(-1, dim) * scale + offset) if k else np.zeros((0, dim))
            np.testing.assert_array_equal(vals[:k], expect)
            assert np.all(np.isnan(vals[k:]))


def number_text(rng: random.Random, v) -> str:
    forms = [str(v), f"{v}.0", f"{v:d}" if isinstance(v, int) else str(v)]
    return rng.choice(forms)


@st.composite
def completion(draw):
    """A completion in the paper's schema with random formatting, and what it holds."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    truth = {
        "answer": draw(st.text(max_size=8)),
        "description": draw(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)),
        "bbox2d": [rng.randint(0, 1000) for _ in range(4)],
        "bbox3d": [rng.randint(0, 1000) for _ in range(6)],
        "kpts2d": [rng.randint(0, 1000) for _ in range(2 * rng.randint(0, 6))],
        "kpts3d": [rng.randint(0, 1000) for _ in range(3 * rng.randint(0, 6))],
    }
    keys = list(truth)
    rng.shuffle(keys)
    sp = lambda: rng.choice(["", " ", "\n  ", "\t"])

    def seq(nums, dim):
        nested = rng.random() < 0.5 and nums
        tup = rng.random() < 0.4
        if nested:
            o, c = ("(", ")") if tup else ("[", "]")
            inner = [o + ("," + sp()).join(number_text(rng, x) for x in nums[k:k + dim]) + c for k in range(0, len(nums), dim)]
            body = ("," + sp()).join(inner)
        else:
            body = ("," + sp()).join(number_text(rng, x) for x in nums)
        return "[" + sp() + body + ("," if nums and rng.random() < 0.1 else "") + sp() + "]"

    parts = []
    for k in keys:
        q = "'" if rng.random() < 0.1 else '"'
        if k in ("answer", "description"):
            v = json.dumps(truth[k], ensure_ascii=rng.random() < 0.5)
        else:
            v = seq(truth[k], 2 if k.endswith("2d") else 3)
        parts.append(f"{q}{k}{q}{sp()}:{sp()}{v}")
    obj = "{" + sp() + ("," + sp()).join(parts) + sp() + "}"
    wrap = rng.choice(["{}", "```json\n{}\n```", "Here you go: {} Hope it helps {{not json", "The set {{a, b}} then {}"])
    return wrap.replace("{}", obj, 1) if wrap != "{}" else obj, truth


@given(c=completion())
def test_generated_completions_parse_to_what_they_hold(c):
    text, truth = c
    assert_matches_oracle([text])
    got = vr.parse([text], array="numpy")
    want = [k not in ("kpts2d", "kpts3d") or len(truth[k]) > 0 for k in SCHEMA.names]  # an empty point list: invalid
    assert got.valid[0].tolist() == want
    np.testing.assert_allclose(got.values["bbox2d"][0], np.array(truth["bbox2d"]) / 1000)
    np.testing.assert_allclose(got.values["bbox3d"][0], np.array(truth["bbox3d"]) / 1000)
    assert got.counts["kpts3d"][0] == len(truth["kpts3d"]) // 3


def mutate(rng: random.Random, text: str) -> str:
    ops = rng.randint(1, 3)
    for _ in range(ops):
        kind = rng.choice(["truncate", "delete", "insert", "flip", "duplicate"])
        i = rng.randint(0, len(text))
        if kind == "truncate":
            text = text[:i]
        elif kind == "delete" and text:
            text = text[:i] + text[i + 1:]
        elif kind == "insert":
            text = text[:i] + rng.choice(list('{}[](),:"\'\\ -+.e0123456789') + ["🍵", "é", "\u0000", "1e999", "NaN"]) + text[i:]
        elif kind == "flip" and text:
            j = min(i, len(text) - 1)
            text = text[:j] + chr((ord(text[j]) + rng.randint(1, 50)) % 0x10000 or 1) + text[j + 1:]
        elif kind == "duplicate":
            text = text.replace('"bbox2d"', '"bbox2d": [1, 2, 3, 4], "bbox2d"', 1)
    return text


@given(c=completion(), seed=st.integers(0, 2**32))
def test_mutated_completions_agree_with_oracle(c, seed):
    rng = random.Random(seed)
    assert_matches_oracle([mutate(rng, c[0]) for _ in range(4)])


TOKENS = list('{}[]()"\':, 0123456789.-e') + ['"bbox2d"', '"kpts2d"', "🍵", "\\u00e9"]


@given(texts=st.lists(st.lists(st.sampled_from(TOKENS), max_size=60).map("".join), max_size=5))
def test_arbitrary_text_never_raises_and_agrees(texts):
    assert_matches_oracle(texts)


def test_hand_cases():
    texts = [
        '{"bbox2d": [1, 2, 3, 4]}',
        '{"bbox2d": [1.5, 2, 3, 4]}',                 # a bin must be an integer
        '{"bbox2d": [1, 2, 3, 1001]}',                # outside [0, bins]
        '{"bbox2d": [[1, 2], [3, 4]]}',               # list of pairs
        '{"bbox2d": [(1, 2), (3, 4, 5)]}',            # ragged tuples
        '{"bbox2d": [1, 2, 3, 4], "bbox_2d": [1, 2, 3, 4]}',  # duplicated through an alias
        '{"bbox2d": [1, 2, 3, 4]',                    # truncated: no object
        '{"bbox2d": [1e999, 2, 3, 4]}',               # overflow
        '{"bbox2d": "[1, 2, 3, 4]"}',                 # a string, not a list
        "{'bbox2d': [1, 2, 3, 4,],}",                 # single quotes, trailing commas
        '{"kpts2d": [1, 2, 3]}',                      # not a multiple of 2
        '{"kpts2d": []}',                             # no points: invalid (nothing written), count 0
        "[" * 100 + '{"bbox2d": [1, 2, 3, 4]}',       # noise before the object
        '{"a": ' + "[" * 40 + "]" * 40 + ', "bbox2d": [1, 2, 3, 4]}',  # nested deeper than 32
    ]
    got = vr.parse(texts, array="numpy")
    b = SCHEMA.names.index("bbox2d")
    k = SCHEMA.names.index("kpts2d")
    assert got.valid[:, b].tolist() == [True, False, False, True, False, False, False, False, False, True,
                                        False, False, True, False]
    assert got.valid[10, k] == False and got.valid[11, k] == False and got.counts["kpts2d"][11] == 0
    assert tuple(got.char_spans[11, k]) == (0, 0)
    assert tuple(got.char_spans[0, b]) == (11, 23) and texts[0][11:23] == "[1, 2, 3, 4]"
    np.testing.assert_allclose(got.values["bbox2d"][3], [0.001, 0.002, 0.003, 0.004])
    assert np.all(np.isnan(got.values["bbox2d"][1]))
    assert_matches_oracle(texts)


def test_spans_are_python_str_indices_with_non_bmp_and_surrogates():
    text = '🍵🍵 {"answer": "\\ud83c\\udf75 é", "bbox2d": [0, 0, 10, 10]} \udc80'
    got = vr.parse([text], array="numpy")
    b = SCHEMA.names.index("bbox2d")
    s, e = got.char_spans[0, b]
    assert text[s:e] == "[0, 0, 10, 10]"
    assert got.values["answer"][0] == '"\\ud83c\\udf75 é"'
    assert_matches_oracle([text])


def test_frames_convert_into_the_ground_truth_frame():
    schema = vr.Schema((
        vr.Field("box", "box2d", frame="pixels", image_size=(1280, 960), resized_size=(640, 480)),
        vr.Field("b3", "box3d", frame="bins", bins=100, ranges=((-5, 5), (0, 10), (0, 2))),
        vr.Field("n", "box2d", frame="normalized", ranges=((0, 200), (0, 100))),
        vr.Field("r", "points2d", frame="raw"),
    ))
    got = vr.parse(['{"box": [10, 20.5, 30, 40], "b3": [0, 50, 100, 100, 0, 50], "n": [0.5, 0.5, 1, 1],'
                    ' "r": [[-1.5, 2e3]]}'], schema, array="numpy")
    np.testing.assert_allclose(got.values["box"][0], [20, 41, 60, 80])
    np.testing.assert_allclose(got.values["b3"][0], [-5, 5, 2, 5, 0, 1])
    np.testing.assert_allclose(got.values["n"][0], [100, 50, 200, 100])
    np.testing.assert_allclose(got.values["r"][0, 0], [-1.5, 2000])


def test_parse_output_kinds_and_errors():
    p = vr.parse(['{"bbox2d": [1, 2, 3, 4]}'])
    import torch

    assert isinstance(p.valid, torch.Tensor) and p.valid.dtype == torch.bool and p.char_spans.dtype == torch.int64
    assert p.values["kpts2d"].shape == (1, 32, 2) and p.counts["kpts2d"].dtype == torch.int64
    assert vr.parse([], array="numpy").valid.shape == (0, 6)
    with pytest.raises(TypeError, match="parse: argument 'texts' must be a sequence of str, got str"):
        vr.parse("one text")
    with pytest.raises(TypeError, match=r"parse: texts\[1\] must be a str, got bytes"):
        vr.parse(["a", b"b"])
    with pytest.raises(ValueError, match="parse: argument 'array' must be 'torch' or 'numpy', got 'jax'"):
        vr.parse(["a"], array="jax")
    with pytest.raises(ValueError, match="Field 'x': kind must be one of text, box2d, box3d, points2d, points3d, got 'box'"):
        vr.Field("x", "box")
    with pytest.raises(ValueError, match="Schema: key 'b' names both 'a' and 'b'"):
        vr.Schema((vr.Field("a", "text", aliases=("b",)), vr.Field("b", "text")))
    with pytest.raises(ValueError, match=r"Field 'x': ranges must hold 3 \(lo, hi\) pairs"):
        vr.Field("x", "box3d", ranges=((0, 1),))


def test_hostile_sizes_finish():
    texts = ["{" * 200_000, '{"a": "' + "x" * 200_000, "[" * 50_000 + "1" + "]" * 50_000, '{"bbox2d": [' + "1, " * 100_000 + "1]}"]
    got = vr.parse(texts, array="numpy")
    assert not got.valid.any()


@given(digits=st.text("0123456789", min_size=1, max_size=25), sign=st.sampled_from(["", "-", "+"]),
       tail=st.sampled_from(["", ".0", ".5", "e0", "e-3", "E+2"]))
def test_numbers_read_exactly_as_python_float(digits, sign, tail):
    # Short integers take a fast path in the scanner; every form must equal Python's float().
    schema = vr.Schema((vr.Field("v", "box2d", frame="raw"),))
    lit = sign + digits + tail
    parsed = vr.parse([f'{{"v": [{lit}, 0, 1, {lit}]}}'], schema, array="numpy")
    want = float(lit)
    if math.isfinite(want):
        assert parsed.valid[0, 0]
        got = parsed.values["v"][0]
        assert got[0] == want and got[3] == want  # (the frame's offset + scale·v makes -0.0 into 0.0)
    else:
        assert not parsed.valid[0, 0]
