"""project_box_3d and rpc: the paper's corner formula in front of the camera, a dense-sampling
oracle for boxes straddling the near plane, and the invalid cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import verireward as vr
from conftest import as_list, check_kind, make, rounded
from oracles import homogeneous, iou as iou_oracle, project_corners, project_sampled

K_STD = [[500.0, 0.0, 256.0], [0.0, 480.0, 240.0], [0.0, 0.0, 1.0]]


def rotation(yaw: float, pitch: float, roll: float):
    cy, sy, cp, sp, cr, sr = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch), math.cos(roll), math.sin(roll)
    Rz = [[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]]
    Ry = [[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]]
    Rx = [[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]]
    mul = lambda A, B: [[sum(A[i][k] * B[k][j] for k in range(3)) for j in range(3)] for i in range(3)]
    return mul(Rz, mul(Ry, Rx))


angle = st.floats(-math.pi, math.pi)


@st.composite
def scene(draw):
    """A box in the world and a camera; the box may be in front, straddle the near plane, or be behind."""
    lo = [draw(st.floats(-3, 3)) for _ in range(3)]
    hi = [lo[k] + draw(st.floats(0.05, 3)) for k in range(3)]
    box = lo + hi
    R = rotation(draw(angle), draw(angle), draw(angle))
    t = [draw(st.floats(-2, 2)), draw(st.floats(-2, 2)), draw(st.floats(-4, 8))]
    skew = draw(st.sampled_from([0.0, 3.0]))
    K = [[draw(st.floats(100, 1000)), skew, draw(st.floats(0, 512))],
         [0.0, draw(st.floats(100, 1000)), draw(st.floats(0, 512))],
         [0.0, 0.0, 1.0]]
    return box, K, R, t


def depths(box, K, R, t):
    lo, hi = box[:3], box[3:]
    return [homogeneous([(hi if (c >> k) & 1 else lo)[k] for k in range(3)], K, R, t)[2] for c in range(8)]


def close_box(got, want, rel):
    scale = max(1.0, max(abs(v) for v in want))
    return all(abs(g - w) <= rel * scale for g, w in zip(got, want))


@given(sc=st.lists(scene(), min_size=1, max_size=4), near=st.sampled_from([1e-4, 0.1, 1.0]))
def test_project_matches_oracles(backend, dtype, sc, near):
    boxes = rounded([s[0] for s in sc], dtype)
    Ks = rounded([s[1] for s in sc], dtype)
    Rs = rounded([s[2] for s in sc], dtype)
    ts = rounded([s[3] for s in sc], dtype)
    out, valid = vr.project_box_3d(make(boxes, backend, dtype), make(Ks, backend, dtype),
                                   make(Rs, backend, dtype), make(ts, backend, dtype), near=near)
    check_kind(out, backend, dtype)
    got, ok = as_list(out), as_list(valid)
    rel = 1e-9 if dtype == "float64" else 1e-5
    for i in range(len(sc)):
        z = depths(boxes[i], Ks[i], Rs[i], ts[i])
        sampled = project_sampled(boxes[i], Ks[i], Rs[i], ts[i], near)
        if sampled is None:
            assert ok[i] is False and got[i] == [0.0, 0.0, 0.0, 0.0]
            continue
        assert ok[i] is True
        assert close_box(got[i], sampled, rel), (got[i], sampled)
        if min(z) >= near:  # wholly in front: the paper's Eq. 12 as written
            assert close_box(got[i], project_corners(boxes[i], Ks[i], Rs[i], ts[i]), rel)


def test_project_hand_cases(backend, dtype):
    K = [[500.0, 0.0, 256.0], [0.0, 500.0, 256.0], [0.0, 0.0, 1.0]]
    I3 = [[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]
    boxes = [
        [-1, -1, 4, 1, 1, 6],      # in front: corners at z = 4 are extreme
        [-1, -1, -6, 1, 1, -4],    # wholly behind
        [-1, -1, 0, 1, 1, 2],      # four corners exactly on z = 0 (behind near): clipped at z = near
        [1, 1, 6, -1, -1, 4],      # all corners swapped: the same box as the first
        [-1, -1, -2, 1, 1, 2],     # straddles: the plane cuts the box's side edges
        [2, -1, 4, 1, 1, 6],       # x in [1, 2]: u from x=1 at z=6 to x=2 at z=4
    ]
    near = 0.5
    out, valid = vr.project_box_3d(make(boxes, backend, dtype), make([K], backend, dtype),
                                   make(I3, backend, dtype), make([0.0, 0.0, 0.0], backend, dtype), near=near)
    got, ok = as_list(out), as_list(valid)
    assert ok == [True, False, True, True, True, True]
    assert got[0] == pytest.approx([256 - 125, 256 - 125, 256 + 125, 256 + 125])
    assert got[1] == [0.0, 0.0, 0.0, 0.0]
    assert got[2] == pytest.approx([256 - 1000, 256 - 1000, 256 + 1000, 256 + 1000])  # x/z = 1/0.5
    assert got[3] == got[0]
    assert got[4] == pytest.approx([256 - 1000, 256 - 1000, 256 + 1000, 256 + 1000])
    assert got[5] == pytest.approx([256 + 500 / 6, 256 - 125, 256 + 250, 256 + 125])


def test_project_image_clip_and_broadcast_cameras(backend, dtype):
    K = make(K_STD, backend, dtype)  # [3, 3]: one camera for the batch
    R = make(np.eye(3), backend, dtype)
    t = make([0.0, 0.0, 0.0], backend, dtype)
    boxes = make([[-1, -1, 4, 1, 1, 6], [10, 10, 1, 11, 11, 2], [-0.1, -0.1, 1, 0.1, 0.1, 2]], backend, dtype)
    free, v_free = vr.project_box_3d(boxes, K, R, t)
    clipped, v_clip = vr.project_box_3d(boxes, K, R, t, image_size=(512, 480))
    assert as_list(v_free) == [True, True, True]
    assert as_list(v_clip) == [True, False, True]  # the second box projects right of the image
    assert as_list(clipped)[0] == pytest.approx([256 - 125, 240 - 120, 256 + 125, 240 + 120])
    # third box: u in [206, 306], v in [192, 288]; per-row image sizes clip it or put it outside
    per_row = make([[512, 480], [512, 480], [300, 250]], backend, dtype)
    c3, v3 = vr.project_box_3d(boxes, K, R, t, image_size=per_row)
    assert as_list(v3) == [True, False, True]
    assert as_list(c3)[2] == pytest.approx([206.0, 192.0, 300.0, 250.0])
    outside = make([[512, 480], [512, 480], [100, 100]], backend, dtype)
    assert as_list(vr.project_box_3d(boxes, K, R, t, image_size=outside)[1]) == [True, False, False]


def test_project_non_finite_inputs_are_invalid(backend, dtype):
    K = make([K_STD] * 3, backend, dtype)
    R = make([np.eye(3)] * 3, backend, dtype)
    t = make([[0.0, 0.0, 0.0], [0.0, math.nan, 0.0], [0.0, 0.0, 0.0]], backend, dtype)
    boxes = make([[-1, -1, 4, 1, 1, math.inf], [-1, -1, 4, 1, 1, 6], [-1, -1, 4, 1, 1, 6]], backend, dtype)
    out, valid = vr.project_box_3d(boxes, K, R, t)
    assert as_list(valid) == [False, False, True]
    assert as_list(out)[:2] == [[0.0] * 4, [0.0] * 4]


@given(sc=st.lists(scene(), min_size=1, max_size=4), data=st.data())
def test_rpc_is_iou_with_projection(backend, dtype, sc, data):
    boxes = rounded([s[0] for s in sc], dtype)
    Ks = rounded([s[1] for s in sc], dtype)
    Rs = rounded([s[2] for s in sc], dtype)
    ts = rounded([s[3] for s in sc], dtype)
    b2 = rounded([[data.draw(st.floats(-100, 600)) for _ in range(4)] for _ in sc], dtype)
    args = [make(x, backend, dtype) for x in (boxes, Ks, Rs, ts)]
    got = as_list(vr.rpc(make(b2, backend, dtype), *args))
    proj, valid = vr.project_box_3d(*args)
    proj, valid = as_list(proj), as_list(valid)
    for i in range(len(sc)):
        sampled = project_sampled(boxes[i], Ks[i], Rs[i], ts[i], 1e-4)
        want = 0.0 if sampled is None else iou_oracle(b2[i], rounded(proj[i], "float64"), 2)
        assume(sampled is None or max(abs(v) for v in sampled) < 1e7)
        assert got[i] == pytest.approx(want, abs=1e-6 if dtype == "float32" else 1e-12)
        assert valid[i] == (sampled is not None)


def test_rpc_hand_cases(backend, dtype):
    K, R, t = make(K_STD, backend, dtype), make(np.eye(3), backend, dtype), make([0.0, 0, 0], backend, dtype)
    b3 = make([[-1, -1, 4, 1, 1, 6], [-1, -1, 4, 1, 1, 6], [-1, -1, -6, 1, 1, -4], [-1, -1, 4, 1, 1, 6]], backend, dtype)
    exact = [256 - 125, 240 - 120, 256 + 125, 240 + 120]
    b2 = make([exact, [exact[0], exact[1], 256.0, exact[3]], exact, [math.nan, 0, 1, 1]], backend, dtype)
    got = as_list(vr.rpc(b2, b3, K, R, t))
    assert got == pytest.approx([1.0, 0.5, 0.0, 0.0])


def test_noncontiguous_inputs_give_the_contiguous_results(backend, dtype):
    rng = np.random.default_rng(3)
    lo = rng.uniform(-2, 2, size=(9, 3))
    boxes = np.concatenate([lo, lo + rng.uniform(0.1, 2, size=(9, 3))], 1)
    boxes[:, [2, 5]] += 3.0
    K = np.array([K_STD] * 9)
    R = np.array([rotation(0.1 * i, 0.05, -0.02 * i) for i in range(9)])
    t = rng.uniform(-0.5, 0.5, size=(9, 3))
    b2 = np.concatenate([rng.uniform(0, 200, size=(9, 2)), rng.uniform(200, 500, size=(9, 2))], 1)
    dense = [make(x, backend, dtype) for x in (boxes, K, R, t, b2)]
    strided = []
    for x in dense:  # every argument as a strided view of a wider buffer
        wide = make(np.repeat(np.asarray(as_list(x)), 2, axis=-1), backend, dtype)
        strided.append(wide[..., ::2])
    want = [as_list(v) for v in vr.project_box_3d(*dense[:4])] + [as_list(vr.rpc(dense[4], *dense[:4]))]
    got = [as_list(v) for v in vr.project_box_3d(*strided[:4])] + [as_list(vr.rpc(strided[4], *strided[:4]))]
    assert got == want
    pts = make(rng.uniform(-3, 3, size=(9, 5, 3)), backend, dtype)
    wide_pts = make(np.repeat(np.asarray(as_list(pts)), 2, axis=1), backend, dtype)
    counts = make(np.arange(9, dtype=np.int64) % 6, backend, dtype)
    assert as_list(vr.keypoint_containment(wide_pts[:, ::2], counts, strided[0])) == as_list(
        vr.keypoint_containment(pts, counts, dense[0]))
