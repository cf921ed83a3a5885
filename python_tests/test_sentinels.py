"""Kernels write exactly their outputs: each output is a window inside a buffer filled with
sentinels, passed straight to the compiled module, and the sentinels must survive."""

from __future__ import annotations

import numpy as np

from verireward import _C

SENTINEL = -777.0
PAD = 64


def padded(n: int, dtype=np.float64):
    buf = np.full(n + 2 * PAD, SENTINEL if dtype != np.uint8 else 77, dtype=dtype)
    return buf, buf[PAD : PAD + n]


def assert_pads_intact(buf, dtype=np.float64):
    s = SENTINEL if dtype != np.uint8 else 77
    assert np.all(buf[:PAD] == s) and np.all(buf[-PAD:] == s)


def boxes(n: int, dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    lo = rng.uniform(0, 5, size=(n, dim))
    return np.ascontiguousarray(np.concatenate([lo, lo + rng.uniform(0.1, 3, size=(n, dim))], axis=1))


def test_iou_elementwise_pairwise_and_backward_stay_in_bounds():
    for dim in (2, 3):
        a, b = boxes(37, dim, 1), boxes(37, dim, 2)
        buf, out = padded(37)
        args = _C.IouArgs()
        args.dim, args.dtype, args.n = dim, _C.DType.float64, 37
        args.a, args.a_stride, args.b, args.b_stride = a.ctypes.data, 2 * dim, b.ctypes.data, 2 * dim
        args.out = out.ctypes.data
        _C.iou_elementwise(args)
        assert_pads_intact(buf)
        assert np.all((out >= 0) & (out <= 1))

        gbuf_a, ga = padded(37 * 2 * dim)
        gbuf_b, gb = padded(37 * 2 * dim)
        g = np.ones(37)
        args.grad_out, args.grad_a, args.grad_b = g.ctypes.data, ga.ctypes.data, gb.ctypes.data
        _C.iou_elementwise_backward(args)
        assert_pads_intact(gbuf_a)
        assert_pads_intact(gbuf_b)

        pbuf, pout = padded(37 * 11)
        keep = boxes(11, dim, 3)
        args.n, args.m, args.b = 37, 11, keep.ctypes.data
        args.out = pout.ctypes.data
        _C.iou_pairwise(args)
        assert_pads_intact(pbuf)
        assert np.all(pout != SENTINEL)


def test_project_rpc_containment_stay_in_bounds():
    n = 29
    b3 = boxes(n, 3)
    b3[:, [2, 5]] += 4.0
    K = np.array([[500.0, 0, 256], [0, 500, 256], [0, 0, 1]])
    R, t = np.eye(3), np.zeros(3)
    obuf, out = padded(4 * n)
    vbuf, valid = padded(n, np.uint8)
    args = _C.ProjectArgs()
    args.dtype, args.n, args.near = _C.DType.float64, n, 1e-4
    args.boxes3d, args.K, args.R, args.t = b3.ctypes.data, K.ctypes.data, R.ctypes.data, t.ctypes.data
    args.K_stride = args.R_stride = args.t_stride = 0
    args.out, args.valid = out.ctypes.data, valid.ctypes.data
    _C.project_box(args)
    assert_pads_intact(obuf)
    assert_pads_intact(vbuf, np.uint8)
    assert np.all(valid == 1)

    b2 = boxes(n, 2)
    rbuf, rout = padded(n)
    args.boxes2d, args.out = b2.ctypes.data, rout.ctypes.data
    _C.rpc(args)
    assert_pads_intact(rbuf)

    pts = np.random.default_rng(0).uniform(0, 5, size=(n, 5, 3))
    counts = np.arange(n, dtype=np.int64) % 6
    cbuf, cout = padded(n)
    c = _C.ContainmentArgs()
    c.dim, c.dtype, c.n, c.K = 3, _C.DType.float64, n, 5
    c.points, c.counts, c.boxes, c.out, c.box_stride = pts.ctypes.data, counts.ctypes.data, b3.ctypes.data, cout.ctypes.data, 6
    _C.keypoint_containment(c)
    assert_pads_intact(cbuf)


def test_compiled_module_rejects_null_pointers_and_negative_sizes():
    import pytest

    args = _C.IouArgs()
    args.n = 3
    with pytest.raises(ValueError, match="null data pointer"):
        _C.iou_elementwise(args)
    args.n = -1
    with pytest.raises(ValueError, match="negative size"):
        _C.iou_elementwise(args)
    c = _C.ContainmentArgs()
    c.n, c.K = 2, -1
    with pytest.raises(ValueError, match="keypoint_containment: negative size"):
        _C.keypoint_containment(c)
    p = _C.ProjectArgs()
    p.n = 0
    p.near = 0.0
    with pytest.raises(ValueError, match="near must be finite and > 0"):
        _C.project_box(p)


def test_grpo_kernels_stay_in_bounds():
    rng = np.random.default_rng(5)
    n, F, L = 12, 3, 9
    r = np.ascontiguousarray(rng.random((n, F)))
    ptr = np.array([0, 4, 5, 12], dtype=np.int64)
    sbuf, std = padded(n * F)
    g = _C.GroupArgs()
    g.dtype, g.n, g.F, g.num_groups = _C.DType.float64, n, F, 3
    g.rewards, g.group_ptr, g.out = r.ctypes.data, ptr.ctypes.data, std.ctypes.data
    _C.group_standardize(g)
    assert_pads_intact(sbuf)
    assert np.all(np.isfinite(std))

    spans = np.ascontiguousarray(rng.integers(-3, L + 4, size=(n, F, 2)).astype(np.int64))  # some outside [0, L]
    mask = np.ascontiguousarray((rng.random((n, L)) < 0.7).astype(np.uint8))
    rpc = np.ascontiguousarray(rng.random(n))
    for broadcast in (False, True):
        obuf, out = padded(n * L)
        ra = _C.RouteArgs()
        ra.dtype, ra.n, ra.F, ra.L, ra.num_groups = _C.DType.float64, n, F, L, 3
        ra.rewards, ra.rpc, ra.lam, ra.broadcast = r.ctypes.data, rpc.ctypes.data, 0.15, broadcast
        ra.spans, ra.mask, ra.group_ptr, ra.out = spans.ctypes.data, mask.ctypes.data, ptr.ctypes.data, out.ctypes.data
        _C.routed_advantages(ra)
        assert_pads_intact(obuf)
        assert np.all(np.isfinite(out)) and np.all(out[mask.reshape(-1) == 0] == 0)

    offsets = np.ascontiguousarray(np.sort(rng.integers(0, 40, size=(n, L + 1)), axis=1).astype(np.int64))
    lengths = np.full(n, L, dtype=np.int64)
    char_spans = np.ascontiguousarray(rng.integers(0, 40, size=(n, F, 2)).astype(np.int64))
    tbuf = np.full(n * F * 2 + 2 * PAD, -777, dtype=np.int64)
    tok = tbuf[PAD:PAD + n * F * 2]
    sa = _C.SpanArgs()
    sa.n, sa.F, sa.L = n, F, L
    sa.char_spans, sa.offsets, sa.lengths, sa.out = char_spans.ctypes.data, offsets.ctypes.data, lengths.ctypes.data, tok.ctypes.data
    _C.char_to_token_spans(sa)
    assert np.all(tbuf[:PAD] == -777) and np.all(tbuf[-PAD:] == -777)
    assert np.all((tok >= 0) & (tok <= L))


def test_grpo_kernels_reject_null_pointers():
    import pytest

    g = _C.GroupArgs()
    g.n, g.F, g.num_groups = 2, 1, 1
    with pytest.raises(ValueError, match=r"_C.group_standardize: null data pointer"):
        _C.group_standardize(g)
    ra = _C.RouteArgs()
    ra.n, ra.F, ra.L = 1, 0, 1
    with pytest.raises(ValueError, match=r"_C.routed_advantages: needs F >= 1"):
        _C.routed_advantages(ra)
    ra.F = 1
    with pytest.raises(ValueError, match=r"_C.routed_advantages: no group"):
        _C.routed_advantages(ra)
    ra.num_groups = 1
    with pytest.raises(ValueError, match=r"_C.routed_advantages: null data pointer"):
        _C.routed_advantages(ra)
    sa = _C.SpanArgs()
    sa.n, sa.F, sa.L = 1, 1, 1
    with pytest.raises(ValueError, match=r"_C.char_to_token_spans: null data pointer"):
        _C.char_to_token_spans(sa)
    with pytest.raises(ValueError, match=r"parse_texts: texts must be str or bytes"):
        _C.parse_texts([3], [], 0, 0)
