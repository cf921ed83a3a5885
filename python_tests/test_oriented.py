"""Oriented boxes against independent peers and oracles: rotation_matrix against scipy's
Rotation.from_euler (every sequence kind, degrees), corners against a float64 construction from
scipy's matrix, rotated-rectangle IoU against shapely polygons, yaw-only 3D IoU against shapely
footprints times the axis overlap and against Monte Carlo, with the properties (symmetry, IoU(a, a)
= 1, the same set rotated by 90 or 180 degrees, invariance under a common rigid motion, the
axis-aligned kernels at angle 0) and hostile inputs (NaN, inf, zero and negative sizes, 1e-6 and
1e6 scales) over every backend and dtype.

Why this file passes 400 lines: the oracles (scipy, shapely, qhull, Monte Carlo) and the hypothesis
strategies for adversarial boxes are shared by every test here; split, each file would import the
rest of it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation
from shapely import affinity

import verireward as vr
from conftest import as_list, check_kind, make

SEQS = ["x", "y", "z", "X", "Z", "xy", "zx", "YZ", "xyz", "zyx", "ZYX", "XYZ", "xzx", "ZXZ", "yxz"]


@given(seq=st.sampled_from(SEQS), data=st.data(), degrees=st.booleans())
def test_rotation_matrix_is_scipys_from_euler(backend, dtype, seq, data, degrees):
    k = len(seq)
    span = 360.0 if degrees else 2 * math.pi
    n = data.draw(st.integers(0, 5))
    angles = np.array([[data.draw(st.floats(-span, span)) for _ in range(k)] for _ in range(n)]).reshape(n, k)
    got = vr.rotation_matrix(make(angles, backend, dtype), seq, degrees=degrees)
    check_kind(got, backend, dtype)
    assert tuple(got.shape) == (n, 3, 3)
    if n:
        want = Rotation.from_euler(seq, angles.astype(dtype).astype(np.float64), degrees=degrees).as_matrix()
        np.testing.assert_allclose(np.array(as_list(got)), want, atol=1e-12 if dtype == "float64" else 2e-6)


def test_rotation_matrix_shapes_and_misuse():
    a = np.zeros((2, 3, 1))
    assert vr.rotation_matrix(a, "z").shape == (2, 3, 3, 3)
    assert vr.rotation_matrix(np.array([0.5]), "y").shape == (3, 3)
    for seq, msg in (("xyzx", "must be 1 to 3 of 'xyz'"), ("xYz", "mixes extrinsic"), ("xxy", "has the same axis twice"),
                     ("w", "must be 1 to 3"), (3, "must be 1 to 3")):
        with pytest.raises(ValueError, match=f"rotation_matrix: argument 'seq' {msg}"):
            vr.rotation_matrix(np.zeros(3), seq)
    with pytest.raises(ValueError, match=r"rotation_matrix: argument 'angles' must have shape \[\.\.\., 2\]"):
        vr.rotation_matrix(np.zeros(3), "xy")
    with pytest.raises(TypeError, match="rotation_matrix: argument 'degrees' must be a bool"):
        vr.rotation_matrix(np.zeros(1), "x", degrees=1)


def corners_oracle(box, seq, degrees):
    """c + R (±s/2), corner c with bit d set taking +s_d/2, R from scipy (float64)."""
    c, s = np.array(box[:3]), np.array(box[3:6])
    R = Rotation.from_euler(seq, box[6:], degrees=degrees).as_matrix()
    return np.array([c + R @ (np.array([(1 if (k >> d) & 1 else -1) for d in range(3)]) * s / 2) for k in range(8)])


@given(seq=st.sampled_from(SEQS), data=st.data(), degrees=st.booleans())
def test_box_corners_against_scipy(backend, seq, data, degrees):
    f = st.floats(-50, 50)
    box = [data.draw(f) for _ in range(3)] + [data.draw(st.floats(0, 10)) for _ in range(3)] + \
          [data.draw(st.floats(-7, 7)) for _ in seq]
    got = np.array(as_list(vr.box_corners_3d(make([box], backend, "float64"), seq, degrees=degrees)))[0]
    np.testing.assert_allclose(got, corners_oracle(box, seq, degrees), atol=1e-9)


def test_axis_aligned_corners_take_min_and_max_per_axis():
    got = vr.box_corners_3d(np.array([[3.0, 0.0, 5.0, 1.0, 2.0, 4.0]]))[0]
    assert got[0].tolist() == [1.0, 0.0, 4.0] and got[7].tolist() == [3.0, 2.0, 5.0] and got[1].tolist() == [3.0, 0.0, 4.0]
    # the oriented corners of an unrotated box are the axis-aligned ones, in the same order
    ori = vr.box_corners_3d(np.array([[2.0, 1.0, 4.5, 2.0, 2.0, 1.0, 0.0]]), "z")[0]
    np.testing.assert_allclose(ori, got, atol=1e-15)


def polygon(r):
    cx, cy, w, h, t = r
    return affinity.rotate(shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), t, origin=(cx, cy), use_radians=True)


def shapely_iou(p, q):
    if not (all(map(math.isfinite, p + q)) and p[2] > 0 and p[3] > 0 and q[2] > 0 and q[3] > 0):
        return 0.0
    a, b = polygon(p), polygon(q)
    union = a.union(b).area
    return a.intersection(b).area / union if union > 0 else 0.0


@st.composite
def rect(draw, scale=st.sampled_from([1e-6, 1.0, 1e6])):
    s = draw(scale)
    kind = draw(st.sampled_from(["random", "thin", "degenerate", "hostile"]))
    cx, cy = draw(st.floats(-3, 3)) * s, draw(st.floats(-3, 3)) * s
    w, h = draw(st.floats(0.05, 4)) * s, draw(st.floats(0.05, 4)) * s
    t = draw(st.floats(-7, 7))
    if kind == "thin":
        h = w * 1e-6
    elif kind == "degenerate":
        w = draw(st.sampled_from([0.0, -1.0])) * s
    elif kind == "hostile":
        return [cx, cy, w, h, t][:draw(st.integers(0, 4))] + [draw(st.sampled_from([math.nan, math.inf, -math.inf]))] + [1.0] * 4
    return [cx, cy, w, h, t]


@given(pairs=st.lists(st.tuples(rect(), rect()), min_size=1, max_size=6))
def test_rotated_iou_matches_shapely(backend, dtype, pairs):
    a = [p[0][:5] for p in pairs]
    b = [p[1][:5] for p in pairs]
    got = vr.iou_2d_rotated(make(a, backend, dtype), make(b, backend, dtype))
    check_kind(got, backend, dtype)
    a64 = np.array(a, dtype=np.float64).astype(dtype).astype(np.float64).tolist()
    b64 = np.array(b, dtype=np.float64).astype(dtype).astype(np.float64).tolist()
    for g, p, q in zip(as_list(got), a64, b64):
        assert 0.0 <= g <= 1.0
        assert g == pytest.approx(shapely_iou(p, q), abs=1e-9 if dtype == "float64" else 2e-5)


@given(r=rect(scale=st.just(1.0)), turn=st.sampled_from([0, 1, 2, 3]), motion=st.tuples(st.floats(-5, 5), st.floats(-5, 5), st.floats(-3, 3)),
       other=rect(scale=st.just(1.0)))
def test_rotated_iou_properties(r, turn, motion, other):
    if not all(map(math.isfinite, r + other)) or r[2] <= 0 or r[3] <= 0:
        return
    a = np.array([r[:5]])
    same = np.array([[r[0], r[1], r[3] if turn % 2 else r[2], r[2] if turn % 2 else r[3], r[4] + turn * math.pi / 2]])
    assert vr.iou_2d_rotated(a, a)[0] == pytest.approx(1.0, abs=1e-12)
    assert vr.iou_2d_rotated(a, same)[0] == pytest.approx(1.0, abs=1e-9)  # the same set, rotated by 90 or 180 degrees
    b = np.array([other[:5]])
    ab, ba = vr.iou_2d_rotated(a, b)[0], vr.iou_2d_rotated(b, a)[0]
    assert ab == pytest.approx(ba, abs=1e-12)
    dx, dy, th = motion  # a common rigid motion of both boxes changes nothing

    def move(x):
        c, s = math.cos(th), math.sin(th)
        return np.array([[c * x[0, 0] - s * x[0, 1] + dx, s * x[0, 0] + c * x[0, 1] + dy, x[0, 2], x[0, 3], x[0, 4] + th]])
    assert vr.iou_2d_rotated(move(a), move(b))[0] == pytest.approx(ab, abs=1e-9)


def test_rotated_iou_at_angle_zero_is_the_axis_aligned_kernel():
    rng = np.random.default_rng(3)
    c, s = rng.uniform(-2, 2, (500, 2)), rng.uniform(0.1, 3, (500, 2))
    c2, s2 = rng.uniform(-2, 2, (500, 2)), rng.uniform(0.1, 3, (500, 2))
    rot = lambda c, s: np.concatenate([c, s, np.zeros((len(c), 1))], 1)
    aabb = lambda c, s: np.concatenate([c - s / 2, c + s / 2], 1)
    np.testing.assert_allclose(vr.iou_2d_rotated(rot(c, s), rot(c2, s2)), vr.iou_2d(aabb(c, s), aabb(c2, s2)), atol=1e-12)
    box3 = lambda c, s, z: np.concatenate([c, z[:, :1], s, z[:, 1:2], np.zeros((len(c), 1))], 1)
    z = np.stack([rng.uniform(-1, 1, 500), rng.uniform(0.1, 2, 500)], 1)
    z2 = np.stack([rng.uniform(-1, 1, 500), rng.uniform(0.1, 2, 500)], 1)
    a3 = lambda c, s, z: np.stack([c[:, 0] - s[:, 0] / 2, c[:, 1] - s[:, 1] / 2, z[:, 0] - z[:, 1] / 2,
                                   c[:, 0] + s[:, 0] / 2, c[:, 1] + s[:, 1] / 2, z[:, 0] + z[:, 1] / 2], 1)
    np.testing.assert_allclose(vr.iou_3d_oriented(box3(c, s, z), box3(c2, s2, z2)), vr.iou_3d(a3(c, s, z), a3(c2, s2, z2)),
                               atol=1e-12)


def yaw_oracle(p, q, axis):
    """Footprint across the axis (shapely, in the plane of the next two axes) times the overlap along it."""
    i, j = (axis + 1) % 3, (axis + 2) % 3
    if not (all(map(math.isfinite, p + q)) and min(p[3:6]) > 0 and min(q[3:6]) > 0):
        return 0.0
    fa, fb = polygon([p[i], p[j], p[3 + i], p[3 + j], p[6]]), polygon([q[i], q[j], q[3 + i], q[3 + j], q[6]])
    lo, hi = max(p[axis] - p[3 + axis] / 2, q[axis] - q[3 + axis] / 2), min(p[axis] + p[3 + axis] / 2, q[axis] + q[3 + axis] / 2)
    inter = fa.intersection(fb).area * max(hi - lo, 0.0)
    union = fa.area * p[3 + axis] + fb.area * q[3 + axis] - inter
    return inter / union if union > 0 else 0.0


@given(seq=st.sampled_from(["x", "y", "z", "Z"]), data=st.data())
def test_yaw_iou_matches_footprint_times_overlap(backend, dtype, seq, data):
    f, sz = st.floats(-2, 2), st.floats(0.1, 3)
    n = data.draw(st.integers(1, 5))
    boxes = [[[data.draw(f) for _ in range(3)] + [data.draw(sz) for _ in range(3)] + [data.draw(st.floats(-7, 7))]
              for _ in range(n)] for _ in range(2)]
    got = vr.iou_3d_oriented(make(boxes[0], backend, dtype), make(boxes[1], backend, dtype), seq)
    check_kind(got, backend, dtype)
    r = lambda x: np.array(x, dtype=np.float64).astype(dtype).astype(np.float64).tolist()
    axis = "xyz".index(seq.lower())
    for g, p, q in zip(as_list(got), r(boxes[0]), r(boxes[1])):
        assert g == pytest.approx(yaw_oracle(p, q, axis), abs=1e-9 if dtype == "float64" else 2e-5)
    pw = vr.pairwise_iou_3d_oriented(np.array(boxes[0]), np.array(boxes[1]), seq)
    np.testing.assert_allclose(np.diag(pw), vr.iou_3d_oriented(np.array(boxes[0]), np.array(boxes[1]), seq), atol=0)


def test_yaw_iou_monte_carlo():
    rng = np.random.default_rng(11)
    a = np.array([0.2, -0.1, 0.3, 2.0, 1.0, 1.5, 0.6])
    b = np.array([0.6, 0.3, 0.0, 1.5, 2.0, 1.0, -0.4])
    pts = rng.uniform(-3, 3, (400_000, 3))
    inside = lambda box: np.all(np.abs((pts - box[:3]) @ Rotation.from_euler("z", box[6]).as_matrix()) <= box[3:6] / 2, 1)
    ia, ib = inside(a), inside(b)
    mc = (ia & ib).sum() / (ia | ib).sum()
    assert vr.iou_3d_oriented(a, b, "z") == pytest.approx(mc, abs=0.01)


def test_oriented_hostile_inputs_and_misuse():
    good = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.3]
    for bad in ([math.nan] + good[1:], good[:3] + [0.0] + good[4:], good[:3] + [-1.0] + good[4:], good[:6] + [math.inf],
                [1e308, 0.0, 0.0, 1e308, 1e308, 1e308, 0.0]):
        got = vr.iou_3d_oriented(np.array([bad, good]), np.array([good, bad]))
        assert np.all(np.isfinite(got)) and np.all((got >= 0) & (got <= 1))
        if not all(map(math.isfinite, bad)) or min(bad[3:6]) <= 0:
            assert got.tolist() == [0.0, 0.0]
    huge = np.array([[1e300, 0.0, 0.0, 1e300, 1e300, 1e300, 0.2]])
    assert vr.iou_3d_oriented(huge, huge)[0] == pytest.approx(1.0, abs=1e-12)
    assert vr.iou_2d_rotated(np.array([0, 0, 1e-300, 1e-300, 0.3]), np.array([0, 0, 1e-300, 1e-300, 0.3])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"iou_2d_rotated: argument 'a' must have shape \[\.\.\., 5\]"):
        vr.iou_2d_rotated(np.zeros(4), np.zeros(5))
    with pytest.raises(ValueError, match="do not broadcast"):
        vr.iou_2d_rotated(np.zeros((3, 5)), np.zeros((2, 5)))
    assert vr.iou_2d_rotated(np.zeros((4, 5)), np.zeros((1, 5))).shape == (4,)
    assert vr.pairwise_iou_2d_rotated(np.zeros((0, 5)), np.zeros((3, 5))).shape == (0, 3)


# ---- the general (2- and 3-axis) oriented IoU --------------------------------------------------


def box_planes(box, seq, degrees):
    """(normals [6, 3], offsets [6]) of {x : n . x <= d} for the box, from scipy's matrix."""
    c, h = np.array(box[:3]), np.array(box[3:6]) / 2
    R = Rotation.from_euler(seq, box[6:], degrees=degrees).as_matrix()
    normals = np.concatenate([R.T, -R.T])  # rows: +axis_k, then -axis_k
    return normals, normals @ c + np.concatenate([h, h])


