"""Trust: misuse is refused where it happens. A schema is validated where it is written (errors name
the field and the option), the compiled module refuses unsafe sizes on its own, outputs that cannot
fit are refused up front, sparse and nested tensors are type errors, point ops handle empty inputs; a
parsed value that is not finite in the ground truth's frame is invalid, and a projection that is
not finite in the output dtype is invalid. Each test failed before its fix."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import verireward as vr


@pytest.mark.parametrize("kwargs, message", [
    ({"name": None, "kind": "box2d"}, "Field: name must be a non-empty str, got None"),
    ({"name": "", "kind": "box2d"}, "Field: name must be a non-empty str"),
    ({"name": "b", "kind": "box2d", "ranges": ((0, math.nan), (0, 1))}, r"Field 'b': ranges must hold 2 \(lo, hi\) pairs of finite numbers"),
    ({"name": "b", "kind": "box2d", "ranges": ((0, 1), (2, 1))}, "Field 'b': ranges needs lo < hi on every axis"),
    ({"name": "b", "kind": "box2d", "ranges": ((0, 1), (0, math.inf))}, "Field 'b': ranges must hold 2"),
    ({"name": "b", "kind": "box2d", "frame": "pixels", "image_size": (640, 480), "resized_size": (0, 0)},
     r"Field 'b': resized_size must be \(width, height\), two finite numbers > 0, got \(0, 0\)"),
    ({"name": "b", "kind": "box2d", "frame": "pixels", "image_size": (640, math.nan)}, "Field 'b': image_size must be"),
    ({"name": "b", "kind": "box2d", "frame": "bins", "image_size": (640, 480)}, "Field 'b': image_size applies to the pixels frame only"),
    ({"name": "b", "kind": "box2d", "frame": "raw", "ranges": ((0, 1), (0, 1))}, "Field 'b': ranges applies to the bins and normalized"),
    ({"name": "p", "kind": "points2d", "max_points": 2.5}, r"Field 'p': max_points must be an int in \[1, 65536\], got 2.5"),
    ({"name": "p", "kind": "points2d", "max_points": 10**9}, "Field 'p': max_points must be an int"),
    ({"name": "b", "kind": "box2d", "bins": 10**30}, r"Field 'b': bins must be an int in \[1, 9007199254740992\]"),
    ({"name": "b", "kind": "box2d", "bins": True}, "Field 'b': bins must be an int"),
    ({"name": "b", "kind": "box2d", "aliases": (None,)}, "Field 'b': aliases must be a tuple of non-empty str"),
    ({"name": "b", "kind": "box4d"}, "Field 'b': kind must be one of"),
    ({"name": "b", "kind": "box2d", "frame": "metres"}, "Field 'b': frame must be one of"),
])
def test_field_options_are_validated_at_construction(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        vr.Field(**kwargs)


def test_schema_validates_its_fields():
    with pytest.raises(TypeError, match="Schema: fields must be a non-empty tuple of Field"):
        vr.Schema(())
    with pytest.raises(TypeError, match=r"Schema: fields\[1\] must be a Field, got dict"):
        vr.Schema((vr.Field("a", "box2d"), {"name": "b"}))
    s = vr.Schema([vr.Field("a", "box2d", aliases=["aa"])])  # lists are normalized to tuples (hashable, frozen)
    assert s.fields[0].aliases == ("aa",) and isinstance(s.fields, tuple)
    hash(s)


def test_a_value_not_finite_in_the_ground_truth_frame_is_invalid():
    schema = vr.Schema((vr.Field("b", "box2d", frame="normalized", ranges=((0, 1e10), (0, 1))),))
    out = vr.parse(['{"b": [0, 0, 1e308, 1]}', '{"b": [0, 0, 0.5, 1]}'], schema)
    assert out.valid.tolist() == [[False], [True]]
    assert torch.isnan(out.values["b"][0]).all() and out.char_spans[0].tolist() == [[0, 0]]
    assert out.values["b"][1].tolist() == [0.0, 0.0, 5e9, 1.0]
    pts = vr.Schema((vr.Field("p", "points2d", frame="normalized", ranges=((0, 1e300), (0, 1))),))
    out = vr.parse(['{"p": [[1e10, 0], [1, 1]]}'], pts)
    assert out.valid.tolist() == [[False]] and out.counts["p"].tolist() == [0]


@pytest.mark.parametrize("box", [[0, 0, -1, 1e35, 1, 1], [-1e37, -1e37, 0.01, 1e37, 1e37, 2]])
def test_a_projection_that_overflows_float32_is_invalid(box):
    K, R, t = torch.eye(3), torch.eye(3), torch.zeros(3)
    out, valid = vr.project_box_3d(torch.tensor([box]), K, R, t)
    assert valid.tolist() == [False] and out.tolist() == [[0.0, 0.0, 0.0, 0.0]]
    out64, valid64 = vr.project_box_3d(torch.tensor([box], dtype=torch.float64), K.double(), R.double(), t.double())
    assert valid64.tolist() == [True] and torch.isfinite(out64).all()


def test_the_compiled_module_refuses_unsafe_sizes_on_its_own():
    """Each _C entry point checks every dimension (not only their product: two negatives make a
    positive) and refuses products that overflow 64-bit indexing, before touching a pointer."""
    from verireward import _C

    r = _C.RouteArgs()
    r.F, r.n, r.L, r.num_groups = 1, -4, -4, 1  # n * L = 16 > 0 passed the old guard
    with pytest.raises(ValueError, match="_C.routed_advantages: negative size"):
        _C.routed_advantages(r)
    a = _C.IouArgs()
    a.dim, a.n, a.m = 2, 2**40, 2**40
    with pytest.raises(ValueError, match="_C.iou_pairwise: sizes whose product overflows 64-bit indexing"):
        _C.iou_pairwise(a)
    k = _C.PointArgs()
    k.B, k.P, k.G, k.K = 2**21, 2**22, 2**21, 2**22
    with pytest.raises(ValueError, match="_C.knn: sizes whose product overflows"):
        _C.knn(k)
    s = _C.SpanArgs()
    s.n, s.F, s.L = -1, -1, 3
    with pytest.raises(ValueError, match="_C.char_to_token_spans: negative size"):
        _C.char_to_token_spans(s)
    a = _C.IouArgs()
    a.dim, a.n, a.a_stride = 2, 1, 7
    with pytest.raises(ValueError, match="_C.iou_elementwise: a_stride must be 0 or 2 \\* dim"):
        _C.iou_elementwise(a)
    a.dim = 4
    with pytest.raises(ValueError, match="dim must be 2 or 3"):
        _C.iou_elementwise(a)
    g = _C.GroupArgs()
    g.n, g.F, g.num_groups = 3, 1, 1
    g.st.scale = 7
    g.rewards = g.group_ptr = g.out = 8  # never dereferenced: the scale check comes first
    with pytest.raises(ValueError, match="_C.group_standardize: unknown scale"):
        _C.group_standardize(g)


def test_routed_advantages_with_no_tokens_and_null_pointers_raises():
    """L = 0 still reads the rewards: the null pointers are refused (this segfaulted, exit -11)."""
    from verireward import _C

    r = _C.RouteArgs()
    r.n, r.F, r.L, r.num_groups = 2, 4, 0, 1
    with pytest.raises(ValueError, match="_C.routed_advantages: null data pointer"):
        _C.routed_advantages(r)


def test_every_entry_point_refuses_null_pointers_for_random_sizes():
    """Every argument-struct entry point of _C, with random sizes and all pointers null, raises or
    returns (python_tests/entry_point_fuzz.py): in a subprocess, so that a segfault fails the test."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).with_name("entry_point_fuzz.py")
    run = subprocess.run([sys.executable, str(script), "400", "7"], capture_output=True, text=True, timeout=600)
    last = run.stdout.strip().splitlines()[-1:] or ["(nothing)"]
    assert run.returncode == 0 and last == ["ALL OK"], f"exit {run.returncode} after: {last[0]}\n{run.stderr[-2000:]}"


