"""answer_set_rewards (parse_objects -> match_boxes -> set_rewards in one call) from its definition,
and the set rewards as TRL reward functions and a verl reward function (signatures, names, columns,
caching, negatives), each equal to the one call."""

from __future__ import annotations

import json

import numpy as np
import pytest

import verireward as vr
from verireward.integrations import trl as vtrl
from verireward.integrations import verl as vverl

TEXTS = ['[{"bbox_2d": [0, 0, 500, 500], "label": "cup"}, {"bbox_2d": [500, 500, 1000, 1000], "label": "box"}]',
         '[{"bbox_2d": [0, 0, 500, 500], "label": "cup"}, {"bbox_2d": [0, 0, 500, 500], "label": "cup"}]',
         'There is nothing to find.',
         '[{"bbox_2d": [0, 0, 500, 500], "label": "cup"}]',
         '[{"bbox_2d": [0, 0, 500], "label": "cup"}, {"bbox_2d": [0, 0, 500, 500], "label": "box"}]']
BOXES = [[[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]], [[0, 0, 0.5, 0.5]], [], [], [[0, 0, 0.5, 0.5]]]
LABELS = [["cup", "box"], ["cup"], [], [], ["cup"]]


def test_answer_set_rewards_from_the_definition():
    r = vr.answer_set_rewards(TEXTS, BOXES, LABELS)
    # P, G, hits: (2, 2, 2); (2 with a duplicate, 1, 1); nothing written, nothing to find; a false
    # positive on an image without objects; a malformed box and a wrong label: 2 predictions, 0 hits
    np.testing.assert_allclose(r.f1, [1.0, 2 / 3, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(r.precision, [1.0, 0.5, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(r.recall, [1.0, 1.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(r.soft_f1, r.f1)  # exact boxes: every matched IoU is 1
    unlabelled = vr.answer_set_rewards(TEXTS, BOXES)
    assert unlabelled.f1[4] == pytest.approx(2 / 3)  # without labels the "box" box matches the cup
    # objects past max_objects still count as predictions
    many = '[' + ",".join(['{"bbox_2d": [0, 0, 500, 500]}'] * 5) + ']'
    r = vr.answer_set_rewards([many], [[[0, 0, 0.5, 0.5]]], max_objects=2)
    assert r.precision[0] == pytest.approx(1 / 5)
    with pytest.raises(ValueError, match="gt_boxes"):
        vr.answer_set_rewards(TEXTS, BOXES[:2])
    with pytest.raises(ValueError, match=r"gt_boxes\[0\]"):
        vr.answer_set_rewards(TEXTS[:1], [[[0, 0, 1]]])
    with pytest.raises(ValueError, match=r"gt_labels\[0\]"):
        vr.answer_set_rewards(TEXTS[:1], BOXES[:1], [["cup"]])


def test_trl_optimizes_soft_f1_alone_by_default_and_logs_the_others():
    (f,) = vtrl.SetRewardFunctions().functions()
    assert f.__name__ == "verireward_soft_f1"
    logged = {}
    got = f(prompts=None, completions=TEXTS, boxes=BOXES, labels=LABELS, log_metric=lambda k, v: logged.setdefault(k, v))
    want = vr.answer_set_rewards(TEXTS, BOXES, LABELS)
    assert got == pytest.approx(want.soft_f1.tolist())
    assert logged == pytest.approx({f"verireward/{k}": float(getattr(want, k).mean()) for k in ("precision", "recall", "f1")})


def test_trl_reward_functions():
    sets = vtrl.SetRewardFunctions(rewards=vtrl.SetRewardFunctions.REWARDS)
    funcs = sets.functions()
    assert [f.__name__ for f in funcs] == ["verireward_soft_f1", "verireward_precision", "verireward_recall", "verireward_f1"]
    completions = [[{"role": "assistant", "content": t}] for t in TEXTS]  # TRL's conversational form
    want = vr.answer_set_rewards(TEXTS, BOXES, LABELS)
    for f, name in zip(funcs, vtrl.SetRewardFunctions.REWARDS):
        got = f(prompts=[""] * len(TEXTS), completions=completions, boxes=BOXES, labels=LABELS, other=[1] * 5)
        assert got == pytest.approx(getattr(want, name).tolist())
    # the cache never returns another batch's rewards
    other = funcs[3](prompts=None, completions=TEXTS, boxes=[[[0.5, 0.5, 1, 1]]] * 5, labels=[["cup"]] * 5)
    assert other == pytest.approx(vr.answer_set_rewards(TEXTS, [[[0.5, 0.5, 1, 1]]] * 5, [["cup"]] * 5).f1.tolist())
    with pytest.raises(ValueError, match="boxes"):
        funcs[0](completions=TEXTS)
    with pytest.raises(ValueError, match="rewards"):
        vtrl.SetRewardFunctions(rewards=("map",))
    # per-image frames from columns, for a pixels schema
    px = vtrl.SetRewardFunctions(vr.Schema.qwen25vl_2d(), rewards=("f1",)).functions()[0]
    got = px(completions=['[{"bbox_2d": [0, 0, 50, 50], "label": "cup"}]'], boxes=[[[0, 0, 100, 100]]], labels=[["cup"]],
             image_size=[[200, 200]], resized_size=[[100, 100]])
    assert got == [1.0]


def test_verl_reward_function():
    vverl.configure()
    for text, boxes, labels in zip(TEXTS, BOXES, LABELS):
        out = vverl.compute_score_set("geo", text, json.dumps({"boxes": boxes, "labels": labels}), {})
        want = vr.answer_set_rewards([text], [boxes], [labels])
        shown = {k: out[k] for k in ("score", "precision", "recall", "f1", "vr_set_reward")}
        assert shown == pytest.approx({"score": want.soft_f1[0], "precision": want.precision[0], "recall": want.recall[0],
                                       "f1": want.f1[0], "vr_set_reward": want.soft_f1[0]})
        # what the grca_set estimator needs: each stored object's matched IoU and character span
        objs = vr.parse_objects([text], vr.Schema.qwen3vl_2d(), array="numpy")
        n = int(objs.counts[0])
        spans_, ious_ = json.loads(out["vr_object_spans"]), json.loads(out["vr_object_ious"])  # JSON: ragged-safe
        assert spans_ == objs.object_spans[0, :n].tolist() and len(ious_) == n
        assert 2 * sum(ious_) / (objs.n_objects[0] + len(boxes) or 1) == pytest.approx(
            want.soft_f1[0] if (objs.n_objects[0] + len(boxes)) else 0.0)
    vverl.configure(set_schema=vr.Schema.qwen25vl_2d(), set_threshold=0.9)
    out = vverl.compute_score_set("geo", '[{"bbox_2d": [0, 0, 50, 50]}]', {"boxes": [[0, 0, 100, 100]]},
                                  {"image_size": [200, 200], "resized_size": [100, 100]})
    assert out["f1"] == 1.0
    vverl.configure()
    with pytest.raises(ValueError, match="ground_truth"):
        vverl.compute_score_set("geo", "x", {"bbox2d": []}, None)


def test_verl_outputs_survive_verls_own_collation_for_ragged_batches():
    """verl's reward loop builds every returned key with np.array([...]) over the batch; answers
    with different object counts must survive it, and grca_set must read what it made."""
    import torch

    vverl.configure(tokenizer=None)
    rows = [vverl.compute_score_set("geo", t, json.dumps({"boxes": b, "labels": lab}), {})
            for t, b, lab in zip(TEXTS, BOXES, LABELS)]
    batch = vverl.compute_score_batch(["geo"] * len(TEXTS), TEXTS, [json.dumps({"boxes": b, "labels": lab})
                                                                     for b, lab in zip(BOXES, LABELS)], [{}] * len(TEXTS))
    assert batch == rows
    collated = {k: np.array([r[k] for r in rows]) for k in rows[0]}  # what verl does to each key
    assert len({len(json.loads(v)) for v in collated["vr_object_ious"]}) > 1  # ragged indeed
    assert [json.loads(v) for v in collated["vr_object_spans"]] == [json.loads(r["vr_object_spans"]) for r in rows]


def test_verl_grounding_without_rpc_sends_no_rpc():
    vverl.configure(schema=vr.Schema.qwen3vl_2d())
    out = vverl.compute_score("geo", '{"bbox_2d": [0, 0, 500, 500]}', {"bbox2d": [0, 0, 0.5, 0.5]}, {})
    assert "vr_rpc" not in out and out["score"] == pytest.approx(1.0)
    vverl.configure()