def hull_iou(p, q, seq, degrees=False):
    """An independent exact construction in float64: the intersection's vertices (corners inside
    the other box, edges of each crossing the other's faces) and their convex hull's volume (qhull)."""
    from scipy.spatial import ConvexHull
    from scipy.spatial import QhullError

    if not (all(map(math.isfinite, p + q)) and min(p[3:6]) > 0 and min(q[3:6]) > 0):
        return 0.0
    # IoU is invariant to a shift and a scale: work in p's centre with the larger extent 1, so the
    # construction's absolute tolerances hold at every size (micrometre boxes included)
    s_ = max(max(p[3:6]), max(q[3:6]))
    original_centre = list(p[:3])
    p = [(v - c) / s_ for v, c in zip(p[:3], p[:3])] + [v / s_ for v in p[3:6]] + list(p[6:])
    q = [(v - c) / s_ for v, c in zip(q[:3], original_centre)] + [v / s_ for v in q[3:6]] + list(q[6:])
    boxes = [(corners_oracle(p, seq, degrees), *box_planes(p, seq, degrees)),
             (corners_oracle(q, seq, degrees), *box_planes(q, seq, degrees))]
    scale = max(max(p[3:6]), max(q[3:6]))
    tol = 1e-12 * scale  # in the normalized frame: far below any test's tolerance
    inside = lambda x, normals, offs: bool(np.all(normals @ x <= offs + tol))
    pts = []
    for me, other in ((0, 1), (1, 0)):
        corners, _, _ = boxes[me]
        _, n_o, d_o = boxes[other]
        pts += [x for x in corners if inside(x, n_o, d_o)]
        edges = [(i, i | (1 << k)) for i in range(8) for k in range(3) if not i & (1 << k)]
        for i, j in edges:
            a, b = corners[i], corners[j]
            for n, d in zip(n_o, d_o):
                den = n @ (b - a)
                if abs(den) < 1e-15:
                    continue
                t = (d - n @ a) / den
                if 0 <= t <= 1:
                    x = a + t * (b - a)
                    if inside(x, *boxes[me][1:]) and inside(x, n_o, d_o):
                        pts.append(x)
    if len(pts) < 4:
        return 0.0
    try:
        inter = ConvexHull(np.array(pts)).volume
    except QhullError:  # flat: touching boxes
        return 0.0
    va, vb = np.prod(p[3:6]), np.prod(q[3:6])
    return inter / (va + vb - inter)


