"""grca_set_advantages: many-object GRCA. An oracle from the rule's definition (IoU by loops,
the assignment by scipy, the standardization by hand in float64), and the rule's invariants:
a duplicate's tokens never get more than the original's, a zero-variance group gives 0, and with
one object per answer it is exactly the field rule on the box's IoU."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

import verireward as vr
from test_tokens import byte_bpe, token_batch

TOK = byte_bpe()
SCHEMA = vr.Schema.qwen3vl_2d()  # bbox_2d in 0-1000 bins over [0, 1], label


def encode(texts):
    return token_batch(TOK, texts, pad=2)


def answer(boxes, labels=None):
    labels = labels or ["cup"] * len(boxes)
    return "Found: " + json.dumps([{"bbox_2d": [int(v) for v in b], "label": lab} for b, lab in zip(boxes, labels)])


def iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def standardize(values, eps=1e-6):
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2 or np.all(v == v[0]):
        return np.zeros(len(v))
    return (v - v.mean()) / (v.std(ddof=1) + eps)


def oracle(preds, gts, G):
    """(Â [N], A_ij lists) from the definition; boxes in 0-1000 bins, truth in [0, 1]."""
    u, soft = [], []
    for p, g in zip(preds, gts):
        p = [[v / 1000 for v in b] for b in p]
        ious = np.array([[iou(a, b) for b in g] for a in p]).reshape(len(p), len(g))
        row = [0.0] * len(p)
        if len(p) and len(g):
            r, c = linear_sum_assignment(-ious)
            for a, b in zip(r, c):
                row[a] = ious[a, b] if ious[a, b] > 0 else 0.0
        u.append(row)
        soft.append(1.0 if not p and not g else 2 * sum(row) / (len(p) + len(g)))
    A = np.concatenate([standardize(soft[k:k + G]) for k in range(0, len(soft), G)])
    objs = []
    for k in range(0, len(soft), G):
        pooled = standardize([x for row in u[k:k + G] for x in row])
        flat = not np.any(A[k:k + G] != 0)
        pos = 0
        for i in range(k, k + G):
            objs.append([0.0 if flat else 0.5 * (A[i] + pooled[pos + j]) for j in range(len(u[i]))])
            pos += len(u[i])
    return A, objs


box = st.tuples(st.integers(0, 800), st.integers(0, 800), st.integers(20, 200), st.integers(20, 200)).map(
    lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]])


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_per_object_credit_is_the_rules_definition(data):
    G = 3
    truth = [data.draw(st.lists(box, min_size=0, max_size=3)) for _ in range(2)]
    preds, gts = [], []
    for g in truth:
        for _ in range(G):
            p = [b for b in g if data.draw(st.booleans())] + data.draw(st.lists(box, max_size=2))
            p = [[min(1000, max(0, v + data.draw(st.integers(-30, 30)))) for v in b] for b in p]
            p = [[b[0], b[1], max(b[2], b[0] + 1), max(b[3], b[1] + 1)] for b in p]
            preds.append(p)
            gts.append([[v / 1000 for v in b] for b in g])
    texts, ids, mask = encode([answer(p) for p in preds])
    got = vr.grca_set_advantages(texts, ids, mask, gts, G, tokenizer=TOK, schema=SCHEMA, per_object=True)
    A, objs = oracle(preds, gts, G)
    np.testing.assert_allclose(got.set_advantages, A, atol=1e-9)
    for i, row in enumerate(objs):
        np.testing.assert_allclose(got.object_advantages[i, :len(row)], row, atol=1e-9)
        adv = got.advantages[i]
        for j, a in enumerate(row):  # the object's tokens carry its credit, the rest the answer's
            s, e = got.token_spans[i, j].tolist()
            assert e > s and torch.allclose(adv[s:e], torch.tensor(a, dtype=torch.float32))
        inside = torch.zeros_like(mask[i])
        for j in range(len(row)):
            s, e = got.token_spans[i, j].tolist()
            inside[s:e] = True
        rest = mask[i] & ~inside
        assert torch.allclose(adv[rest], torch.tensor(A[i], dtype=torch.float32))
        assert (adv[~mask[i]] == 0).all()


def test_a_duplicate_never_gets_more_than_its_original():
    gt = [[0.1, 0.1, 0.3, 0.3], [0.5, 0.5, 0.8, 0.9]]
    good, other = [100, 100, 300, 300], [520, 480, 790, 900]
    preds = [[good, good], [good, other], [good], [good, good, good, other], [other, [900, 10, 990, 90]], []]
    texts, ids, mask = encode([answer(p) for p in preds])
    got = vr.grca_set_advantages(texts, ids, mask, [gt] * 6, 6, tokenizer=TOK, schema=SCHEMA, per_object=True)
    oa = got.object_advantages
    assert oa[0, 1] < oa[0, 0] and oa[3, 1] < oa[3, 0] and oa[3, 2] < oa[3, 0]  # the copies: the negative side
    assert oa[4, 1] < oa[4, 0]  # a false positive
    assert (oa[0, 1] < 0) and (oa[4, 1] < 0)
    # the duplicate lowers the answer's own credit too: [good, good] scores below [good]
    assert got.set_advantages[0] < got.set_advantages[2]


def test_a_zero_variance_group_gives_zero():
    gt = [[0.1, 0.1, 0.3, 0.3]]
    preds = [[[100, 100, 300, 300], [100, 100, 300, 300]]] * 4  # the same answer four times (duplicates inside)
    texts, ids, mask = encode([answer(p) for p in preds])
    for per_object in (False, True):
        got = vr.grca_set_advantages(texts, ids, mask, [gt] * 4, 4, tokenizer=TOK, schema=SCHEMA, per_object=per_object)
        assert (got.advantages == 0).all()


def test_one_object_per_answer_is_the_field_rule():
    rng = np.random.default_rng(0)
    G, n = 4, 12
    truth = [[float(v) for v in (x, y, x + 0.2, y + 0.3)] for x, y in rng.uniform(0, 0.6, (n // G, 2))]
    gts = [[truth[i // G]] for i in range(n)]
    preds = [[[min(1000, max(0, int(round((v + rng.normal(0, 0.03)) * 1000)))) for v in gts[i][0]]] for i in range(n)]
    texts, ids, mask = encode([answer(p) for p in preds])
    got = vr.grca_set_advantages(texts, ids, mask, gts, G, tokenizer=TOK, schema=SCHEMA, per_object=True)
    assert (got.rewards.soft_f1 > 0.3).all()
    # the field rule: the box's IoU, standardized and routed (one field: every token gets it)
    pred = torch.tensor([[v / 1000 for v in p[0]] for p in preds], dtype=torch.float64)
    reward = vr.iou_2d(pred, torch.tensor([g[0] for g in gts], dtype=torch.float64))
    spans = torch.tensor([[[0, int(m.sum())]] for m in mask])
    want = vr.routed_advantages(reward[:, None].float(), spans, mask, G)
    assert torch.allclose(got.advantages, want, atol=1e-6)
    flat = vr.grca_set_advantages(texts, ids, mask, gts, G, tokenizer=TOK, schema=SCHEMA)
    assert torch.allclose(flat.advantages, want, atol=1e-6)


def test_list_as_one_field_and_options():
    gt = [[0.1, 0.1, 0.3, 0.3]]
    preds = [[[100, 100, 300, 300]], [[100, 100, 250, 300], [600, 600, 700, 700]], [], [[0, 0, 50, 50]]]
    texts, ids, mask = encode([answer(p) for p in preds])
    got = vr.grca_set_advantages(texts, ids, mask, [gt] * 4, 2, tokenizer=TOK, schema=SCHEMA)
    A = got.set_advantages
    for i in range(4):
        assert torch.allclose(got.advantages[i][mask[i]], torch.tensor(A[i], dtype=torch.float32))
    assert got.object_advantages is None
    f1 = vr.grca_set_advantages(texts, ids, mask, [gt] * 4, 2, tokenizer=TOK, schema=SCHEMA, reward="f1",
                                compat="trl", scale="none")
    assert f1.rewards.f1.tolist() == [1.0, 2 / 3, 0.0, 0.0]
    assert f1.set_advantages.tolist() == pytest.approx([1 / 6, -1 / 6, 0.0, 0.0])  # r - mean under scale="none"
    with pytest.raises(ValueError, match="reward"):
        vr.grca_set_advantages(texts, ids, mask, [gt] * 4, 2, tokenizer=TOK, reward="map")
    with pytest.raises(TypeError, match="per_object"):
        vr.grca_set_advantages(texts, ids, mask, [gt] * 4, 2, tokenizer=TOK, per_object=1)
    with pytest.raises(ValueError, match="gt_boxes"):
        vr.grca_set_advantages(texts, ids, mask, [gt] * 3, 2, tokenizer=TOK)


def test_groups_split_over_processes_equal_one_process():
    """One group of six answers split over two processes: each gathers the other's rows."""
    gt = [[0.1, 0.1, 0.3, 0.3], [0.5, 0.5, 0.8, 0.9]]
    preds = [[[100, 100, 300, 300]], [[120, 100, 300, 310], [520, 480, 790, 900]], [], [[0, 0, 50, 50]] * 2,
             [[500, 500, 800, 900]], [[100, 100, 300, 300], [500, 500, 800, 900], [10, 900, 60, 990]]]
    texts, ids, mask = encode([answer(p) for p in preds])
    whole = vr.grca_set_advantages(texts, ids, mask, [gt] * 6, 6, tokenizer=TOK, schema=SCHEMA, per_object=True)
    halves = [(texts[:3], ids[:3], mask[:3]), (texts[3:], ids[3:], mask[3:])]
    sent = [[], []]  # what each process hands to gather, call by call
    for p, (t, i, m) in enumerate(halves):
        def record(x, p=p):
            sent[p].append(x.clone())
            return torch.cat([x, x])
        vr.grca_set_advantages(t, i, m, [gt] * 3, 6, tokenizer=TOK, schema=SCHEMA, per_object=True, gather=record,
                               process_index=p)
    for p, (t, i, m) in enumerate(halves):
        calls = iter(range(len(sent[0])))
        gather = lambda x: (lambda k: torch.cat([sent[0][k], sent[1][k]]))(next(calls))
        got = vr.grca_set_advantages(t, i, m, [gt] * 3, 6, tokenizer=TOK, schema=SCHEMA, per_object=True,
                                     gather=gather, process_index=p)
        rows = slice(3 * p, 3 * p + 3)
        np.testing.assert_allclose(got.set_advantages, whole.set_advantages[rows], atol=1e-12)
        np.testing.assert_allclose(got.object_advantages, whole.object_advantages[rows], atol=1e-12)
        L = got.advantages.shape[1]
        assert torch.equal(got.advantages, whole.advantages[rows, :L])
        assert (whole.advantages[rows, L:] == 0).all()
        calls = iter(range(len(sent[0])))  # the same through the option groups
        grouped = vr.grca_set_advantages(t, i, m, [gt] * 3, 6, tokenizer=TOK, schema=SCHEMA, per_object=True,
                                         distributed=vr.Distributed(gather, p),
                                         standardization=vr.Standardization())
        assert torch.equal(grouped.advantages, got.advantages)
    with pytest.raises(ValueError, match="grca_set_advantages: pass either 'standardization'"):
        vr.grca_set_advantages(texts, ids, mask, [gt] * 6, 6, tokenizer=TOK, schema=SCHEMA, eps=1e-3,
                               standardization=vr.Standardization())
