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

Why this file passes 400 lines: the schema (``Field``, ``Schema`` with its presets and JSON form)
and ``ParseBuffers`` (how a schema becomes the native scanner's field specs and frames) are one
contract with the C++ reader; split, each half would restate the other's rules. Many objects per
answer live in :mod:`verireward.objects`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from verireward._native import _C
from verireward._backend import to_numpy

MAX_BINS = 2**53  # integers up to here are exact in float64
MAX_POINTS = 65536


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)) and math.isfinite(float(v))


KINDS = {"text": (0, 0), "box2d": (1, 2), "box3d": (1, 3), "points2d": (2, 2), "points3d": (2, 3)}
FRAMES = ("bins", "normalized", "pixels", "raw")
LAYOUTS = ("corners", "center_size_angles")


@dataclass(frozen=True)
class Field:
    """One field of the output schema and the coordinate frame its values are written in.

    Args:
        name: the JSON key.
        kind: ``"text"``, ``"box2d"``, ``"box3d"``, ``"points2d"`` or ``"points3d"``.
        aliases: other keys accepted for it (e.g. ``("bbox_2d",)``).
        frame: how numbers are written, and how they become ground-truth coordinates, per axis:

            * ``"bins"``: integers ``b`` in ``[0, bins]`` ⇒ ``lo + b / bins · (hi − lo)`` with ``ranges``;
            * ``"normalized"``: ``v`` in 0–1 ⇒ ``lo + v · (hi − lo)``;
            * ``"pixels"``: pixels of the image the model saw ⇒ scaled by ``image_size / resized_size``
              (identity when ``resized_size`` is None);
            * ``"raw"``: taken as written.
        bins: the number of bins (the paper's 1000).
        ranges: ``(lo, hi)`` per axis in the ground truth's frame (2 or 3 pairs); default ``(0, 1)``
            each, i.e. normalized ground truth. 3D fields should state their metric range.
        image_size, resized_size: ``(W, H)`` for the ``"pixels"`` frame.
        max_points: the most points a points field may hold.
        layout: a box's numbers: ``"corners"`` (x1, y1, x2, y2) / (x1, y1, z1, x2, y2, z2), or
            ``"center_size_angles"``: a rotated rectangle (cx, cy, w, h, θ) with ``seq="z"``, or an
            oriented 3D box (cx, cy, cz, sx, sy, sz, *angles) with ``seq`` (see
            :mod:`verireward.oriented`); frames raw, normalized or pixels (centres and sizes are
            converted, angles are taken as written).
        seq, degrees: the rotation of an oriented box, as in :func:`verireward.rotation_matrix`.
    """

    name: str
    kind: str
    aliases: Tuple[str, ...] = ()
    frame: str = "bins"
    bins: int = 1000
    ranges: Optional[Tuple[Tuple[float, float], ...]] = None
    image_size: Optional[Tuple[float, float]] = None
    resized_size: Optional[Tuple[float, float]] = None
    max_points: int = 32
    layout: str = "corners"
    seq: Optional[str] = None
    degrees: bool = False

    def __post_init__(self) -> None:
        # Every option is checked here, once, with the field and the option named: a bad schema
        # must fail where it is written, not later inside a kernel (or never).
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"Field: name must be a non-empty str, got {self.name!r}")
        err = lambda option, msg: ValueError(f"Field {self.name!r}: {option} {msg}")
        if self.kind not in KINDS:
            raise err("kind", f"must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.frame not in FRAMES:
            raise err("frame", f"must be one of {', '.join(FRAMES)}, got {self.frame!r}")
        aliases = (self.aliases,) if isinstance(self.aliases, str) else self.aliases
        if not isinstance(aliases, (tuple, list)) or not all(isinstance(a, str) and a for a in aliases):
            raise err("aliases", f"must be a tuple of non-empty str, got {self.aliases!r}")
        object.__setattr__(self, "aliases", tuple(aliases))
        if not _is_int(self.bins) or not 1 <= self.bins <= MAX_BINS:
            raise err("bins", f"must be an int in [1, {MAX_BINS}] (bins are exact integers in float64), got {self.bins!r}")
        if not _is_int(self.max_points) or not 1 <= self.max_points <= MAX_POINTS:
            raise err("max_points", f"must be an int in [1, {MAX_POINTS}], got {self.max_points!r}")
        dim = self.dim
        if self.ranges is not None:
            if self.frame not in ("bins", "normalized"):
                raise err("ranges", f"applies to the bins and normalized frames only (frame is {self.frame!r})")
            pairs = self.ranges
            ok = isinstance(pairs, (tuple, list)) and len(pairs) == dim and all(
                isinstance(r, (tuple, list)) and len(r) == 2 and all(_is_real(v) for v in r) for r in pairs)
            if not ok:
                raise err("ranges", f"must hold {dim} (lo, hi) pairs of finite numbers, got {self.ranges!r}")
            if not all(float(lo) < float(hi) for lo, hi in pairs):
                raise err("ranges", f"needs lo < hi on every axis, got {self.ranges!r}")
            object.__setattr__(self, "ranges", tuple((float(lo), float(hi)) for lo, hi in pairs))
        for option in ("image_size", "resized_size"):
            value = getattr(self, option)
            if value is None:
                continue
            if self.frame != "pixels":
                raise err(option, f"applies to the pixels frame only (frame is {self.frame!r})")
            if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_real(v) and float(v) > 0 for v in value)):
                raise err(option, f"must be (width, height), two finite numbers > 0, got {value!r}")
            object.__setattr__(self, option, (float(value[0]), float(value[1])))
        if self.frame == "pixels":
            if dim != 2:
                raise err("frame", "'pixels' is for 2D fields")
            if self.resized_size is not None and self.image_size is None:
                raise err("resized_size", "needs image_size")
        if self.layout not in LAYOUTS:
            raise err("layout", f"must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        if not isinstance(self.degrees, bool):
            raise err("degrees", f"must be a bool, got {self.degrees!r}")
        if self.layout == "corners":
            if self.seq is not None or self.degrees:
                raise err("seq", "and degrees describe rotations: they need layout='center_size_angles'")
        else:
            if self.kind not in ("box2d", "box3d"):
                raise err("layout", f"'center_size_angles' is for box fields, not {self.kind!r}")
            if self.frame == "bins":
                raise err("layout", "'center_size_angles' takes raw, normalized or pixel numbers, not bins (angles are not binned)")
            from verireward.oriented import parse_seq

            try:
                axes, _ = parse_seq(f"Field {self.name!r}", self.seq)
            except ValueError as e:
                raise err("seq", f"is not a rotation sequence ({e})") from None
            if dim == 2 and len(axes) != 1:
                raise err("seq", f"of a 2D box is its one in-plane angle: 'z', got {self.seq!r}")

    @property
    def dim(self) -> int:
        return KINDS[self.kind][1]

    @property
    def oriented(self) -> bool:
        return self.layout == "center_size_angles"

    @property
    def arity(self) -> int:
        """Numbers in a box value: 2·dim corners, or (cx, cy, w, h, θ) / (c, s, *angles) oriented."""
        if not self.oriented:
            return 2 * self.dim
        return 5 if self.dim == 2 else 6 + len(self.seq or "")

    def affine(self) -> Tuple[np.ndarray, np.ndarray]:
        """(offset, scale) per axis — for an oriented box per number: centres shift and scale,
        sizes scale, angles stay — such that ground truth = offset + scale · written value."""
        off, sc = self._axis_affine()
        if not self.oriented:
            return off, sc
        n_ang = self.arity - 2 * self.dim
        return (np.concatenate([off, np.zeros(self.dim + n_ang)]),
                np.concatenate([sc, np.abs(sc), np.ones(n_ang)]))

    def _axis_affine(self) -> Tuple[np.ndarray, np.ndarray]:
        dim = self.dim
        ranges = self.ranges or ((0.0, 1.0),) * dim
        lo = np.array([r[0] for r in ranges], dtype=np.float64)
        width = np.array([r[1] - r[0] for r in ranges], dtype=np.float64)
        if self.frame == "bins":
            return lo, width / self.bins
        if self.frame == "normalized":
            return lo, width
        if self.frame == "pixels" and self.resized_size is not None:
            return np.zeros(2), np.array(self.image_size, dtype=np.float64) / np.array(self.resized_size, dtype=np.float64)
        return np.zeros(dim), np.ones(dim)


@dataclass(frozen=True)
class Schema:
    """The fields a completion must contain, in order (the order of ``ParsedBatch.fields``)."""

    fields: Tuple[Field, ...]

    def __post_init__(self) -> None:
        fields = self.fields
        if isinstance(fields, Field):
            fields = (fields,)
        if not isinstance(fields, (tuple, list)) or not fields:
            raise TypeError(f"Schema: fields must be a non-empty tuple of Field, got {self.fields!r}")
        for i, f in enumerate(fields):
            if not isinstance(f, Field):
                raise TypeError(f"Schema: fields[{i}] must be a Field, got {type(f).__name__}")
        object.__setattr__(self, "fields", tuple(fields))
        keys: Dict[str, str] = {}
        for f in self.fields:
            for k in (f.name, *f.aliases):
                if k in keys:
                    raise ValueError(f"Schema: key {k!r} names both {keys[k]!r} and {f.name!r}")
                keys[k] = f.name

    @staticmethod
    def default() -> "Schema":
        """The GRCA paper's schema: answer, description, bbox2d, bbox3d, kpts2d, kpts3d; bins 0..1000
        mapped to [0, 1] on every axis (normalized ground truth)."""
        return Schema((
            Field("answer", "text"),
            Field("description", "text"),
            Field("bbox2d", "box2d", aliases=("bbox_2d",)),
            Field("bbox3d", "box3d", aliases=("bbox_3d",)),
            Field("kpts2d", "points2d", aliases=("kpts_2d", "keypoints_2d")),
            Field("kpts3d", "points3d", aliases=("kpts_3d", "keypoints_3d")),
        ))

    @staticmethod
    def qwen3vl_3d(with_2d: bool = False) -> "Schema":
        """Qwen3-VL's 3D grounding answer ``{"bbox_3d": [x, y, z, x_size, y_size, z_size, a, b, c],
        "label": ...}``: camera coordinates in metres, the three angles in degrees applied about x,
        then y, then z of the fixed camera frame (extrinsic ``"xyz"``). This is what the corner
        formula of Qwen3-VL's 3D-grounding cookbook computes (it rotates each corner about x by its
        first angle, then about y by the second, then about z by the third, after ``deg2rad``); its
        prose calls them pitch, yaw and roll. The cookbook's formula is followed, not the names.
        RPC uses the cookbook's camera: ``verireward.pinhole_camera(fx, fy, cx, cy)`` (R = I, t = 0);
        it needs a 2D box too: ``with_2d=True`` adds Qwen3-VL's ``bbox_2d`` (0–1000 bins over the
        image, normalized ground truth; pass ``image_size`` to the verifier for RPC)."""
        fields = [Field("bbox_3d", "box3d", aliases=("bbox3d",), frame="raw", layout="center_size_angles", seq="xyz",
                        degrees=True)]
        if with_2d:
            fields.append(Field("bbox_2d", "box2d", aliases=("bbox2d",)))
        return Schema(tuple(fields) + (Field("label", "text"),))

    @staticmethod
    def qwen25vl_2d(image_size: Optional[Tuple[float, float]] = None,
                    resized_size: Optional[Tuple[float, float]] = None) -> "Schema":
        """Qwen2.5-VL's grounding answer ``{"bbox_2d": [x1, y1, x2, y2], "label": ...}``: absolute
        pixels of the image the model saw (after its dynamic resize). With ``image_size`` (the
        original W, H) and ``resized_size`` (what it saw: :func:`verireward.qwen_resized_size`),
        boxes are converted to original pixels; without them they are compared as written (ground
        truth in the resized image's pixels). A batch of differently sized images passes per-text
        ``image_size``/``resized_size`` ``[N, 2]`` to the call instead (they replace these)."""
        return Schema((Field("bbox_2d", "box2d", aliases=("bbox2d",), frame="pixels", image_size=image_size,
                             resized_size=resized_size), Field("label", "text")))

    @staticmethod
    def qwen3vl_2d() -> "Schema":
        """Qwen3-VL's 2D grounding answer ``{"bbox_2d": [x1, y1, x2, y2], "label": ...}``: integers
        in 0–1000 over the image on both axes (bins 1000), ground truth normalized to [0, 1]."""
        return Schema((Field("bbox_2d", "box2d", aliases=("bbox2d",)), Field("label", "text")))

    @property
    def names(self) -> Tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def to_json(self) -> List[Dict[str, Any]]:
        """The schema as JSON-ready data: one object of :class:`Field` arguments per field (options
        left at their defaults omitted); :meth:`from_json` reads it back."""
        out = []
        for f in self.fields:
            d: Dict[str, Any] = {"name": f.name, "kind": f.kind}
            for key in _FIELD_OPTIONS[2:]:
                value = getattr(f, key)
                if value != Field.__dataclass_fields__[key].default:
                    d[key] = [list(r) for r in value] if key == "ranges" else list(value) if isinstance(value, tuple) else value
            out.append(d)
        return out

    @staticmethod
    def from_json(spec: Any) -> "Schema":
        """A schema from :meth:`to_json`'s data (a list of objects of Field arguments). Errors name
        the entry and the option."""
        if not isinstance(spec, list) or not spec:
            raise ValueError(f"a schema must be a non-empty JSON list of field objects, got {type(spec).__name__}")
        fields = []
        for i, d in enumerate(spec):
            if not isinstance(d, dict):
                raise ValueError(f"entry {i} must be an object of Field arguments, got {type(d).__name__}")
            unknown = sorted(set(d) - set(_FIELD_OPTIONS))
            if unknown:
                raise ValueError(f"entry {i}: unknown option {unknown[0]!r} (options: {', '.join(_FIELD_OPTIONS)})")
            if "name" not in d or "kind" not in d:
                raise ValueError(f"entry {i}: needs 'name' and 'kind'")
            d = dict(d)
            for key in ("aliases", "image_size", "resized_size"):
                if isinstance(d.get(key), list):
                    d[key] = tuple(d[key])
            if isinstance(d.get("ranges"), list):
                d["ranges"] = tuple(tuple(r) if isinstance(r, list) else r for r in d["ranges"])
            try:
                fields.append(Field(**d))
            except (TypeError, ValueError) as e:
                raise ValueError(f"entry {i}: {e}") from None
        return Schema(tuple(fields))


_FIELD_OPTIONS = ("name", "kind", "aliases", "frame", "bins", "ranges", "image_size", "resized_size", "max_points",
                  "layout", "seq", "degrees")


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


def _image_field(f: Field) -> bool:
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
    image = any(_image_field(f) for f in schema.fields)
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
                elif frames is not None and frames[0] == "image" and _image_field(f):
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