@st.composite
def oriented_box(draw, seq, near=None):
    s = draw(st.sampled_from([1e-6, 1.0, 1e6]))
    if near is not None and draw(st.booleans()):  # overlapping: a perturbed copy of `near`
        box = list(near)
        box[draw(st.integers(0, 5))] *= draw(st.sampled_from([0.5, 0.9, 1.0, 1.1]))
        box[6] += draw(st.sampled_from([0.0, 0.3, math.pi / 2, math.pi]))
        return box
    c = [draw(st.floats(-1.5, 1.5)) * s for _ in range(3)]
    sz = [draw(st.floats(0.1, 3)) * s for _ in range(3)]
    return c + sz + [draw(st.floats(-4, 4)) for _ in seq]


@given(seq=st.sampled_from(["xyz", "ZYX", "zx", "XZX"]), data=st.data())
def test_general_oriented_iou_matches_the_hull_oracle(seq, data):
    p = data.draw(oriented_box(seq))
    q = data.draw(oriented_box(seq, near=p))
    got = vr.iou_3d_oriented(np.array([p]), np.array([q]), seq)[0]
    assert 0.0 <= got <= 1.0
    assert got == pytest.approx(hull_iou(p, q, seq), abs=1e-7)
    assert vr.iou_3d_oriented(np.array([q]), np.array([p]), seq)[0] == pytest.approx(got, abs=1e-9)