def test_outputs_that_cannot_fit_in_memory_are_refused_up_front():
    with pytest.raises(ValueError, match=r"pairwise_iou_2d: the output \[200000, 100000\] would need 149.0 GiB, more than the"):
        vr.pairwise_iou_2d(np.zeros((200000, 4)), np.zeros((100000, 4)))
    with pytest.raises(ValueError, match="knn_indices: the output"):
        vr.knn_indices(np.zeros((1, 2**20, 3)), np.zeros((1, 2**20), np.int64), 2**12)


@pytest.mark.parametrize("make", [lambda: torch.zeros(1, 4).to_sparse(),
                                  lambda: torch.nested.nested_tensor([torch.zeros(1, 4), torch.zeros(2, 4)], layout=torch.jagged)])
def test_sparse_and_nested_tensors_are_type_errors(make):
    with pytest.raises(TypeError, match="iou_2d: argument 'a' must be a dense \\(strided\\) tensor"):
        vr.iou_2d(make(), torch.zeros(1, 4))


def test_point_ops_on_empty_batches_and_empty_clouds():
    for mode in ("remove", "centre"):
        out = vr.mask_point_patches(torch.zeros(0, 5, 3), 2, 2, 0.5, mode=mode)
        assert out.points.shape == (0, 5, 3) and out.counts.shape == (0,) and out.patches.shape == (0, 2, 2)
    assert vr.farthest_point_sampling(np.zeros((0, 5, 3)), 2).shape == (0, 2)
    for call in (lambda: vr.farthest_point_sampling(torch.zeros(2, 0, 3), 1),
                 lambda: vr.knn_indices(torch.zeros(2, 0, 3), torch.zeros(2, 0, dtype=torch.long), 1),
                 lambda: vr.mask_point_patches(torch.zeros(2, 0, 3), 1, 1, 0.5)):
        with pytest.raises(ValueError, match="argument 'points' has P = 0 points per cloud"):
            call()
