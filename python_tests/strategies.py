"""Hypothesis strategies for what models and datasets produce: swapped corners, zero-size boxes,
touching faces, identical and nested boxes, huge offsets, NaN and infinities."""

from __future__ import annotations

import math

from hypothesis import strategies as st

coord = st.floats(-1000.0, 1000.0, allow_nan=False, allow_infinity=False)
extent = st.floats(0.0, 500.0, allow_nan=False, allow_infinity=False)
hostile = st.sampled_from([math.nan, math.inf, -math.inf, 1e30, -1e30, 1e300, 0.0, -0.0, 5e-324])


@st.composite
def box(draw, dim: int):
    """One box as 2*dim floats, corners in either order, sometimes degenerate."""
    lo = [draw(coord) for _ in range(dim)]
    hi = [lo[k] + draw(extent) for k in range(dim)]
    out = []
    for k in range(dim):
        out.append((lo[k], hi[k]) if draw(st.booleans()) else (hi[k], lo[k]))
    return [p[0] for p in out] + [p[1] for p in out]


@st.composite
def related_pair(draw, dim: int, allow_hostile: bool = True):
    """Two boxes in one of the relations that matter: independent, identical, nested, touching,
    sharing one coordinate, shifted far from the origin, or with a hostile value."""
    a = draw(box(dim))
    kind = draw(st.sampled_from(["independent", "identical", "nested", "touching", "shared", "offset", "hostile"]))
    if kind == "identical":
        b = list(a)
    elif kind == "nested":
        lo = [min(a[k], a[k + dim]) for k in range(dim)]
        hi = [max(a[k], a[k + dim]) for k in range(dim)]
        f = draw(st.floats(0.0, 0.5))
        b = [lo[k] + f * (hi[k] - lo[k]) for k in range(dim)] + [hi[k] - f * (hi[k] - lo[k]) for k in range(dim)]
    elif kind == "touching":
        k = draw(st.integers(0, dim - 1))
        hi_k = max(a[k], a[k + dim])
        b = draw(box(dim))
        w = abs(b[k + dim] - b[k])
        b[k], b[k + dim] = hi_k, hi_k + w
    elif kind == "shared":
        b = draw(box(dim))
        k = draw(st.integers(0, 2 * dim - 1))
        b[k] = a[k]
    elif kind == "offset":
        off = draw(st.sampled_from([1e4, 1e5, 1e6, -1e6]))
        b = draw(st.one_of(st.just(list(a)), box(dim)))
        a = [v + off for v in a]
        b = [v + off for v in b]
    elif kind == "hostile" and allow_hostile:
        b = draw(box(dim))
        b[draw(st.integers(0, 2 * dim - 1))] = draw(hostile)
    else:
        b = draw(box(dim))
    if draw(st.booleans()):
        a, b = b, a
    return a, b