def test_micrometre_boxes_against_the_hull_oracle():
    """Found by hypothesis in CI: micrometre boxes a 6e-14 shift apart; the oracle's absolute
    tolerances made it return 1.00000001 until it worked in a normalized frame."""
    p = [0.0, 1.192092896e-13, 0.0, 1e-06, 1.25e-07, 3e-06, 3.03125, -2.0, -1.421875]
    q = [0.0, 5.96046448e-14, 0.0, 1e-06, 1.25e-07, 3e-06, 3.03125, -2.0, -1.421875]
    want = hull_iou(p, q, "ZYX")
    assert want <= 1.0
    assert vr.iou_3d_oriented(np.array([p]), np.array([q]), "ZYX")[0] == pytest.approx(want, abs=1e-7)


def test_general_oriented_iou_backends_dtypes_and_pairwise(backend, dtype):
    rng = np.random.default_rng(5)
    a = np.concatenate([rng.uniform(-1, 1, (40, 3)), rng.uniform(0.5, 2, (40, 3)), rng.uniform(-3, 3, (40, 3))], 1)
    b = a + np.concatenate([rng.uniform(-0.5, 0.5, (40, 3)), np.zeros((40, 3)), rng.uniform(-0.5, 0.5, (40, 3))], 1)
    got = vr.iou_3d_oriented(make(a, backend, dtype), make(b, backend, dtype), "xyz", degrees=False)
    check_kind(got, backend, dtype)
    r = lambda x: x.astype(dtype).astype(np.float64)
    want = [hull_iou(p, q, "xyz") for p, q in zip(r(a).tolist(), r(b).tolist())]
    np.testing.assert_allclose(as_list(got), want, atol=1e-7 if dtype == "float64" else 1e-4)
    pw = vr.pairwise_iou_3d_oriented(a[:7], b[:5], "xyz")
    elem = vr.iou_3d_oriented(a[:7, None, :], b[None, :5, :], "xyz")
    np.testing.assert_array_equal(pw, elem)
    assert np.any(np.array(want) > 0.1)


