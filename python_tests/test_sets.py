"""match_boxes against scipy's linear_sum_assignment and, for small sets, every permutation (the
total matched IoU is the maximum); labels, counts, padding and hostile boxes; set_rewards from its
definition (duplicates and false positives lower every reward; nothing to find and nothing found
is 1)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

import verireward as vr
import oracles
from verireward import _C


@st.composite
def sample(draw, max_boxes=6):
    P, G = draw(st.integers(0, max_boxes)), draw(st.integers(0, max_boxes))
    base = [draw(st.tuples(st.floats(0, 10), st.floats(0, 10), st.floats(0.5, 4), st.floats(0.5, 4))) for _ in range(max(G, 1))]
    box = lambda c: [c[0], c[1], c[0] + c[2], c[1] + c[3]]
    gt = [box(c) for c in base][:G]
    pred = []
    for _ in range(P):
        kind = draw(st.sampled_from(["near", "dup", "random", "nan"]))
        if kind == "near" and gt:
            g = gt[draw(st.integers(0, len(gt) - 1))]
            d = draw(st.floats(-1, 1))
            pred.append([g[0] + d, g[1], g[2] + d, g[3]])
        elif kind == "dup" and pred:
            pred.append(list(pred[-1]))
        elif kind == "nan":
            pred.append([math.nan, 0, 1, 1])
        else:
            pred.append(box(draw(st.tuples(st.floats(0, 10), st.floats(0, 10), st.floats(0.5, 4), st.floats(0.5, 4)))))
    labels_p = [draw(st.sampled_from(["a", "b"])) for _ in range(P)]
    labels_g = [draw(st.sampled_from(["a", "b"])) for _ in range(G)]
    return pred, gt, labels_p, labels_g


def pad(rows, width, to):
    out = np.zeros((to, width))
    if rows:
        out[: len(rows)] = rows
    return out


def best_total(w):
    """The maximum total weight of a one-to-one matching, by scipy (and every permutation when small)."""
    if w.size == 0:
        return 0.0
    r, c = linear_sum_assignment(-w)
    best = float(w[r, c].sum())
    n, m = w.shape
    if max(n, m) <= 5:
        small, large = (w, w.T) if n <= m else (w.T, w)
        brute = max((sum(small[i, p[i]] for i in range(small.shape[0])) for p in itertools.permutations(range(small.shape[1]), small.shape[0])),
                    default=0.0)
        assert brute == pytest.approx(best, abs=1e-12)
    return best


@given(batch=st.lists(sample(), min_size=1, max_size=4), use_labels=st.booleans())
def test_match_maximizes_the_total_iou(batch, use_labels):
    P = max(1, max(len(s[0]) for s in batch))
    G = max(1, max(len(s[1]) for s in batch))
    pred = np.stack([pad(s[0], 4, P) for s in batch])
    gt = np.stack([pad(s[1], 4, G) for s in batch])
    pc = np.array([len(s[0]) for s in batch])
    gc = np.array([len(s[1]) for s in batch])
    kw = dict(pred_labels=[s[2] for s in batch], gt_labels=[s[3] for s in batch]) if use_labels else {}
    m = vr.match_boxes(pred, pc, gt, gc, **kw)
    for i, (pp, gg, lp, lg) in enumerate(batch):
        w = np.array([[oracles.iou(a, b, 2) if (not use_labels or lp[x] == lg[y]) else 0.0 for y, b in enumerate(gg)]
                      for x, a in enumerate(pp)]).reshape(len(pp), len(gg))
        a = m.assignment[i]
        assert np.all(a[len(pp):] == -1)
        used = [j for j in a[: len(pp)] if j >= 0]
        assert len(used) == len(set(used))  # one-to-one
        total = 0.0
        for x in range(len(pp)):
            if a[x] >= 0:
                assert w[x, a[x]] > 0 and m.iou[i, x] == pytest.approx(w[x, a[x]], abs=1e-12)
                total += w[x, a[x]]
            else:
                assert m.iou[i, x] == 0.0
        assert total == pytest.approx(best_total(w), abs=1e-9)


def crowded_scene(rng, P, G, dim):
    """P predictions against G ground-truth boxes on an integer grid: most pairs overlap, many
    IoUs are exactly equal (copies, shifted copies, duplicates), some boxes are degenerate."""
    lo = rng.integers(0, 4, (G, dim)).astype(float)
    gt = np.concatenate([lo, lo + rng.integers(1, 4, (G, dim))], 1)
    src = rng.integers(0, max(G, 1), P)
    pred = gt[src] + rng.integers(-1, 2, (P, 2 * dim)) if G else rng.uniform(0, 4, (P, 2 * dim))
    flat = rng.random(P) < 0.05
    pred[flat, dim] = pred[flat, 0]  # a zero extent now and then
    return pred, gt


@pytest.mark.parametrize("dim", [2, 3])
def test_match_is_optimal_at_every_size(dim):
    """Every number of columns the solver specializes (1 to 32, in lanes of 4) and the general loop
    beyond, with rows on either side (P < G and P > G), on crowded scenes full of exact ties."""
    rng = np.random.default_rng(dim)
    sizes = [(P, G) for P in (1, 6, 19, 41) for G in (2, 5, 9, 13, 17, 24, 31, 32, 36, 45)]
    for P, G in sizes + [(G, P) for P, G in sizes]:
        scenes = [crowded_scene(rng, P, G, dim) for _ in range(2)]
        pred, gt = np.stack([s[0] for s in scenes]), np.stack([s[1] for s in scenes])
        m = vr.match_boxes(pred, [P] * 2, gt, [G] * 2, box=f"{dim}d")
        for i, (pp, gg) in enumerate(scenes):
            w = np.array([[oracles.iou(a, b, dim) for b in gg] for a in pp])
            a = m.assignment[i]
            used = a[a >= 0]
            assert len(set(used.tolist())) == len(used)
            assert np.all(w[np.nonzero(a >= 0)[0], used] > 0)
            assert m.iou[i][a >= 0] == pytest.approx(w[np.nonzero(a >= 0)[0], used], abs=1e-12)
            assert float(m.iou[i].sum()) == pytest.approx(best_total(w), abs=1e-9), (P, G)


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("labels", [False, True])
def test_disjoint_clusters_match_as_each_cluster_alone(dim, labels):
    """A scene of clusters far apart (crowded inside, full of exact ties; boxes of the clusters
    interleaved in index order) matches as each cluster matched alone: the same pairs and IoUs, the
    total the optimum. No positive IoU joins two clusters, so the solver's split of a sample into
    the components of its positive pairs may not change the answer, ties included."""
    rng = np.random.default_rng(7 + dim)
    for trial in range(12):
        # few clusters (at most 64 live columns: the bitset split) and many (the union-find split)
        k = int(rng.integers(2, 6)) if trial % 2 else int(rng.integers(9, 16))
        parts = [crowded_scene(rng, int(rng.integers(1, 12)), int(rng.integers(1, 12)), dim) for _ in range(k)]
        for c, (p, g) in enumerate(parts):  # cluster c lies 100 * c away along every axis
            p += 100.0 * c
            g += 100.0 * c
        tags = [(rng.choice(["a", "b"], len(p)).tolist(), rng.choice(["a", "b"], len(g)).tolist()) for p, g in parts]
        # interleave the clusters' boxes in a shuffled order (each cluster's own order kept)
        order_p = rng.permutation(np.concatenate([[c] * len(p) for c, (p, _) in enumerate(parts)]))
        order_g = rng.permutation(np.concatenate([[c] * len(g) for c, (_, g) in enumerate(parts)]))
        where_p = [np.nonzero(order_p == c)[0] for c in range(k)]
        where_g = [np.nonzero(order_g == c)[0] for c in range(k)]
        pred = np.zeros((len(order_p), 2 * dim))
        gt = np.zeros((len(order_g), 2 * dim))
        pl, gl = [None] * len(order_p), [None] * len(order_g)
        for c, (p, g) in enumerate(parts):
            pred[where_p[c]], gt[where_g[c]] = p, g
            for x, i in enumerate(where_p[c]):
                pl[i] = tags[c][0][x]
            for x, j in enumerate(where_g[c]):
                gl[j] = tags[c][1][x]
        kw = dict(box=f"{dim}d", pred_labels=[pl], gt_labels=[gl]) if labels else dict(box=f"{dim}d")
        whole = vr.match_boxes(pred[None], [len(pred)], gt[None], [len(gt)], **kw)
        total = 0.0
        for c, (p, g) in enumerate(parts):
            kc = dict(box=f"{dim}d", pred_labels=[tags[c][0]], gt_labels=[tags[c][1]]) if labels else dict(box=f"{dim}d")
            alone = vr.match_boxes(p[None], [len(p)], g[None], [len(g)], **kc)
            a = alone.assignment[0]
            want = np.where(a >= 0, where_g[c][np.maximum(a, 0)], -1)
            # the same pairs, ties included (a cluster's boxes keep their relative order in the scene)
            np.testing.assert_array_equal(whole.assignment[0][where_p[c]], want)
            np.testing.assert_array_equal(whole.iou[0][where_p[c]], alone.iou[0])
            total += float(alone.iou[0].sum())
            w = np.array([[oracles.iou(x, y, dim) if (not labels or tags[c][0][i] == tags[c][1][j]) else 0.0
                           for j, y in enumerate(g)] for i, x in enumerate(p)])
            assert float(alone.iou[0].sum()) == pytest.approx(best_total(w), abs=1e-9)
        assert float(whole.iou[0].sum()) == pytest.approx(total, abs=1e-9)
        used = whole.assignment[0][whole.assignment[0] >= 0]
        assert len(set(used.tolist())) == len(used)


def test_matching_is_deterministic_and_other_box_kinds():
    rng = np.random.default_rng(0)
    pred, gt = rng.uniform(0, 5, (20, 8, 4)), rng.uniform(0, 5, (20, 6, 4))
    pred[..., 2:] = pred[..., :2] + 1.5
    gt[..., 2:] = gt[..., :2] + 1.5
    counts_p, counts_g = np.full(20, 8), np.full(20, 6)
    a = vr.match_boxes(pred, counts_p, gt, counts_g)
    b = vr.match_boxes(pred, counts_p, gt, counts_g)
    assert np.array_equal(a.assignment, b.assignment)
    same = np.zeros((1, 3, 4)) + [0, 0, 1, 1]  # three identical predictions of one box: one match
    m = vr.match_boxes(same, [3], same[:, :1], [1])
    assert (m.assignment >= 0).sum() == 1
    r3 = rng.uniform(0, 3, (4, 5, 7))
    r3[..., 3:6] = rng.uniform(0.5, 2, (4, 5, 3))
    m3 = vr.match_boxes(torch.tensor(r3), torch.full((4,), 5), torch.tensor(r3[:, ::-1].copy()), torch.full((4,), 5),
                        box="3d_oriented", seq="z")
    assert isinstance(m3.iou, torch.Tensor) and torch.all(m3.iou[m3.assignment >= 0] > 0)
    assert torch.allclose(m3.iou.sum(1), torch.full((4,), 5.0, dtype=torch.float64))  # each matches its mirror exactly


def test_set_rewards_from_the_definition():
    gt = np.array([[[0, 0, 2, 2], [5, 5, 6, 6.0], [0, 0, 0, 0]]])
    good = np.array([[[0, 0, 2, 2], [5, 5, 6, 6.0], [0, 0, 0, 0]]])
    dup = np.array([[[0, 0, 2, 2], [0, 0, 2, 2], [5, 5, 6, 6.0]]])
    r_good = vr.set_rewards(vr.match_boxes(good, [2], gt, [2]), [2], [2])
    r_dup = vr.set_rewards(vr.match_boxes(dup, [3], gt, [2]), [3], [2])
    assert [r_good.soft_f1[0], r_good.precision[0], r_good.recall[0], r_good.f1[0]] == [1.0, 1.0, 1.0, 1.0]
    assert r_dup.soft_f1[0] == pytest.approx(0.8) and r_dup.precision[0] == pytest.approx(2 / 3) and r_dup.f1[0] == pytest.approx(0.8)
    none = vr.set_rewards(vr.match_boxes(np.zeros((2, 1, 4)), [0, 1], np.zeros((2, 1, 4)) + [0, 0, 1, 1], [0, 0]), [0, 1], [0, 0])
    assert none.f1.tolist() == [1.0, 0.0] and none.recall.tolist() == [1.0, 0.0]
    missed = vr.set_rewards(vr.match_boxes(np.zeros((1, 1, 4)), [0], gt, [2]), [0], [2])
    assert missed.f1.tolist() == [0.0] and missed.soft_f1.tolist() == [0.0]
    shifted = np.array([[[0.5, 0, 2.5, 2], [5, 5, 6, 6.0], [0, 0, 0, 0]]])  # IoU 0.6 and 1
    r = vr.set_rewards(vr.match_boxes(shifted, [2], gt, [2]), [2], [2], threshold=0.7)
    assert r.soft_f1[0] == pytest.approx(0.8) and r.precision[0] == 0.5 and r.recall[0] == 0.5


def test_match_misuse():
    with pytest.raises(ValueError, match="match_boxes: argument 'box' must be one of"):
        vr.match_boxes(np.zeros((1, 1, 4)), [1], np.zeros((1, 1, 4)), [1], box="4d")
    with pytest.raises(ValueError, match=r"match_boxes: argument 'pred' must have shape \[N, P, 5\]"):
        vr.match_boxes(np.zeros((1, 1, 4)), [1], np.zeros((1, 1, 4)), [1], box="2d_rotated")
    with pytest.raises(ValueError, match=r"argument 'pred_counts' must lie in \[0, 1\]"):
        vr.match_boxes(np.zeros((1, 1, 4)), np.array([2]), np.zeros((1, 1, 4)), np.array([1]))
    with pytest.raises(ValueError, match="pass both pred_labels and gt_labels, or neither"):
        vr.match_boxes(np.zeros((1, 1, 4)), np.array([1]), np.zeros((1, 1, 4)), np.array([1]), pred_labels=[["a"]])
    with pytest.raises(ValueError, match="set_rewards: argument 'threshold' must be a number in"):
        vr.set_rewards(vr.match_boxes(np.zeros((1, 1, 4)), np.array([1]), np.zeros((1, 1, 4)), np.array([1])), [1], [1], 0)


def test_boxes_per_sample_are_bounded():
    """Each sample's IoU matrix is dense: P and G are bounded (a clear error, not a process killed
    for memory), and the many-object entry points name their own arguments."""
    limit = _C.MATCH_MAX_BOXES
    assert limit == 4096
    ok = vr.match_boxes(np.zeros((1, limit, 4)), [0], np.zeros((1, limit, 4)), [0])
    assert ok.assignment.shape == (1, limit) and np.all(ok.assignment == -1)
    with pytest.raises(ValueError, match=f"match_boxes: argument 'pred' has {limit + 1} boxes per sample; at most {limit}"):
        vr.match_boxes(np.zeros((1, limit + 1, 4)), [1], np.zeros((1, 1, 4)), [1])
    with pytest.raises(ValueError, match=f"match_boxes: argument 'gt' has {limit + 1} boxes per sample; at most {limit}"):
        vr.match_boxes(np.zeros((1, 1, 4)), [1], np.zeros((1, limit + 1, 4)), [1])
    text = ['[{"bbox_2d": [0, 0, 10, 10], "label": "cat"}]']
    with pytest.raises(ValueError, match=f"answer_set_rewards: argument 'max_objects' must be at most {limit}"):
        vr.answer_set_rewards(text, [np.zeros((1, 4))], max_objects=limit + 1)
    with pytest.raises(ValueError, match=f"answer_set_rewards: argument 'gt_boxes' has an answer with {limit + 1} boxes"):
        vr.answer_set_rewards(text, [np.tile([0.0, 0, 10, 10], (limit + 1, 1))])
    args = _C.MatchArgs()
    args.P, args.G = limit + 1, 1
    with pytest.raises(ValueError, match="verireward._C.match_boxes: at most MATCH_MAX_BOXES boxes per sample"):
        _C.match_boxes(args)


# ---- issue 18: counts that cannot belong to the match, labels as arrays, the duplicate rule ------

def _two_by_two():
    pred = np.array([[[0, 0, 2, 2], [5, 5, 7, 7]]], dtype=float)
    gt = np.array([[[0, 0, 2, 2], [5, 5, 7, 7]]], dtype=float)
    return pred, gt, vr.match_boxes(pred, [2], gt, [2])


@pytest.mark.parametrize("pc, gc, name", [([-1], [2], "pred_counts"), ([1], [2], "pred_counts"), ([2], [-1], "gt_counts"),
                                          ([2], [3], "gt_counts"), ([2], [1], "gt_counts"), ([2.0], [2], "pred_counts"),
                                          ([2, 2], [2], "pred_counts")])
def test_set_rewards_refuses_counts_that_cannot_belong_to_the_match(pc, gc, name):
    _, _, m = _two_by_two()
    with pytest.raises(ValueError, match=f"set_rewards: argument '{name}'"):
        vr.set_rewards(m, np.array(pc), np.array(gc))


def test_set_rewards_takes_predictions_written_past_the_slots():
    _, _, m = _two_by_two()
    r = vr.set_rewards(m, [4], [2])  # two more objects were written than the two slots held
    assert r.f1.tolist() == [2 * 2 / 6] and r.precision.tolist() == [0.5] and r.recall.tolist() == [1.0]


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4), st.integers(0, 5), st.integers(0, 5), st.integers(0, 2**31 - 1), st.sampled_from(["numpy", "torch"]))
def test_integer_label_arrays_match_as_label_lists_do(n, P, G, seed, kind):
    rng = np.random.default_rng(seed)
    pred = rng.uniform(0, 4, (n, P, 4)); pred[..., 2:] += pred[..., :2] + 0.5
    gt = rng.uniform(0, 4, (n, G, 4)); gt[..., 2:] += gt[..., :2] + 0.5
    pc, gc = rng.integers(0, P + 1, n), rng.integers(0, G + 1, n)
    pl, gl = rng.integers(0, 3, (n, P)), rng.integers(0, 3, (n, G))
    pl[np.arange(P)[None] >= pc[:, None]] = -1  # padding past the counts: ignored
    gl[np.arange(G)[None] >= gc[:, None]] = rng.integers(-5, 5)
    as_lists = vr.match_boxes(pred, pc, gt, gc, pred_labels=[r[:c].tolist() for r, c in zip(pl, pc)],
                              gt_labels=[r[:c].tolist() for r, c in zip(gl, gc)])
    conv = torch.from_numpy if kind == "torch" else (lambda x: x)
    as_arrays = vr.match_boxes(pred, pc, gt, gc, pred_labels=conv(pl), gt_labels=conv(gl))
    np.testing.assert_array_equal(as_arrays.assignment, as_lists.assignment)
    np.testing.assert_array_equal(as_arrays.iou, as_lists.iou)
    # labels mixed: an integer array on one side, lists of Python ints on the other
    mixed = vr.match_boxes(pred, pc, gt, gc, pred_labels=pl, gt_labels=[r[:c].tolist() for r, c in zip(gl, gc)])
    np.testing.assert_array_equal(mixed.assignment, as_lists.assignment)


def test_label_rows_shorter_than_their_count_or_unhashable_are_errors():
    pred, gt, _ = _two_by_two()
    with pytest.raises(ValueError, match=r"match_boxes: pred_labels\[0\] must be a list of 2 to 2 labels"):
        vr.match_boxes(pred, [2], gt, [2], pred_labels=[["a"]], gt_labels=[["a", "b"]])
    with pytest.raises(ValueError, match=r"match_boxes: gt_labels\[0\] must be a list of 2 to 2 labels"):
        vr.match_boxes(pred, [2], gt, [2], pred_labels=[["a", "b"]], gt_labels=[[]])
    with pytest.raises(ValueError, match="match_boxes: argument 'gt_labels' must hold hashable labels"):
        vr.match_boxes(pred, [2], gt, [2], pred_labels=[["a", "b"]], gt_labels=[[["a"], "b"]])
    with pytest.raises(ValueError, match="match_boxes: argument 'pred_labels' as an array must be integers"):
        vr.match_boxes(pred, [2], gt, [2], pred_labels=np.zeros((1, 2)), gt_labels=[["a", "b"]])
    # shorter rows are fine when the count is shorter too
    m = vr.match_boxes(pred, [1], gt, [2], pred_labels=[["a"]], gt_labels=[["a", "b"]])
    assert m.assignment.tolist() == [[0, -1]]


class _Shifty:
    """A label whose hash empties the row that holds it (hostile user code run during encoding)."""

    def __init__(self, row):
        self.row = row

    def __hash__(self):
        self.row.clear()
        return 1


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4), st.integers(0, 6), st.integers(0, 6), st.integers(0, 2**31 - 1))
def test_label_lists_encode_as_python_equality_says(n, P, G, seed):
    """Label lists (encoded natively) match exactly where the labels are equal as Python compares
    dict keys: 1, 1.0 and True are one label, a NaN object equals only itself, tuples and None are
    labels; the IoU matrix masked by that equality (the oracle) has the same optimal total, and a
    label row given as a tuple (the general path) gives the same assignment."""
    rng = np.random.default_rng(seed)
    nan = math.nan
    pool = [1, 1.0, True, "a", "b", None, ("t", 1), nan, 2, "a"]
    pred = rng.uniform(0, 3, (n, P, 4)); pred[..., 2:] += pred[..., :2] + 0.5
    gt = rng.uniform(0, 3, (n, G, 4)); gt[..., 2:] += gt[..., :2] + 0.5
    pc, gc = rng.integers(0, P + 1, n), rng.integers(0, G + 1, n)
    pick = lambda k: [pool[int(i)] for i in rng.integers(0, len(pool), k)]
    pl = [pick(int(rng.integers(c, P + 1))) for c in pc]  # rows may run past their counts
    gl = [pick(int(rng.integers(c, G + 1))) for c in gc]
    m = vr.match_boxes(pred, pc, gt, gc, pred_labels=pl, gt_labels=gl)
    for i in range(n):
        same = lambda a, b: a is b or a == b  # dict-key equality
        w = np.array([[oracles.iou(pred[i, x], gt[i, y], 2) if same(pl[i][x], gl[i][y]) else 0.0
                       for y in range(gc[i])] for x in range(pc[i])]).reshape(pc[i], gc[i])
        assert float(m.iou[i].sum()) == pytest.approx(best_total(w), abs=1e-9)
        for x in range(pc[i]):
            if m.assignment[i, x] >= 0:
                assert same(pl[i][x], gl[i][m.assignment[i, x]])
    general = vr.match_boxes(pred, pc, gt, gc, pred_labels=[tuple(r) for r in pl], gt_labels=tuple(gl))
    np.testing.assert_array_equal(general.assignment, m.assignment)


def test_native_label_encoder_declines_what_it_does_not_take():
    """_C.encode_label_rows: a row that changes under it (a label's __hash__ clears it) or an
    unhashable label makes it decline (False), never crash; the public call then names the
    problem. Its own backstops: null pointers and rows that are not one per sample raise."""
    pc, gc = np.array([2], dtype=np.int64), np.array([1], dtype=np.int64)
    out_p, out_g = np.empty((1, 2), dtype=np.int64), np.empty((1, 2), dtype=np.int64)
    row = [None, "y"]
    row[0] = _Shifty(row)  # clears the row before its second label is read
    args = (pc.ctypes.data, gc.ctypes.data, 1, 2, 2, out_p.ctypes.data, out_g.ctypes.data)
    assert _C.encode_label_rows([row], [["x"]], *args) is False
    assert _C.encode_label_rows([["x", ["y"]]], [["x"]], *args) is False
    assert _C.encode_label_rows([["x", "y"]], [["y"]], *args) is True
    assert out_p.tolist() == [[1, 0]] and out_g.tolist() == [[0, -1]]  # the truth's labels first
    with pytest.raises(ValueError, match="null data pointer"):
        _C.encode_label_rows([["x", "y"]], [["y"]], pc.ctypes.data, gc.ctypes.data, 1, 2, 2, 0, out_g.ctypes.data)
    with pytest.raises(ValueError, match="one row per sample"):
        _C.encode_label_rows([["x", "y"]], [], *args)
    pred, gt, _ = _two_by_two()
    row = [None, "b"]
    row[0] = _Shifty(row)
    with pytest.raises(ValueError, match=r"match_boxes: pred_labels\[0\] must be a list of 2 to 2 labels"):
        vr.match_boxes(pred, [2], gt, [2], pred_labels=[row], gt_labels=[["a", "b"]])


def test_a_box_written_twice_can_match_two_overlapping_truths():
    """What the docs say of duplicates (sets.py, set_rewards): each truth is matched at most once,
    but one box written twice over two overlapping truths of its label matches both."""
    gt = np.array([[[0, 0, 4, 4], [0, 0, 4, 3]]], dtype=float)
    pred = np.array([[[0, 0, 4, 3.5], [0, 0, 4, 3.5]]], dtype=float)
    m = vr.match_boxes(pred, [2], gt, [2])
    assert sorted(m.assignment[0].tolist()) == [0, 1]
    assert vr.set_rewards(m, [2], [2]).f1.tolist() == [1.0]
    one_truth = vr.match_boxes(pred, [2], gt[:, :1], [1])  # where one truth lies the copy is unmatched
    assert sorted(one_truth.assignment[0].tolist()) == [-1, 0]
    assert vr.set_rewards(one_truth, [2], [1]).f1.tolist() == [2 / 3]
