"""The EasyR1 and OpenRLHF reward functions, called the way each framework calls them. Neither
framework is installed here (EasyR1 is not on the registry; openrlhf's wheel pulls deepspeed,
flash-attn and ray): each test replays the framework's own calling code faithfully and says which.
- EasyR1 (hiyouga/EasyR1, workers/reward): the function is loaded from "path.py:name", bound to
  reward_function_kwargs, and called with a list of {"response", "response_length",
  "ground_truth"} (batch) or one dict (sequential); it must return {"overall": float, ...}.
- OpenRLHF 0.11.2 (openrlhf/utils/agent.py, SingleTurnAgentExecutor): the module is loaded with
  importlib.util.spec_from_file_location("reward_func", path) and reward_module.reward_func is
  called through asyncio.to_thread with one-element lists [query], [prompt], [label], the query
  being hf_tokenizer.decode(prompt ids + response ids, skip_special_tokens=False)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from functools import partial

import numpy as np
import pytest

import verireward as vr
from verireward.integrations import easyr1, openrlhf

TRUTH = [{"boxes": [[100, 100, 300, 300], [400, 80, 600, 200]], "labels": ["cat", "dog"]},
         {"boxes": [[10, 10, 50, 50]], "labels": ["cup"]}, {"boxes": [], "labels": []}]
ANSWERS = ['[{"bbox_2d": [100, 100, 300, 300], "label": "cat"}]',
           '[{"bbox_2d": [10, 10, 50, 50], "label": "cup"}, {"bbox_2d": [12, 10, 50, 50], "label": "cup"}]',
           "There is nothing: []"]


def _load(path, name):
    spec = importlib.util.spec_from_file_location("custom_reward", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def test_easyr1_batch_and_sequential_calls():
    fn = partial(_load(easyr1.__file__, "compute_score"), schema="qwen3vl_2d", reward="soft_f1")  # "path:compute_score"
    # a 0–1000 schema: truth in 0–1000 over the image, i.e. normalized * 1000 -> normalize it here
    truths = [json.dumps({"boxes": (np.array(t["boxes"]).reshape(-1, 4) / 1000).tolist(), "labels": t["labels"]}) for t in TRUTH]
    inputs = [{"response": a, "response_length": len(a), "ground_truth": g} for a, g in zip(ANSWERS, truths)]
    got = fn(inputs)
    want = vr.answer_set_rewards(ANSWERS, [json.loads(g)["boxes"] for g in truths], [t["labels"] for t in TRUTH])
    assert [g["overall"] for g in got] == pytest.approx(want.soft_f1.tolist())
    assert [g["f1"] for g in got] == pytest.approx(want.f1.tolist())
    assert all(isinstance(v, float) for g in got for v in g.values())
    one = fn(inputs[1])
    assert isinstance(one, dict) and one["overall"] == pytest.approx(float(want.soft_f1[1]))
    assert partial(fn, reward="f1")(inputs)[0]["overall"] == pytest.approx(float(want.f1[0]))
    with pytest.raises(ValueError, match="reward_inputs"):
        fn([{"text": "x"}])


def test_a_0_1000_schema_with_image_size_compares_in_original_pixels():
    w, h = 800, 400
    answer = '[{"bbox_2d": [125, 250, 375, 750], "label": "cat"}]'  # 0–1000 over the image
    truth = {"boxes": [[100, 100, 300, 300]], "labels": ["cat"], "image_size": [w, h]}
    got = easyr1.compute_score({"response": answer, "response_length": 1, "ground_truth": json.dumps(truth)})
    assert got["overall"] == pytest.approx(1.0)
    without = easyr1.compute_score({"response": answer, "response_length": 1,
                                    "ground_truth": json.dumps({k: truth[k] for k in ("boxes", "labels")})})
    assert without["overall"] == 0.0  # normalized reading of pixel truth: what image_size fixes


def test_openrlhf_reward_func_as_single_turn_executor_calls_it():
    reward_func = _load(openrlhf.__file__, "reward_func")
    # the prompt carries an example box; in the query its image pad is expanded (as the processor does)
    prompt = ("<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Find the cat, e.g. "
              '[{"bbox_2d": [1, 2, 3, 4], "label": "cat"}]<|im_end|>\n<|im_start|>assistant\n')
    expanded = prompt.replace("<|image_pad|>", "<|image_pad|>" * 12)
    outs = []
    for answer, truth, p in zip(ANSWERS, TRUTH, [prompt, expanded, expanded]):
        query = p + answer + "<|im_end|>"
        label = json.dumps({**truth, "image_size": [1000, 1000]})  # truth in pixels of a 1000 x 1000 image
        outs.append(asyncio.run(asyncio.to_thread(reward_func, [query], [prompt], [label])))
    want = vr.answer_set_rewards(ANSWERS, [t["boxes"] for t in TRUTH], [t["labels"] for t in TRUTH],
                                 schema=vr.Schema.qwen3vl_2d(), image_size=[[1000, 1000]] * 3)
    for i, o in enumerate(outs):
        assert o["rewards"].tolist() == pytest.approx([float(want.soft_f1[i])])
        assert o["scores"].tolist() == o["rewards"].tolist()
        assert o["extra_logs"]["precision"].tolist() == pytest.approx([float(want.precision[i])])


def test_openrlhf_response_is_cut_out_of_the_query():
    p = "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>box [1,2,3,4]?<|im_end|>\n<|im_start|>assistant\n"
    q = p.replace("<|image_pad|>", "<|image_pad|>" * 5) + "ANSWER<|im_end|><|endoftext|>"
    assert openrlhf.response_of(q, p) == "ANSWER"
    assert openrlhf.response_of(p + "A<|im_end|>", p) == "A"
    assert openrlhf.response_of("<|im_start|>assistant\nB", "unrelated") == "B"