@given(data=st.data())
def test_yaw_fast_path_equals_the_general_path(data):
    f = st.floats(-2, 2)
    boxes = [[data.draw(f) for _ in range(3)] + [data.draw(st.floats(0.1, 3)) for _ in range(3)] + [data.draw(st.floats(-7, 7))]
             for _ in range(2)]
    fast = vr.iou_3d_oriented(np.array([boxes[0]]), np.array([boxes[1]]), "z")[0]
    general = vr.iou_3d_oriented(np.array([boxes[0] + [0.0]]), np.array([boxes[1] + [0.0]]), "zx")[0]
    assert general == pytest.approx(fast, abs=1e-9)


@given(data=st.data(), shift=st.sampled_from([0.0, 1e4, 1e8, -1e8, 3e12]), seq=st.sampled_from(["z", "y", "x"]))
def test_yaw_iou_is_where_independent(data, shift, seq):
    """The overlap along the axis is relative to the boxes, as the rectangle's is: far from the
    origin a box of size 1e-3 has IoU exactly 1 with itself, and the fast path still equals the
    general path to 1e-9 (seq "z" = "zx" with a zero second angle, likewise for the others)."""
    small = [shift, -shift, shift, 1e-3, 2e-3, 1.5e-3, 0.3]
    for s_ in (seq, seq.upper()):
        assert vr.iou_3d_oriented(np.array([small]), np.array([small]), s_)[0] == 1.0
    f = st.floats(-2, 2)
    boxes = [[shift + data.draw(f) * 1e-3 for _ in range(3)] + [data.draw(st.floats(0.1, 3)) * 1e-3 for _ in range(3)]
             + [data.draw(st.floats(-7, 7))] for _ in range(2)]
    other = {"z": "x", "y": "z", "x": "y"}[seq]
    fast = vr.iou_3d_oriented(np.array([boxes[0]]), np.array([boxes[1]]), seq)[0]
    general = vr.iou_3d_oriented(np.array([boxes[0] + [0.0]]), np.array([boxes[1] + [0.0]]), seq + other)[0]
    assert general == pytest.approx(fast, abs=1e-9)


