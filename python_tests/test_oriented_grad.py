"""Gradients of the oriented IoUs (rotated 2D, yaw-only 3D, general 9-DoF).

Three independent checks: torch's gradcheck (finite differences of verireward's own forward, which
test_oriented.py checks against shapely and a qhull construction); central differences of those
independent oracles themselves (shapely for rectangles, the half-space/convex-hull construction
for 3D boxes), which share no code with the kernels; and exact identities the gradient of any IoU
must satisfy (invariance under a common translation, scaling and rotation of both boxes, the
axis-aligned kernel's gradient at angle 0). Plus the rules: 0 where the IoU is 0 by rule, finite
on hostile input, pairwise = elementwise, degrees = radians · π/180, CPU = CUDA.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

import verireward as vr  # noqa: E402
from test_oriented import hull_iou, shapely_iou  # noqa: E402  (the independent oracles)

f64 = torch.float64


def t(x, grad=True):
    return torch.tensor(x, dtype=f64, requires_grad=grad)


def grads(fn, a, b):
    a, b = t(a), t(b)
    fn(a, b).sum().backward()
    return a.grad.numpy(), b.grad.numpy()


def central(f, x, h):
    """Central differences of the scalar f at x (a list), step h; None where f is not
    differentiable at x (the one-sided differences disagree: coinciding faces)."""
    out = []
    f0 = f(x)
    for k in range(len(x)):
        up, dn = list(x), list(x)
        up[k] += h
        dn[k] -= h
        fu, fd = f(up), f(dn)
        if abs((fu - f0) - (f0 - fd)) > 1e3 * h * h + 1e-9:
            return None
        out.append((fu - fd) / (2 * h))
    return np.array(out)


@st.composite
def overlapping_rects(draw):
    a = [draw(st.floats(-1, 1)), draw(st.floats(-1, 1)), draw(st.floats(0.5, 3)), draw(st.floats(0.5, 3)),
         draw(st.floats(-3.2, 3.2))]
    b = [a[0] + draw(st.floats(-0.6, 0.6)), a[1] + draw(st.floats(-0.6, 0.6)), draw(st.floats(0.5, 3)),
         draw(st.floats(0.5, 3)), draw(st.floats(-3.2, 3.2))]
    return a, b


@st.composite
def overlapping_boxes(draw, k):
    a = ([draw(st.floats(-1, 1)) for _ in range(3)] + [draw(st.floats(0.6, 2.5)) for _ in range(3)]
         + [draw(st.floats(-3.2, 3.2)) for _ in range(k)])
    b = ([a[q] + draw(st.floats(-0.5, 0.5)) for q in range(3)] + [draw(st.floats(0.6, 2.5)) for _ in range(3)]
         + [draw(st.floats(-3.2, 3.2)) for _ in range(k)])
    return a, b


@settings(max_examples=40, deadline=None)
@given(pair=overlapping_rects())
def test_rotated_2d_gradient_is_the_derivative_of_shapelys_iou(pair):
    a, b = pair
    iou = shapely_iou(a, b)
    assume(0.02 < iou < 0.98)
    ga, gb = grads(vr.iou_2d_rotated, [a], [b])
    h = 1e-6
    want_a = central(lambda x: shapely_iou(x, b), a, h)
    want_b = central(lambda x: shapely_iou(a, x), b, h)
    assume(want_a is not None and want_b is not None)
    np.testing.assert_allclose(ga[0], want_a, atol=2e-5)
    np.testing.assert_allclose(gb[0], want_b, atol=2e-5)


@settings(max_examples=25, deadline=None)
@given(seq=st.sampled_from(["z", "y", "xyz", "ZYX", "zx"]), data=st.data())
def test_oriented_3d_gradient_is_the_derivative_of_the_hull_oracle(seq, data):
    a, b = data.draw(overlapping_boxes(len(seq)))
    iou = hull_iou(a, b, seq)
    assume(0.02 < iou < 0.98)
    ga, gb = grads(lambda x, y: vr.iou_3d_oriented(x, y, seq), [a], [b])
    h = 1e-5
    want_a = central(lambda x: hull_iou(x, b, seq), a, h)
    want_b = central(lambda x: hull_iou(a, x, seq), b, h)
    assume(want_a is not None and want_b is not None)
    np.testing.assert_allclose(ga[0], want_a, atol=1e-4)
    np.testing.assert_allclose(gb[0], want_b, atol=1e-4)


@pytest.mark.parametrize("seq", [None, "z", "x", "Y", "xyz", "ZYX", "XZX", "zy"])
@pytest.mark.parametrize("degrees", [False, True])
def test_gradcheck(seq, degrees):
    rng = np.random.default_rng(zlib.crc32(repr((seq, degrees)).encode()))  # str hashes vary by process
    k = 1 if seq is None else len(seq)
    n = 12
    if seq is None:
        a = np.concatenate([rng.uniform(-1, 1, (n, 2)), rng.uniform(0.5, 3, (n, 2)), rng.uniform(-3, 3, (n, 1))], 1)
        # centres closer than the sum of the inscribed radii (>= 0.25 each): every pair overlaps
        b = a + np.concatenate([rng.uniform(-0.3, 0.3, (n, 2)), rng.uniform(0, 0.3, (n, 2)), rng.uniform(-1, 1, (n, 1))], 1)
        fn = lambda x, y: vr.iou_2d_rotated(x, y, degrees=degrees)
    else:
        a = np.concatenate([rng.uniform(-1, 1, (n, 3)), rng.uniform(0.6, 2.5, (n, 3)), rng.uniform(-3, 3, (n, k))], 1)
        b = a + np.concatenate([rng.uniform(-0.3, 0.3, (n, 3)), rng.uniform(0, 0.3, (n, 3)), rng.uniform(-1, 1, (n, k))], 1)
        fn = lambda x, y: vr.iou_3d_oriented(x, y, seq, degrees=degrees)
    if degrees:
        a[:, -k:] *= 180 / math.pi
        b[:, -k:] *= 180 / math.pi
    ta, tb = t(a), t(b)
    assert (fn(ta, tb) > 0).all()
    assert torch.autograd.gradcheck(fn, (ta, tb), eps=1e-6, atol=1e-5, rtol=1e-4)
    # pairwise: every pair, differentiable the same way
    pfn = (lambda x, y: vr.pairwise_iou_2d_rotated(x, y, degrees=degrees)) if seq is None else (
        lambda x, y: vr.pairwise_iou_3d_oriented(x, y, seq, degrees=degrees))
    assert torch.autograd.gradcheck(pfn, (t(a[:4]), t(b[:5])), eps=1e-6, atol=1e-5, rtol=1e-4)


def rotate_z(box, phi):
    """Both the centre and the yaw of a z-yaw box (or a rectangle) turned by phi about the origin."""
    c, s = math.cos(phi), math.sin(phi)
    out = list(box)
    out[0], out[1] = c * box[0] - s * box[1], s * box[0] + c * box[1]
    out[-1] = box[-1] + phi
    return out


@settings(max_examples=40, deadline=None)
@given(pair=overlapping_rects(), third=st.booleans())
def test_gradient_identities_of_a_scale_and_motion_invariant_iou(pair, third):
    """IoU(a, b) does not change when both boxes move together, so its gradient is orthogonal to
    every common motion: Σ dc = 0 (translation), Σ c·dc + s·ds = 0 (scaling), and for a turn
    about z, Σ dθ + dc·(ẑ × c) = 0."""
    a, b = pair
    if third:  # the same for yaw-only 3D boxes: (cx, cy, cz, sx, sy, sz, yaw)
        a = a[:2] + [0.1] + a[2:4] + [1.0] + a[4:]
        b = b[:2] + [-0.2] + b[2:4] + [1.3] + b[4:]
        fn = lambda x, y: vr.iou_3d_oriented(x, y, "z")
        centre, size = slice(0, 3), slice(3, 6)
    else:
        fn = vr.iou_2d_rotated
        centre, size = slice(0, 2), slice(2, 4)
    assume(fn(t([a], False), t([b], False)).item() > 0.02)
    ga, gb = (g[0] for g in grads(fn, [a], [b]))
    A, B = np.array(a), np.array(b)
    np.testing.assert_allclose(ga[centre] + gb[centre], 0, atol=1e-9)
    scale = A[centre] @ ga[centre] + A[size] @ ga[size] + B[centre] @ gb[centre] + B[size] @ gb[size]
    assert abs(scale) < 1e-9
    turn = ga[-1] + gb[-1] + (ga[0] * -A[1] + ga[1] * A[0]) + (gb[0] * -B[1] + gb[1] * B[0])
    assert abs(turn) < 1e-9
    # and the IoU itself is unchanged by that turn
    assert fn(t([rotate_z(a, 0.7)], False), t([rotate_z(b, 0.7)], False)).item() == pytest.approx(
        fn(t([a], False), t([b], False)).item(), abs=1e-12)


def test_at_angle_zero_the_gradient_is_the_axis_aligned_kernels():
    rng = np.random.default_rng(3)
    c = rng.uniform(-1, 1, (30, 3))
    s = rng.uniform(0.5, 2, (30, 3))
    c2 = c + rng.uniform(-0.5, 0.5, (30, 3))
    s2 = rng.uniform(0.5, 2, (30, 3))
    for seq in ("z", "xyz"):
        k = len(seq)
        ga, gb = grads(lambda x, y: vr.iou_3d_oriented(x, y, seq),
                       np.concatenate([c, s, np.zeros((30, k))], 1), np.concatenate([c2, s2, np.zeros((30, k))], 1))
        # the axis-aligned boxes (c - s/2, c + s/2) through verireward's iou_3d backward, by the chain rule
        ta, tb = t(np.concatenate([c, s], 1)), t(np.concatenate([c2, s2], 1))
        hull = lambda x: torch.cat([x[:, :3] - x[:, 3:] / 2, x[:, :3] + x[:, 3:] / 2], 1)
        vr.iou_3d(hull(ta), hull(tb)).sum().backward()
        np.testing.assert_allclose(ga[:, :6], ta.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(gb[:, :6], tb.grad.numpy(), atol=1e-12)
    # rectangles against iou_2d the same way
    ga, gb = grads(vr.iou_2d_rotated, np.concatenate([c[:, :2], s[:, :2], np.zeros((30, 1))], 1),
                   np.concatenate([c2[:, :2], s2[:, :2], np.zeros((30, 1))], 1))
    ta, tb = t(np.concatenate([c[:, :2], s[:, :2]], 1)), t(np.concatenate([c2[:, :2], s2[:, :2]], 1))
    rect = lambda x: torch.cat([x[:, :2] - x[:, 2:] / 2, x[:, :2] + x[:, 2:] / 2], 1)
    vr.iou_2d(rect(ta), rect(tb)).sum().backward()
    np.testing.assert_allclose(ga[:, :4], ta.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(gb[:, :4], tb.grad.numpy(), atol=1e-12)


def test_zero_gradient_where_the_iou_is_zero_by_rule_and_finite_on_hostile_input():
    nan, inf = math.nan, math.inf
    base = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.3, 0.2, 0.1]
    zero = [
        [5.0, 0, 0, 1, 1, 1, 0, 0, 0],                  # apart
        [0.0, 0, 0, 0, 1, 1, 0, 0, 0],                  # zero size
        [0.0, 0, 0, -1, 1, 1, 0, 0, 0],                 # negative size
        [nan, 0, 0, 1, 1, 1, 0, 0, 0], [0, 0, 0, inf, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1, nan, 0, 0],
        [1e300, 0, 0, 1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1, -inf, 0, 0],
    ]
    positive = [[0.0, 0, 0, 1e-300, 1, 1, 0, 0, 0], [0.0, 0, 0, 1e300, 1e300, 1e300, 0, 0, 0],
                [1e-9, 0, 0, 1, 1, 1, 0, 0, 0]]
    for seq in ("xyz", "z"):
        k = len(seq)
        fn = lambda x, y: vr.iou_3d_oriented(x, y, seq)
        ga, gb = grads(fn, [base[:6 + k]] * len(zero), [o[:6 + k] for o in zero])
        assert (ga == 0).all() and (gb == 0).all()
        ga, gb = grads(fn, [base[:6 + k]] * len(positive), [o[:6 + k] for o in positive])
        assert np.isfinite(ga).all() and np.isfinite(gb).all()
        iou = fn(t([base[:6 + k]] * 3, False), t([o[:6 + k] for o in positive], False))
        assert abs(iou[0]) < 1e-15 and abs(iou[1]) < 1e-15 and iou[2] > 0.5  # the true IoUs: ~1e-300, ~1e-900
    rect = [[0.0, 0, 1, 1, 0.2]] * 6
    bad = [[9.0, 0, 1, 1, 0], [0, 0, 0, 1, 0], [nan, 0, 1, 1, 0], [0, 0, 1, inf, 0], [0, 0, 1, 1, -inf], [1e308, 0, 1, 1, 0]]
    ga, gb = grads(vr.iou_2d_rotated, rect, bad)
    assert (ga == 0).all() and (gb == 0).all()
    # a non-finite upstream gradient is the caller's: it is not turned into anything else
    a, b = t([[0.0, 0, 1, 1, 0]]), t([[0.2, 0, 1, 1, 0.1]])
    vr.iou_2d_rotated(a, b).backward(torch.tensor([1.0], dtype=f64))
    assert np.isfinite(a.grad.numpy()).all() and (a.grad != 0).any()


def test_huge_and_tiny_boxes_have_scaled_gradients():
    """IoU is scale-free, so the gradient at λ·(a, b) is the gradient at (a, b) over λ for lengths
    and the same for angles: no overflow for 1e6-sized boxes, no underflow for 1e-6."""
    a = [0.1, 0.2, 0.0, 1.0, 2.0, 1.5, 0.4, 0.3, -0.2]
    b = [0.3, -0.1, 0.2, 1.2, 1.5, 1.0, 0.1, -0.2, 0.5]
    ga, gb = grads(lambda x, y: vr.iou_3d_oriented(x, y, "xyz"), [a], [b])
    for lam in (1e-6, 1e6):
        sa = [v * lam for v in a[:6]] + a[6:]
        sb = [v * lam for v in b[:6]] + b[6:]
        ha, hb = grads(lambda x, y: vr.iou_3d_oriented(x, y, "xyz"), [sa], [sb])
        np.testing.assert_allclose(ha[0, :6] * lam, ga[0, :6], rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(ha[0, 6:], ga[0, 6:], rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(hb[0, :6] * lam, gb[0, :6], rtol=1e-7, atol=1e-12)


def test_float32_broadcasting_and_degrees():
    rng = np.random.default_rng(8)
    a = np.concatenate([rng.uniform(-1, 1, (10, 3)), rng.uniform(0.6, 2, (10, 3)), rng.uniform(-3, 3, (10, 3))], 1)
    b = a[:1] + 0.2  # one box against ten: broadcast, its gradient summed over the ten
    g64 = grads(lambda x, y: vr.iou_3d_oriented(x, y, "xyz"), a, b)
    a32, b32 = torch.tensor(a, dtype=torch.float32, requires_grad=True), torch.tensor(b, dtype=torch.float32, requires_grad=True)
    vr.iou_3d_oriented(a32, b32, "xyz").sum().backward()
    assert a32.grad.dtype == torch.float32 and b32.grad.shape == (1, 9)
    np.testing.assert_allclose(a32.grad.numpy(), g64[0], atol=2e-4)
    np.testing.assert_allclose(b32.grad.numpy(), g64[1], atol=2e-3)
    # per degree = per radian · π/180
    ad, bd = a.copy(), b.copy()
    ad[:, 6:] *= 180 / math.pi
    bd[:, 6:] *= 180 / math.pi
    gd = grads(lambda x, y: vr.iou_3d_oriented(x, y, "xyz", degrees=True), ad, bd)
    np.testing.assert_allclose(gd[0][:, :6], g64[0][:, :6], atol=1e-12)
    np.testing.assert_allclose(gd[0][:, 6:], g64[0][:, 6:] * math.pi / 180, atol=1e-12)
    # only the inputs that ask for a gradient get one; no grad mode gives a plain tensor
    x, y = t(a), t(b, grad=False)
    vr.iou_3d_oriented(x, y, "xyz").sum().backward()
    assert x.grad is not None and y.grad is None
    with torch.no_grad():
        assert not vr.iou_3d_oriented(t(a), t(b), "xyz").requires_grad


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_gradient_is_the_cpus():
    rng = np.random.default_rng(11)
    a = np.concatenate([rng.uniform(-1, 1, (64, 3)), rng.uniform(0.6, 2, (64, 3)), rng.uniform(-3, 3, (64, 3))], 1)
    b = a + rng.uniform(-0.4, 0.4, a.shape)
    for seq, w in (("xyz", 9), ("z", 7)):
        cpu = grads(lambda x, y: vr.iou_3d_oriented(x, y, seq), a[:, :w], b[:, :w])
        xa = torch.tensor(a[:, :w], dtype=f64, device="cuda", requires_grad=True)
        xb = torch.tensor(b[:, :w], dtype=f64, device="cuda", requires_grad=True)
        vr.iou_3d_oriented(xa, xb, seq).sum().backward()
        np.testing.assert_allclose(xa.grad.cpu().numpy(), cpu[0], atol=1e-12)
        np.testing.assert_allclose(xb.grad.cpu().numpy(), cpu[1], atol=1e-12)
