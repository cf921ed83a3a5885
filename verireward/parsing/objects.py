"""Many objects per answer: ``parse_objects`` reads every object of each completion with the one
native scanner and field reader that :func:`verireward.parse` uses (``csrc/parse/``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from verireward._native import _C
from verireward.parsing.schema import KINDS, Schema
from verireward.parsing.fields import ParseBuffers, check_call, encode_texts, row_frames


@dataclass
class ParsedObjects:
    """The objects of N answers, M = ``max_objects`` slots each. ``counts [N]``: the objects stored,
    ``min(n_objects, M)`` (what :func:`match_boxes` takes as ``pred_counts``); ``n_objects [N]``: every
    object written; ``values[name]``: a box field ``[N, M, arity]``, a points field
    ``[N, M, max_points, dim]`` (NaN where invalid or past the objects), a text field a list of N
    lists of ``counts[i]`` raw value texts (None where missing); ``point_counts[name] [N, M]``
    (points fields); ``valid [N, M, F]``; ``char_spans [N, M, F, 2]`` (field values) and
    ``object_spans [N, M, 2]`` (each whole object), Python ``str`` indices into the text;
    ``labels``: the first text field's values decoded (see :meth:`text`), [] per row when the
    schema has no text field."""

    names: Tuple[str, ...]
    values: Dict[str, Any]
    point_counts: Dict[str, Any]
    valid: Any
    char_spans: Any
    object_spans: Any
    counts: Any
    n_objects: Any
    labels: List[List[Optional[str]]]
    decoded: Dict[str, List[List[Optional[str]]]] = field(default_factory=dict, repr=False)

    def text(self, name: str) -> List[List[Optional[str]]]:
        """A text field's values as strings, decoded by the native scanner: stripped of ASCII
        whitespace, a quoted string decoded as JSON and Python decode it, in either quote
        (``'"cat"'`` -> ``cat``, ``'say \\"hi\\"'`` -> ``say "hi"``), a quoted value that does not
        decode as its inside, anything else as written; None where missing. What ``match_boxes``
        takes as labels."""
        if name not in self.decoded:
            raise ValueError(f"ParsedObjects.text: argument 'name' must be a text field, got {name!r}")
        return [list(row) for row in self.decoded[name]]


def parse_objects(texts: Sequence[str], schema: Optional[Schema] = None, *, max_objects: int = 64,
                  array: str = "torch", answer_tag: Optional[str] = None, image_size: Any = None,
                  resized_size: Any = None) -> ParsedObjects:
    """Reads every object of each answer (many boxes per answer). Never raises for what a text
    contains; ``TypeError``/``ValueError`` naming the argument for misuse.

    An object is a JSON object carrying a key (name or alias) of one of the schema's numeric
    fields, found at any depth of any JSON value in the text (a list of them, ``{"objects": [...]}``,
    several in prose or fences), and not searched inside once found. A schema with a 2D corner
    box field also reads Qwen2-VL's box-token groups
    ``<|object_ref_start|>label<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>`` (the
    label goes to the schema's first text field, the box to its first 2D box field; a group
    without its own label takes the last label written before it, so one reference followed by
    several boxes labels them all) and, only when the answer holds neither a JSON object nor a
    box-token group, the same form as decoded with ``skip_special_tokens``:
    ``label(x1,y1),(x2,y2)``, the label being the text before it back to the previous object, a
    line break or one of ``.;:,)>`` (empty: the previous box's). Objects are in the order
    written. Each object's fields are read exactly as :func:`parse` reads the one object's: an
    object whose box is malformed (``NaN``, ``None``, a string) is still an object (a false
    positive for :func:`match_boxes`), with that field invalid. See SEMANTICS.md, "Many objects
    per answer".

    Args:
        texts: N decoded completions.
        schema: the fields of one object; :meth:`Schema.default` when None.
        max_objects: M, the slots per answer (objects past them are counted in ``n_objects``, not
            stored; ``counts`` is what was stored).
        array: ``"torch"`` or ``"numpy"``.
        answer_tag, image_size, resized_size: as in :func:`parse` (frames per text).
    """
    schema = schema or Schema.default()
    op = "parse_objects"
    tag = check_call(op, texts, array, answer_tag)
    if isinstance(max_objects, bool) or not isinstance(max_objects, (int, np.integer)) or not 1 <= max_objects <= 1 << 20:
        raise ValueError(f"{op}: argument 'max_objects' must be an int in [1, 2**20], got {max_objects!r}")
    n, M, F = len(texts), int(max_objects), len(schema.fields)
    out = ParseBuffers(schema, n * M, row_frames(op, schema, n, image_size, resized_size))
    object_spans = np.empty((n, M, 2), dtype=np.int64)
    n_objects = np.empty(n, dtype=np.int64)
    decoded_lists = _C.parse_objects(encode_texts(texts), out.specs, out.valid.ctypes.data, out.spans.ctypes.data,
                                     object_spans.ctypes.data, n_objects.ctypes.data, M, tag)
    text_names = [f.name for f in schema.fields if KINDS[f.kind][0] == 0]
    decoded = {name: d for name, (d, _) in zip(text_names, decoded_lists)}
    raw = {name: r for name, (_, r) in zip(text_names, decoded_lists)}  # each value as written, cut natively
    stored = np.minimum(n_objects, M)
    valid = out.valid.view(bool).reshape(n, M, F)
    spans = out.spans.reshape(n, M, F, 2)
    values: Dict[str, Any] = {}
    point_counts: Dict[str, Any] = {k: v.reshape(n, M) for k, v in out.counts.items()}
    for j, f in enumerate(schema.fields):
        if KINDS[f.kind][0] == 0:
            values[f.name] = raw[f.name]
        else:
            values[f.name] = out.values[f.name].reshape((n, M) + out.values[f.name].shape[1:])
    if array == "torch":
        import torch

        conv = torch.from_numpy
        values = {k: (conv(v) if isinstance(v, np.ndarray) else v) for k, v in values.items()}
        point_counts = {k: conv(v) for k, v in point_counts.items()}
        valid, spans, object_spans, n_objects, stored = map(conv, (valid, spans, object_spans, n_objects, stored))
    labels = decoded[text_names[0]] if text_names else [[] for _ in range(n)]
    return ParsedObjects(schema.names, values, point_counts, valid, spans, object_spans, stored, n_objects, labels,
                         decoded)


__all__ = ["ParsedObjects", "parse_objects"]