def euler_xyz(rot):
    """scipy's extrinsic xyz angles of a rotation; at gimbal lock scipy warns and still returns
    angles of the same rotation, which is all these tests need."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return rot.as_euler("xyz")


@given(data=st.data(), turn=st.sampled_from([1, 2]), axis=st.integers(0, 2))
def test_general_oriented_iou_properties(data, turn, axis):
    box = data.draw(oriented_box("xyz"))
    if box[3] < 1e-3:  # the property checks below use unit-scale motions
        return
    a = np.array([box])
    assert vr.iou_3d_oriented(a, a, "xyz")[0] == pytest.approx(1.0, abs=1e-9)
    # the same set: turned by 90 or 180 degrees about one of its own axes, the sizes of the two
    # other axes swapped for a quarter turn
    R = Rotation.from_euler("xyz", box[6:]).as_matrix() @ Rotation.from_rotvec(np.eye(3)[axis] * turn * math.pi / 2).as_matrix()
    size = list(box[3:6])
    if turn == 1:
        i, j = (axis + 1) % 3, (axis + 2) % 3
        size[i], size[j] = size[j], size[i]
    same = np.array([box[:3] + size + list(euler_xyz(Rotation.from_matrix(R)))])
    assert vr.iou_3d_oriented(a, same, "xyz")[0] == pytest.approx(1.0, abs=1e-9)
    # a common rigid motion
    other = data.draw(oriented_box("xyz", near=box))
    M = Rotation.from_euler("xyz", [0.4, -0.7, 1.1])
    shift = np.array([0.3, -2.0, 5.0]) * box[3]

    def move(x):
        c = M.apply(np.array(x[:3])) + shift
        ang = euler_xyz(M * Rotation.from_euler("xyz", x[6:]))
        return np.array([list(c) + list(x[3:6]) + list(ang)])
    before = vr.iou_3d_oriented(a, np.array([other]), "xyz")[0]
    assert vr.iou_3d_oriented(move(box), move(other), "xyz")[0] == pytest.approx(before, abs=1e-7)


def test_general_oriented_iou_special_cases():
    unit = [0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.0, 0.0, 0.0]
    touch = [2.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.0, 0.0, 0.0]  # shares the face x = 1
    nested = [0.1, 0.0, 0.0, 0.5, 0.5, 0.5, 0.3, 0.2, 0.1]
    thin = [0.0, 0.0, 0.0, 2.0, 2.0, 1e-9, 0.1, 0.2, 0.3]
    far = [1e300, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    got = vr.iou_3d_oriented(np.array([unit, unit, unit, unit, unit]), np.array([touch, nested, thin, far, [math.nan] + unit[1:]]), "xyz")
    assert got[0] == 0.0 and got[3] == 0.0 and got[4] == 0.0
    assert got[1] == pytest.approx(0.125 / 8, abs=1e-12)
    assert got[2] == pytest.approx(hull_iou(unit, thin, "xyz"), abs=1e-9)
    half = [1.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.0, 0.0, 0.0]
    assert vr.iou_3d_oriented(np.array(unit), np.array(half), "xyz") == pytest.approx(1 / 3, abs=1e-12)
    big = np.array([[0.0, 0.0, 0.0, 1e6, 2e6, 3e6, 0.5, 0.4, 0.3]])
    assert vr.iou_3d_oriented(big, big, "xyz")[0] == pytest.approx(1.0, abs=1e-9)
    qwen = np.array([[0.1, 0.2, 2.5, 0.4, 0.5, 0.6, 30.0, 10.0, 90.0]])
    assert vr.iou_3d_oriented(qwen, qwen, "xyz", degrees=True)[0] == pytest.approx(1.0, abs=1e-9)


# ---- oriented boxes in projection, RPC and containment -----------------------------------------

K = np.array([[500.0, 0.0, 256.0], [0.0, 500.0, 256.0], [0.0, 0.0, 1.0]])


def surface_points(box, seq, degrees=False, steps=24):
    """Dense points on the oriented box's surface (each face a grid), world frame, float64."""
    c, s = np.array(box[:3]), np.array(box[3:6])
    R = Rotation.from_euler(seq, box[6:], degrees=degrees).as_matrix()
    g = np.linspace(-0.5, 0.5, steps)
    pts = []
    for ax in range(3):
        i, j = (ax + 1) % 3, (ax + 2) % 3
        for side in (-0.5, 0.5):
            u = np.zeros((steps * steps, 3))
            u[:, ax] = side
            u[:, i], u[:, j] = np.repeat(g, steps), np.tile(g, steps)
            pts.append(c + (u * s) @ R.T)
    return np.concatenate(pts)


@given(seq=st.sampled_from(["z", "xyz", "ZYX"]), data=st.data())
def test_oriented_projection_encloses_the_visible_surface(backend, seq, data):
    f = st.floats(-1, 1)
    box = [data.draw(f), data.draw(f), data.draw(st.floats(-1, 6))] + [data.draw(st.floats(0.2, 2)) for _ in range(3)] + \
          [data.draw(st.floats(-3.2, 3.2)) for _ in seq]
    R = Rotation.from_euler("xyz", [data.draw(st.floats(-0.3, 0.3)) for _ in range(3)]).as_matrix()
    t = np.array([0.0, 0.0, data.draw(st.floats(-1, 3))])
    near = 1e-2
    got, valid = vr.project_box_3d(make(np.array([box]), backend, "float64"), make(K, backend, "float64"),
                                   make(R, backend, "float64"), make(t, backend, "float64"), near, seq=seq)
    pts = surface_points(box, seq) @ R.T + t
    vis = pts[pts[:, 2] >= near]
    if not len(vis):
        return  # sampling may miss a sliver in front of the plane: nothing to compare
    assert as_list(valid) == [True]
    h = vis @ K.T
    uv = h[:, :2] / h[:, 2:]
    u0, v0, u1, v1 = as_list(got)[0]
    scale = 1e-6 * (1 + np.abs(uv).max())
    assert u0 <= uv[:, 0].min() + scale and v0 <= uv[:, 1].min() + scale
    assert u1 >= uv[:, 0].max() - scale and v1 >= uv[:, 1].max() - scale


