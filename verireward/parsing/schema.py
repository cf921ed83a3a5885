"""The schema of a structured answer (GRCA paper §3.2, §3.7): its fields, their kinds, frames
and layouts, the presets for Qwen-family answers, and its JSON form."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from verireward.ops.oriented import parse_seq


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
            oriented 3D box (cx, cy, cz, sx, sy, sz, ``*angles``) with ``seq`` (see
            :mod:`verireward.ops.oriented`); frames raw, normalized or pixels (centres and sizes are
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
        """Numbers in a box value: 2·dim corners, or (cx, cy, w, h, θ) / (c, s, ``*angles``) oriented."""
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
    def default(metric_range: Optional[Tuple[float, float]] = None, max_points: int = 32) -> "Schema":
        """The GRCA paper's schema (§3.2): answer, description, bbox2d, bbox3d, kpts2d, kpts3d, each
        coordinate a bin in 0..1000. The 2D fields' bins span [0, 1] of the image (normalized ground
        truth); the 3D fields' span [0, 1] on each axis too, or ``metric_range = (lo, hi)`` on each
        axis (e.g. metres: :mod:`verireward.data` writes its scenes over (−2, 2)). Points fields
        hold at most ``max_points`` points.

        This is the one default: :func:`verireward.parse`, :class:`verireward.GroundingVerifier`,
        :func:`verireward.grca_advantages`, ``verireward score``, the TRL/verl adapters and
        :class:`verireward.trainers.GRCATrainer` all read it when given no schema."""
        metric = None if metric_range is None else (tuple(metric_range),) * 3
        return Schema((
            Field("answer", "text"),
            Field("description", "text"),
            Field("bbox2d", "box2d", aliases=("bbox_2d",)),
            Field("bbox3d", "box3d", aliases=("bbox_3d",), ranges=metric),
            Field("kpts2d", "points2d", aliases=("kpts_2d", "keypoints_2d"), max_points=max_points),
            Field("kpts3d", "points3d", aliases=("kpts_3d", "keypoints_3d"), ranges=metric, max_points=max_points),
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


__all__ = ["Field", "Schema"]
