"""Structured-output parsing (GRCA paper §3.2, §3.7): the schema, and ``parse`` over a batch of texts.

The scanning is native C++ (``csrc/parse/``): it finds the JSON object in a model's output (inside
prose or a code fence), reads each field of the schema, and reports its value text's span in Python
``str`` indices. It never raises on what a model wrote and never uses ``eval``. Rules:

* the object is the first ``{`` from which a complete object parses; double- or single-quoted
  strings, trailing commas and ``(x, y, z)`` tuples are accepted. A truncated object, with no
  closing brace, leaves every field invalid;
* a field is read from the object's top-level keys (its name or an alias): missing, duplicated,
  of the wrong arity or unparsable ⇒ invalid, span ``(0, 0)``, values NaN, point count 0;
* numeric values: a flat list ``[x1, y1, x2, y2]`` or a list of tuples ``[(x1, y1), (x2, y2)]``;
  boxes need exactly 2·D numbers, points a multiple of D (at most ``max_points``);
* a quantized field (frame ``"bins"``) takes integers in ``[0, bins]``; anything else makes it
  invalid. Values are converted once, here, into the ground truth's frame (see :class:`Field`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from verireward._native import _C
from verireward._backend import to_numpy
from verireward.parsing.schema import KINDS, Field, Schema


@dataclass
class ParsedBatch:
    """What ``parse`` read. ``values[name]``: boxes ``[N, 2D]``, points ``[N, K, D]`` (with
    ``counts[name] [N]``), both float64 in the ground truth's frame and NaN where invalid; text
    fields a list of the value texts (None where invalid). ``valid [N, F]`` bool and
    ``char_spans [N, F, 2]`` int64, in schema order."""

    fields: Tuple[str, ...]
    values: Dict[str, Any]
    counts: Dict[str, Any]
    valid: Any
    char_spans: Any


def parse(texts: Sequence[str], schema: Optional[Schema] = None, *, array: str = "torch",
          answer_tag: Optional[str] = None, image_size: Any = None, resized_size: Any = None) -> ParsedBatch:
    """Reads every field of ``schema`` (default: the paper's) from each text. Never raises for what a
    text contains; ``TypeError`` if ``texts`` is not a sequence of ``str``.

    Args:
        texts: N decoded completions.
        schema: the fields to read; :meth:`Schema.default` when None.
        array: ``"torch"`` (CPU tensors) or ``"numpy"`` for the returned arrays.
        answer_tag: e.g. ``"answer"``: only the final answer is read. The text after the last
            ``</think>`` (all of it when there is none) is searched; a ``<think>`` in it (reasoning
            never closed) means no answer. The answer is the inside of the last ``<answer>`` there,
            up to the first ``</answer>`` after it. When that ``</answer>`` is missing the final
            answer was cut off: nothing is valid (an earlier, complete ``<answer>`` is never read
            instead, and one inside ``<think>…</think>`` never counts). A text without an answer has
            nothing valid. Spans stay indices into the whole text.
        image_size, resized_size: per-text frames for the schema's pixels-frame fields, each
            ``(W, H)`` or ``[N, 2]`` (both or neither): a box written in pixels of text i's resized
            image is scaled by ``image_size[i] / resized_size[i]``, instead of the field's own.
    """
    schema = schema or Schema.default()
    tag = check_call("parse", texts, array, answer_tag)
    out = ParseBuffers(schema, len(texts), row_frames("parse", schema, len(texts), image_size, resized_size))
    _C.parse_texts(encode_texts(texts), out.specs, out.valid.ctypes.data, out.spans.ctypes.data, tag)
    return out.batch(texts, array)


def check_call(op: str, texts: Any, array: Any, answer_tag: Any) -> str:
    """The checks every parsing entry point makes (``texts``, ``array``, ``answer_tag``); returns
    the tag name ("" for none)."""
    check_texts(op, texts)
    if array not in ("torch", "numpy"):
        raise ValueError(f"{op}: argument 'array' must be 'torch' or 'numpy', got {array!r}")
    return check_answer_tag(op, answer_tag)


def check_answer_tag(op: str, answer_tag: Any) -> str:
    """The tag name ("" for none): a non-empty name without angle brackets or spaces."""
    if answer_tag is None:
        return ""
    if not isinstance(answer_tag, str) or not answer_tag or any(c in answer_tag for c in "<>/ \t\n"):
        raise ValueError(f"{op}: argument 'answer_tag' must be a tag name like 'answer' (no brackets), got {answer_tag!r}")
    return answer_tag


def check_texts(op: str, texts: Any) -> None:
    """``texts`` must be a sequence of str (TypeError naming the argument or the entry)."""
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise TypeError(f"{op}: argument 'texts' must be a sequence of str, got {type(texts).__name__}")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"{op}: texts[{i}] must be a str, got {type(t).__name__}")


def encode_texts(texts: Sequence[str]) -> list:
    """The texts as the native code reads them: each str itself (the compiled module reads its
    UTF-8 without a copy), or its bytes with lone surrogates kept where a str has them (their UTF-8
    does not exist: ``surrogatepass``). Never an error."""
    out = list(texts)
    for i, t in enumerate(out):
        if not t.isascii():
            try:
                t.encode("utf-8")
            except UnicodeEncodeError:
                out[i] = t.encode("utf-8", "surrogatepass")
    return out


def _per_number(f: Field, axis_scale: np.ndarray) -> np.ndarray:
    """``[texts, arity-or-dim]``: a field's per-number scale from per-text axis scales ``[texts, 2]``
    (as :meth:`Field.affine` builds it: corners per axis; centres, then sizes (abs), then angles 1)."""
    if not f.oriented:
        return axis_scale
    n_ang = f.arity - 2 * f.dim
    return np.concatenate([axis_scale, np.abs(axis_scale), np.ones((axis_scale.shape[0], n_ang))], 1)


def image_field(f: Field) -> bool:
    """A 2D field written over the image as a fraction of it (0–1000 bins or [0, 1]) from 0: given
    the image's size its values convert to that image's pixels."""
    return f.dim == 2 and KINDS[f.kind][0] != 0 and f.frame in ("bins", "normalized") and \
        all(r[0] == 0.0 for r in (f.ranges or ((0.0, 1.0),) * 2))


RowFrames = Tuple[str, np.ndarray]  # ("pixels", image / resized) or ("image", image size), [n, 2] each


def row_frames(op: str, schema: Schema, n: int, image_size: Any, resized_size: Any) -> Optional[RowFrames]:
    """Per-text frames, or None when neither size is given. Each size is ``(W, H)`` (every text) or
    ``[n, 2]`` (one per text: Qwen's dynamic resolution resizes every image differently;
    :func:`verireward.qwen_resized_size` gives what it saw).

    - A schema with a pixels-frame field needs both: its values are scaled by ``image_size /
      resized_size`` (pixels of what the model saw -> original pixels).
    - Otherwise, a schema with a 2D field written as a fraction of the image (Qwen3-VL's 0–1000
      bins, or [0, 1]) takes ``image_size`` (``resized_size`` is not needed, and ignored): its
      values are converted to original pixels, ``image_size · value / bins``, so ground truth in
      original pixels compares as it is.
    """
    if image_size is None and resized_size is None:
        return None
    pixels = any(f.frame == "pixels" for f in schema.fields)
    image = any(image_field(f) for f in schema.fields)
    if pixels and (image_size is None or resized_size is None):
        raise ValueError(f"{op}: pass both 'image_size' and 'resized_size' (per text frames), or neither")
    if not pixels and not image:
        raise ValueError(f"{op}: 'image_size'/'resized_size' apply to pixels-frame fields or 2D fields over the image "
                         "(bins, normalized); the schema has none")
    if image_size is None:
        raise ValueError(f"{op}: 'resized_size' needs 'image_size' (the original sizes)")
    out = []
    for name, v in (("image_size", image_size), ("resized_size", resized_size)):
        if v is None:
            continue
        try:
            a = np.asarray(to_numpy(v), dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{op}: argument '{name}' must be (W, H) or [{n}, 2] numbers") from None
        if a.shape == (2,):
            a = np.broadcast_to(a, (n, 2))
        if a.shape != (n, 2) or not (np.isfinite(a).all() and (a > 0).all()):
            raise ValueError(f"{op}: argument '{name}' must be (W, H) or [{n}, 2] finite numbers > 0, got shape {list(a.shape)}")
        out.append(a)
    if pixels:
        return "pixels", np.ascontiguousarray(out[0] / out[1])
    return "image", np.ascontiguousarray(out[0])


class TextValues(Sequence):
    """A text field's values, sliced from the completions when read: ``texts[i][start:end]``, or
    None where the field is invalid."""

    def __init__(self, texts: Sequence[str], spans: np.ndarray, valid: np.ndarray) -> None:
        self._texts, self._spans, self._valid = texts, spans, valid

    def __len__(self) -> int:
        return len(self._texts)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if not self._valid[i]:
            return None
        return self._texts[i][int(self._spans[i, 0]):int(self._spans[i, 1])]

    def __eq__(self, other: Any) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented

    def __repr__(self) -> str:
        return repr(list(self))


class ParseBuffers:
    """The native parser's inputs and outputs for n texts: one FieldSpec per schema field, pointing
    into the final NaN-padded value arrays, and ``valid [n, F]``, ``spans [n, F, 2]``."""

    def __init__(self, schema: Schema, n: int, frames: Optional[RowFrames] = None) -> None:
        """``frames`` (:func:`row_frames`): each text's pixel scale (image / resized size) for the
        schema's pixels-frame fields, or its image size for its 2D fields over the image, instead
        of their own scale."""
        self.schema = schema
        self.specs: list = []
        self.keep: list = []
        self.values: Dict[str, Any] = {}
        self.counts: Dict[str, Any] = {}
        for f in schema.fields:  # the kernel writes each numeric field's final array (NaN-padded)
            kind, dim = KINDS[f.kind]
            spec = _C.FieldSpec()
            spec.kind, spec.dim = kind, max(dim, 1)
            spec.quantized, spec.bins = f.frame == "bins", int(f.bins)
            spec.keys = [f.name, *f.aliases]
            if kind:
                k = 2 if kind == 1 else int(f.max_points)
                spec.max_values = f.arity if kind == 1 else k * dim
                offset, scale = f.affine()
                spec.offset, spec.scale = offset.tolist(), scale.tolist()
                row_scale = None
                if frames is not None and frames[0] == "pixels" and f.frame == "pixels":
                    row_scale = frames[1]
                elif frames is not None and frames[0] == "image" and image_field(f):
                    row_scale = frames[1] * scale[:2][None, :]  # image size x the field's own (1/bins)
                if row_scale is not None:
                    per = np.ascontiguousarray(_per_number(f, row_scale))
                    self.keep.append(per)
                    spec.row_scale = per.ctypes.data
                v = np.empty((n, f.arity) if kind == 1 else (n, k, dim), dtype=np.float64)
                spec.values = v.ctypes.data
                self.values[f.name] = v
                if kind == 2:
                    c = np.empty(n, dtype=np.int64)
                    spec.counts = c.ctypes.data
                    self.counts[f.name] = c
            self.specs.append(spec)
        self.valid = np.empty((n, len(schema.fields)), dtype=np.uint8)
        self.spans = np.empty((n, len(schema.fields), 2), dtype=np.int64)

    def batch(self, texts: Sequence[str], array: str = "torch", lazy_texts: bool = False) -> ParsedBatch:
        """The ParsedBatch once the native code has filled the buffers (text fields sliced here, or
        with ``lazy_texts`` when an entry is read: the GRCA pipeline does not read them)."""
        values, counts, spans = dict(self.values), dict(self.counts), self.spans
        ok = self.valid.view(bool)
        for j, f in enumerate(self.schema.fields):
            if KINDS[f.kind][0] == 0:
                values[f.name] = TextValues(texts, spans[:, j], self.valid[:, j])
                if not lazy_texts:
                    values[f.name] = list(values[f.name])
        if array == "torch":
            import torch

            conv = torch.from_numpy
            values = {k: (conv(v) if isinstance(v, np.ndarray) else v) for k, v in values.items()}
            return ParsedBatch(self.schema.names, values, {k: conv(v) for k, v in counts.items()}, conv(ok), conv(spans))
        return ParsedBatch(self.schema.names, values, counts, ok, spans)


__all__ = ["Field", "Schema", "ParsedBatch", "parse"]