def test_oriented_projection_rpc_and_containment_agree_with_the_axis_aligned_forms():
    rng = np.random.default_rng(2)
    c = rng.uniform(-1, 1, (50, 3)) + np.array([0, 0, 6])
    s = rng.uniform(0.3, 2, (50, 3))
    aabb = np.concatenate([c - s / 2, c + s / 2], 1)
    ori = np.concatenate([c, s, np.zeros((50, 3))], 1)
    R, t = np.eye(3), np.zeros(3)
    pa, va = vr.project_box_3d(aabb, K, R, t)
    po, vo = vr.project_box_3d(ori, K, R, t, seq="xyz")
    np.testing.assert_allclose(po, pa, atol=1e-9)
    assert np.array_equal(va, vo)
    b2 = pa + rng.normal(0, 5, pa.shape)
    np.testing.assert_allclose(vr.rpc(b2, ori, K, R, t, seq="xyz"), vr.rpc(b2, aabb, K, R, t), atol=1e-12)
    turned = np.concatenate([c, s[:, [1, 0, 2]], np.full((50, 1), 90.0)], 1)  # the same set, a quarter turn about z
    np.testing.assert_allclose(vr.project_box_3d(turned, K, R, t, seq="z", degrees=True)[0], pa, atol=1e-9)
    np.testing.assert_allclose(vr.rpc(b2, turned, K, R, t, seq="z", degrees=True),
                               vr.iou_2d(b2, vr.project_box_3d(turned, K, R, t, seq="z", degrees=True)[0]), atol=1e-12)
    behind = ori.copy()
    behind[:, 2] = -10
    assert not vr.project_box_3d(behind, K, R, t, seq="xyz")[1].any()
    assert np.all(vr.rpc(b2, behind, K, R, t, seq="xyz") == 0)
    degenerate = ori.copy()
    degenerate[:, 4] = 0.0
    assert not vr.project_box_3d(degenerate, K, R, t, seq="xyz")[1].any()


@given(seq=st.sampled_from(["z", "xyz", "YXZ"]), data=st.data())
def test_oriented_containment_matches_the_definition(backend, dtype, seq, data):
    box = [data.draw(st.floats(-2, 2)) for _ in range(3)] + [data.draw(st.floats(0.2, 3)) for _ in range(3)] + \
          [data.draw(st.floats(-4, 4)) for _ in seq]
    pts = np.array([[data.draw(st.floats(-4, 4)) for _ in range(3)] for _ in range(data.draw(st.integers(1, 12)))])
    got = vr.keypoint_containment(make(pts[None], backend, dtype), None, make(np.array([box]), backend, dtype), seq=seq)
    check_kind(got, backend, dtype)
    b = np.array(box, dtype=np.float64).astype(dtype).astype(np.float64)
    p = pts.astype(dtype).astype(np.float64)
    R = Rotation.from_euler(seq, b[6:]).as_matrix()
    u = (p - b[:3]) @ R  # R^T (p - c), row by row
    margin = np.min(np.abs(np.abs(u) - b[3:6] / 2))
    if margin < 1e-6:  # too close to a face to call in float32
        return
    want = float(np.mean(np.all(np.abs(u) <= b[3:6] / 2, axis=1)))
    assert as_list(got)[0] == pytest.approx(want, abs=1e-12 if dtype == "float64" else 1e-7)


def test_rotated_rectangle_containment_in_2d():
    pts = np.array([[[0.9, 0.9], [1.2, 0.0], [0.0, 0.0], [math.nan, 0.0]]])
    box = np.array([[0.0, 0.0, 2.0, 2.0, 45.0]])
    assert vr.keypoint_containment(pts, None, box, seq="z", degrees=True).tolist() == [0.5]
    with pytest.raises(ValueError, match="2D boxes turn in their plane: argument 'seq' must be one axis"):
        vr.keypoint_containment(pts, None, box, seq="xy")
    with pytest.raises(ValueError, match="argument 'degrees' needs seq"):
        vr.keypoint_containment(pts, None, np.zeros((1, 4)), degrees=True)


# ---- the Qwen3-VL 3D grounding preset ------------------------------------------------------------


def cookbook_corners(point):
    """The corner formula of Qwen3-VL's 3D-grounding cookbook, written from its description: the
    local corner (+-x/2, +-y/2, +-z/2) rotated about x by the first angle, then about y by the
    second, then about z by the third (degrees), then moved to the centre."""
    x, y, z, sx, sy, sz, a, b, c = point
    a, b, c = np.deg2rad([a, b, c])
    out = []
    for k in range(8):
        x0, y0, z0 = [(s / 2 if (k >> d) & 1 else -s / 2) for d, s in enumerate((sx, sy, sz))]
        x1, y1, z1 = x0, y0 * math.cos(a) - z0 * math.sin(a), y0 * math.sin(a) + z0 * math.cos(a)
        x2, y2, z2 = x1 * math.cos(b) + z1 * math.sin(b), y1, -x1 * math.sin(b) + z1 * math.cos(b)
        x3, y3, z3 = x2 * math.cos(c) - y2 * math.sin(c), x2 * math.sin(c) + y2 * math.cos(c), z2
        out.append([x + x3, y + y3, z + z3])
    return np.array(out)


@given(data=st.data())
def test_qwen3vl_preset_corners_are_the_cookbooks(data):
    point = [data.draw(st.floats(-2, 2)) for _ in range(3)] + [data.draw(st.floats(0.1, 3)) for _ in range(3)] + \
            [data.draw(st.floats(-180, 180)) for _ in range(3)]
    f = vr.Schema.qwen3vl_3d().fields[0]
    got = vr.box_corners_3d(np.array([point]), f.seq, degrees=f.degrees)[0]
    np.testing.assert_allclose(got, cookbook_corners(point), atol=1e-12)


def test_qwen3vl_answers_scored_end_to_end():
    truth = [0.1, 0.2, 2.5, 0.4, 0.5, 0.6, 30.0, 10.0, 90.0]
    answers = ['```json\n[{"bbox_3d": [0.1, 0.2, 2.5, 0.4, 0.5, 0.6, 30, 10, 90], "label": "chair"}]\n```',
               '[{"bbox_3d": [0.1, 0.2, 2.5, 0.4, 0.5, 0.6, 210, 10, 90], "label": "chair"}]',  # a half turn about its own x: the same box
               '[{"bbox_3d": [0.1, 0.2, 2.5, 0.4, 0.5, 0.6, 30, 10], "label": "chair"}]',  # wrong arity
               'I cannot see a chair.']
    out = vr.GroundingVerifier(vr.Schema.qwen3vl_3d())(answers, {"bbox3d": [truth]})
    assert out.rewards[:, 0].tolist() == pytest.approx([1.0, 1.0, 0.0, 0.0], abs=1e-9)
    assert out.valid[:, 0].tolist() == [True, True, False, False]
    # with a 2D box and the cookbook's camera, RPC: the projection of the answer's 3D box
    K, R, t = vr.pinhole_camera(500.0, 500.0, 320.0, 240.0)
    proj = vr.project_box_3d(torch_tensor([truth]), K, R, t, seq="xyz", degrees=True)[0][0].tolist()
    bins = [round(v / s * 1000) for v, s in zip(proj, (640, 480, 640, 480))]
    text = '{"bbox_3d": ' + str(truth) + ', "bbox_2d": ' + str(bins) + ', "label": "chair"}'
    out = vr.GroundingVerifier(vr.Schema.qwen3vl_3d(with_2d=True))(
        [text], {"bbox3d": [truth], "bbox2d": [[v / s for v, s in zip(proj, (640, 480, 640, 480))]]},
        camera=(K, R, t), image_size=(640, 480))
    assert out.rpc.tolist() == pytest.approx([1.0], abs=5e-3) and out.rewards[0].tolist() == pytest.approx([1.0, 1.0], abs=5e-3)


def torch_tensor(x):
    import torch

    return torch.tensor(x, dtype=torch.float64)


def test_oriented_schema_options_are_validated():
    for kwargs, msg in [({"layout": "centre"}, "layout must be one of"),
                        ({"layout": "center_size_angles"}, "seq is not a rotation sequence"),
                        ({"layout": "center_size_angles", "seq": "xyz", "frame": "bins"}, "not bins"),
                        ({"seq": "z"}, "seq and degrees describe rotations"),
                        ({"layout": "center_size_angles", "seq": "z", "degrees": 1}, "degrees must be a bool")]:
        with pytest.raises(ValueError, match=msg):
            vr.Field("b", "box3d", **{"frame": "raw", **kwargs})
    with pytest.raises(ValueError, match="seq of a 2D box is its one in-plane angle"):
        vr.Field("b", "box2d", frame="raw", layout="center_size_angles", seq="xy")
    with pytest.raises(ValueError, match="'center_size_angles' is for box fields"):
        vr.Field("p", "points3d", frame="raw", layout="center_size_angles", seq="z")
    s = vr.Schema((vr.Field("r", "box2d", frame="normalized", ranges=((0, 640), (0, 480)), layout="center_size_angles", seq="z"),))
    out = vr.parse(['{"r": [0.5, 0.5, 0.1, 0.2, 0.3]}'], s)
    assert out.values["r"][0].tolist() == pytest.approx([320.0, 240.0, 64.0, 96.0, 0.3])  # sizes scale, angles stay
    assert vr.Schema.from_json(vr.Schema.qwen3vl_3d(with_2d=True).to_json()) == vr.Schema.qwen3vl_3d(with_2d=True)


def test_separating_axis_exit_never_drops_an_overlap():
    """The 9-DoF path exits early on a separating axis: across 1500 pairs, many apart but within
    each other's circumsphere, every IoU still equals the hull oracle's (0 exactly when apart)."""
    rng = np.random.default_rng(12)
    n = 1500
    a = np.concatenate([rng.uniform(-1.5, 1.5, (n, 3)), rng.uniform(0.2, 2, (n, 3)), rng.uniform(-4, 4, (n, 3))], 1)
    b = np.concatenate([rng.uniform(-1.5, 1.5, (n, 3)), rng.uniform(0.2, 2, (n, 3)), rng.uniform(-4, 4, (n, 3))], 1)
    got = vr.iou_3d_oriented(a, b, "xyz")
    want = np.array([hull_iou(p, q, "xyz") for p, q in zip(a.tolist(), b.tolist())])
    reach = np.linalg.norm(a[:, 3:6], axis=1) / 2 + np.linalg.norm(b[:, 3:6], axis=1) / 2
    close_apart = (np.linalg.norm(a[:, :3] - b[:, :3], axis=1) < reach) & (want == 0)
    assert close_apart.sum() > 100  # the early exit's territory is exercised
    np.testing.assert_allclose(got, want, atol=1e-7)
    assert (got[want == 0] == 0).all()
