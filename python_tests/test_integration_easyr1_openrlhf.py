"""The EasyR1 and OpenRLHF reward functions, called the way each framework calls them. EasyR1 is
not on the registry, and openrlhf's wheel pulls deepspeed, flash-attn and ray, so these tests
replay each framework's own calling code faithfully and say which; .ci/run also installs openrlhf
0.11.2 without its dependencies, and then one test runs OpenRLHF's own SingleTurnAgentExecutor.
- EasyR1 (hiyouga/EasyR1 at b44b311, workers/reward/function.py): the function is loaded from
  "path.py:name" under the module name "custom_reward_fn", bound to reward_function_kwargs, its
  module's REWARD_TYPE read ("batch" unless set), and called with a list of {"response",
  "response_length", "ground_truth"} (batch) or one dict (sequential); it must return
  {"overall": float, ...}; the response is the first response_mask.sum() ids decoded with
  skip_special_tokens. The rollout batch is the prompt batch repeated rollout.n times
  (interleaved), one uid per prompt. The patched trainer/ray_trainer.compute_advantage
  (easyr1_grca_set.patch) calls grca_set_advantage(data, tokenizer, **reward_function_kwargs).
- OpenRLHF 0.11.2 (openrlhf/utils/agent.py, SingleTurnAgentExecutor): the module is loaded with
  importlib.util.spec_from_file_location("reward_func", path) and reward_module.reward_func is
  called through asyncio.to_thread with one-element lists [query], [prompt], [label], the query
  being hf_tokenizer.decode(prompt ids + response ids, skip_special_tokens=False)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
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


def _load(path, name, module_name="custom_reward"):
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


class _EasyR1Data:
    """EasyR1's DataProto as its trainer reads it: .batch (tensors), .non_tensor_batch (object arrays)."""

    def __init__(self, batch, non_tensor_batch):
        self.batch, self.non_tensor_batch = batch, non_tensor_batch

    def __len__(self):
        return len(self.non_tensor_batch["uid"])


def _easyr1_step(tok, answers_per_prompt, truths, kwargs, eos):
    """One EasyR1 step, replayed: the prompts repeated rollout.n times (interleaved, one uid per
    prompt), right-padded responses ending in eos, the batch reward manager's decode and call (the
    function loaded from the file, kwargs bound, REWARD_TYPE read), the reward on the last valid
    token, then the patched compute_advantage's branch."""
    import torch

    path = easyr1.__file__
    spec = importlib.util.spec_from_file_location("custom_reward_fn", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert getattr(module, "REWARD_TYPE", "batch") == "batch"
    reward_fn = partial(module.compute_score, **kwargs)
    n = len(answers_per_prompt[0])
    texts = [a for answers in answers_per_prompt for a in answers]
    uid = np.array([f"u{p}" for p in range(len(truths)) for _ in range(n)], dtype=object)
    gts = np.array([json.dumps(t) for t in truths for _ in range(n)], dtype=object)
    enc = [tok.encode(t, add_special_tokens=False) + [eos] for t in texts]
    L = max(map(len, enc)) + 2
    ids = torch.full((len(texts), L), tok.pad_token_id, dtype=torch.int64)
    mask = torch.zeros(len(texts), L, dtype=torch.int64)
    for i, e in enumerate(enc):
        ids[i, :len(e)], mask[i, :len(e)] = torch.tensor(e), 1
    data = _EasyR1Data({"responses": ids, "response_mask": mask}, {"uid": uid, "ground_truth": gts})
    lengths = mask.sum(-1)
    inputs = [{"response": tok.decode(ids[i][:int(lengths[i])], skip_special_tokens=True),
               "response_length": int(lengths[i]), "ground_truth": gts[i]} for i in range(len(texts))]
    scores = reward_fn(inputs)
    reward_tensor = torch.zeros(ids.shape, dtype=torch.float32)
    for i, sc in enumerate(scores):
        reward_tensor[i, int(lengths[i]) - 1] = sc["overall"]
    data.batch["token_level_rewards"] = reward_tensor
    # the patched branch: data.batch["advantages"], data.batch["returns"] = grca_set_advantage(data, tokenizer, **kwargs)
    data.batch["advantages"], data.batch["returns"] = module.grca_set_advantage(data, tok, **kwargs)
    return data, [x["response"] for x in inputs]


def test_the_easyr1_patch_adds_the_estimator_and_one_branch_calling_grca_set_advantage():
    import pathlib

    patch = (pathlib.Path(easyr1.__file__).parent / "easyr1_grca_set.patch").read_text()
    added = [ln[1:].strip() for ln in patch.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    assert 'GRCA_SET = "grca_set"  # verireward: per-object GRCA credit (computed in ray_trainer.compute_advantage)' in added
    assert 'data.batch["advantages"], data.batch["returns"] = grca_set_advantage(data, tokenizer, **(reward_kwargs or {}))' in added
    assert "tokenizer=self.tokenizer," in added and "reward_kwargs=self.config.worker.reward.reward_function_kwargs," in added
    assert len([ln for ln in patch.splitlines() if ln.startswith("+") and not ln.startswith("+++")]) <= 12


def test_easyr1_grca_set_step_equals_grca_set_advantages_and_its_grpo_without_per_object():
    """Replayed EasyR1 step (above), truth in original pixels with image_size, Qwen3-VL 0-1000
    answers: per-object advantages equal grca_set_advantages on the same batch; with
    per_object=False every response token gets EasyR1's GRPO advantage of the reward it logged,
    (r - mean) / (unbiased std + 1e-6) per uid."""
    import torch

    from tiny_lm import bpe_tokenizer

    a, b, c = [125, 250, 375, 750], [500, 200, 750, 500], [10, 900, 60, 990]
    box = lambda v: '{"bbox_2d": [%d, %d, %d, %d], "label": "cat"}' % tuple(v)
    answers = [["[" + ", ".join(map(box, objs)) + "]" for objs in group] for group in
               ([[a], [a, b], [c], []], [[b], [b, b], [a, b, c], [c, a]])]
    truths = [{"boxes": [[100, 100, 300, 300]], "labels": ["cat"], "image_size": [800, 400]},
              {"boxes": [[400, 80, 600, 200], [100, 100, 300, 300]], "labels": ["cat", "cat"], "image_size": [800, 400]}]
    tok = bpe_tokenizer([t for g in answers for t in g] * 3, 300)
    kwargs = {"schema": "qwen3vl_2d", "reward": "soft_f1", "threshold": 0.5}
    data, texts = _easyr1_step(tok, answers, truths, kwargs, tok.eos_token_id)
    mask = data.batch["response_mask"].bool()
    want = vr.grca_set_advantages(texts, data.batch["responses"], mask, [t["boxes"] for t in truths for _ in range(4)], 4,
                                  tokenizer=tok, gt_labels=[t["labels"] for t in truths for _ in range(4)],
                                  per_object=True, compat="verl", image_size=[[800, 400]] * 8)
    assert torch.allclose(data.batch["advantages"].double(), want.advantages.double(), atol=1e-6)
    assert data.batch["advantages"][1][mask[1]].unique().numel() > 1  # per-object credit within an answer
    flat, _ = _easyr1_step(tok, answers, truths, {**kwargs, "per_object": False}, tok.eos_token_id)
    r = flat.batch["token_level_rewards"].sum(-1).double().reshape(2, 4)
    grpo = ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-6)).reshape(-1)
    assert r[0, 0] == pytest.approx(1.0)  # the frame: 0-1000 answer against pixel truth with image_size
    for i in range(8):
        assert flat.batch["advantages"][i][mask[i]].tolist() == pytest.approx([grpo[i].item()] * int(mask[i].sum()), abs=1e-5)
    with pytest.raises(ValueError, match="tokenizer"):
        easyr1.grca_set_advantage(data, None)
    with pytest.raises(ValueError, match="data"):
        easyr1.grca_set_advantage(object(), tok)


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


def test_openrlhf_reward_func_through_the_real_single_turn_executor():
    """OpenRLHF's own SingleTurnAgentExecutor (openrlhf 0.11.2 installed without its GPU
    dependencies, as .ci/run does): it loads reward_func from verireward's file as
    --reward.remote_url names it, tokenizes the prompt, appends the engine's response tokens,
    decodes the query with special tokens and calls reward_func; vLLM's engine is a stand-in that
    returns the hand-written answer's tokens. The executor swallows a reward function's exception
    (its reward stays None), so each reward is checked to be there and equal to the set reward."""
    import types

    if os.environ.get("VERIREWARD_REQUIRE_OPENRLHF"):  # .ci/run's openrlhf step: never a skip there
        import openrlhf.utils.agent as agent
    else:
        agent = pytest.importorskip("openrlhf.utils.agent", reason="openrlhf is not installed (.ci/run installs it "
                                    "with --no-deps)")
    from tiny_lm import bpe_tokenizer

    prompt = ("<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Find the cat, e.g. "
              '[{"bbox_2d": [1, 2, 3, 4], "label": "cat"}]<|im_end|>\n<|im_start|>assistant\n')
    tok = bpe_tokenizer([prompt] + ANSWERS, 300)
    executor = agent.SingleTurnAgentExecutor(openrlhf.__file__)
    assert executor.reward_func is not None

    class Engine:  # vLLM's AsyncLLMEngine.generate, answering with a fixed text
        def __init__(self, text):
            self.ids = tok(text + "<|im_end|>", add_special_tokens=False)["input_ids"]

        async def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
            out = types.SimpleNamespace(token_ids=list(self.ids), finish_reason="stop", logprobs=None)
            return types.SimpleNamespace(outputs=[out])

    want = vr.answer_set_rewards(ANSWERS, [t["boxes"] for t in TRUTH], [t["labels"] for t in TRUTH],
                                 schema=vr.Schema.qwen3vl_2d(), image_size=[[1000, 1000]] * 3)
    for i, (answer, truth) in enumerate(zip(ANSWERS, TRUTH)):
        label = json.dumps({**truth, "image_size": [1000, 1000]})
        params = types.SimpleNamespace(max_tokens=None, logprobs=None)
        out = asyncio.run(executor.execute(prompt, label, params, 4096, tok, Engine(answer)))
        assert out["reward"] is not None, "the executor swallowed an exception of reward_func"
        assert out["reward"].tolist() == pytest.approx([float(want.soft_f1[i])])
        assert out["extra_logs"]["recall"].tolist() == pytest.approx([float(want.recall[i])])


def test_openrlhf_response_is_cut_out_of_the_query():
    p = "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>box [1,2,3,4]?<|im_end|>\n<|im_start|>assistant\n"
    q = p.replace("<|image_pad|>", "<|image_pad|>" * 5) + "ANSWER<|im_end|><|endoftext|>"
    assert openrlhf.response_of(q, p) == "ANSWER"
    assert openrlhf.response_of(p + "A<|im_end|>", p) == "A"
    assert openrlhf.response_of("<|im_start|>assistant\nB", "unrelated") == "B"


def test_openrlhf_per_image_frames_from_the_labels():
    """Qwen2.5-VL answers in pixels of the image it saw, truth in original pixels, each label its
    own image_size and resized_size (and one with image_size alone: resized under the processor's
    settings): rewards equal hand IoU in each row's frame."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    proc = Qwen2VLImageProcessorPil(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 30)
    make = openrlhf.make_reward_func(schema="qwen25vl_2d", reward="f1", processor=proc)
    rows = [([640, 480], [644, 476]), ([200, 500], [196, 504]), ([1000, 300], None)]
    truth = [100, 60, 300, 240]  # original pixels
    queries, prompts, labels = [], [], []
    for (w, h), resized in rows:
        rw, rh = resized or vr.qwen_resized_size([[w, h]], processor=proc)[0].tolist()
        seen = [truth[0] * rw / w, truth[1] * rh / h, truth[2] * rw / w, truth[3] * rh / h]
        answer = '[{"bbox_2d": [%.1f, %.1f, %.1f, %.1f], "label": "cat"}]' % tuple(seen)
        prompt = "<|im_start|>user\nfind the cat<|im_end|>\n<|im_start|>assistant\n"
        queries.append(prompt + answer + "<|im_end|>")
        prompts.append(prompt)
        label = {"boxes": [truth], "labels": ["cat"], "image_size": [w, h]}
        if resized is not None:
            label["resized_size"] = resized
        labels.append(json.dumps(label))
    with pytest.raises(ValueError, match="resized_size"):  # some rows with it, some without: said, not guessed
        make(queries, prompts, labels)
    out = [make([q], [p], [lab]) for q, p, lab in zip(queries, prompts, labels)]  # OpenRLHF calls one sample at a time
    assert [o["rewards"].item() for o in out] == pytest.approx([1.0, 1.0, 1.0])
    wrong = make([queries[0]], [prompts[0]], [json.dumps({"boxes": [truth], "labels": ["cat"],
                                                          "image_size": [640, 480], "resized_size": [320, 240]})])
    assert wrong["rewards"].item() == 0.0  # the frame is read from the label: another frame, another reward


# --- OpenRLHF's experience maker with openrlhf_grca_set.patch ---

class _Experience:
    """The fields of OpenRLHF 0.11.2's Experience that compute_advantages_and_returns reads and sets."""

    def __init__(self, **kw):
        self.advantages = self.returns = self.kl = None
        self.info = {}
        self.__dict__.update(kw)


def _openrlhf_experiences(tok, prompt, answers, truths, n, reward_func, micro=3, seed=0):
    """OpenRLHF's rollout, replayed: each prompt sampled n times; per sample the samples generator's
    Experience (sequences = prompt ids + response ids + eos, action_mask = the response positions
    shifted by one, the reward from reward_func([query], [prompt], [label]) with the query decoded
    with special tokens, index = the sample's position in prompt order), shuffled and concatenated
    into micro-batches right-padded (pad_token_id for sequences, 0 for the rest), as
    Experience.concat_experiences does. A random KL per token, as make_experience attaches."""
    import torch

    g = torch.Generator().manual_seed(seed)
    p = tok.encode(prompt, add_special_tokens=False)
    singles = []
    for k, (answer, truth) in enumerate(zip(answers, (t for t in truths for _ in range(n)))):
        r = tok.encode(answer, add_special_tokens=False) + [tok.eos_token_id]
        seq = torch.tensor(p + r)
        am = torch.zeros(len(seq), dtype=torch.int64)
        am[len(p):] = 1
        query = tok.decode(seq, skip_special_tokens=False)
        label = json.dumps(truth)
        reward = float(reward_func([query], [prompt], [label])["rewards"][0])
        singles.append(dict(sequences=seq, action_mask=am[1:], rewards=reward, index=k, labels=label))
    perm = torch.randperm(len(singles), generator=g).tolist()
    exps = []
    for lo in range(0, len(perm), micro):
        part = [singles[i] for i in perm[lo:lo + micro]]
        T = max(len(s["sequences"]) for s in part)
        seqs = torch.full((len(part), T), tok.pad_token_id, dtype=torch.int64)
        am = torch.zeros(len(part), T - 1, dtype=torch.bool)
        for i, s in enumerate(part):
            seqs[i, :len(s["sequences"])], am[i, :len(s["action_mask"])] = s["sequences"], s["action_mask"].bool()
        exps.append(_Experience(sequences=seqs, action_mask=am, rewards=torch.tensor([s["rewards"] for s in part]),
                                index=[s["index"] for s in part], labels=[s["labels"] for s in part],
                                kl=torch.rand(am.shape, generator=g) * am))
    return exps


def _openrlhf_group_norm(exps, n, kl_coef):
    """OpenRLHF 0.11.2's compute_advantages_and_returns for group_norm, transcribed: the rewards in
    index order, (r - mean) / (std + 1e-9) per n, compute_reward (the reward on the last action
    token plus -kl_coef * kl), cumulative returns (gamma 1) as the advantages; per experience
    (advantages, info["return"] = that reward's sum)."""
    import itertools

    import torch

    exp_len = [len(e.index) for e in exps]
    indices = torch.tensor(list(itertools.chain.from_iterable(e.index for e in exps)))
    raw = torch.cat([e.rewards.float() for e in exps])
    rewards = torch.empty_like(raw)
    rewards[indices] = raw
    rewards = rewards.reshape(-1, n)
    rewards = (rewards - rewards.mean(-1, keepdim=True)) / (rewards.std(-1, keepdim=True) + 1e-9)
    out = []
    for e, r in zip(exps, rewards.reshape(-1)[indices].split(exp_len)):
        eos = e.action_mask.size(1) - 1 - e.action_mask.long().fliplr().argmax(dim=1, keepdim=True)
        reward = torch.zeros_like(e.kl).scatter_(1, eos, r.unsqueeze(1).to(e.kl.dtype)) - kl_coef * e.kl
        total = reward.sum(-1)
        reward = e.action_mask * reward
        ret, cum = torch.zeros_like(reward), torch.zeros(reward.size(0))
        for t in reversed(range(reward.size(1))):
            cum = reward[:, t] + cum
            ret[:, t] = cum
        out.append((ret, total))
    return out


def test_the_openrlhf_patch_adds_the_estimator_and_one_branch_calling_grca_set_advantage():
    import pathlib

    patch = (pathlib.Path(openrlhf.__file__).parent / "openrlhf_grca_set.patch").read_text()
    added = [ln[1:].strip() for ln in patch.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    assert "return grca_set_advantage(experiences, self.tokenizer, args, kl_coef=self.kl_ctl.value)" in added
    assert 'if self.advantage_estimator == "grca_set":  # verireward: GRCA\'s per-object credit' in added
    assert any('"flash_reinforce", "grca_set"]' in a for a in added)  # the CLI choice
    assert any('"dr_grpo", "grca_set"]:' in a for a in added)  # needs n_samples_per_prompt > 1
    assert len(added) <= 8


def test_openrlhf_grca_set_equals_grca_set_advantages_and_its_group_norm_without_per_object(tmp_path):
    """The patched experience maker's branch on a replayed rollout (micro-batches shuffled out of
    prompt order, right-padded, a KL per token): per-object advantages equal grca_set_advantages
    on the responses in index order (σ + 1e-9); with per_object=False (read from the reward file
    OpenRLHF loads) and a KL in the reward, they equal OpenRLHF's own group_norm advantages."""
    import types

    import torch

    from tiny_lm import bpe_tokenizer

    a, b, c = [125, 250, 375, 750], [500, 200, 750, 500], [10, 900, 60, 990]
    box = lambda v: '{"bbox_2d": [%d, %d, %d, %d], "label": "cat"}' % tuple(v)
    answers = ["[" + ", ".join(map(box, objs)) + "]" for objs in
               ([a], [a, b], [c], [], [b], [b, b], [a, b, c], [c, a])]
    truths = [{"boxes": [[100, 100, 300, 300]], "labels": ["cat"], "image_size": [800, 400]},
              {"boxes": [[400, 80, 600, 200], [100, 100, 300, 300]], "labels": ["cat", "cat"], "image_size": [800, 400]}]
    prompt = "<|im_start|>user\nfind the cat<|im_end|>\n<|im_start|>assistant\n"
    tok = bpe_tokenizer(answers * 3 + [prompt], 300)
    files = {}
    for per_object in (True, False):
        files[per_object] = tmp_path / f"reward_{per_object}.py"
        files[per_object].write_text("from verireward.integrations.openrlhf import make_reward_func\n"
                                     f"reward_func = make_reward_func(schema='qwen3vl_2d', per_object={per_object})\n")
    args = lambda per_object: types.SimpleNamespace(
        reward=types.SimpleNamespace(remote_url=str(files[per_object]), clip_range=None),
        rollout=types.SimpleNamespace(n_samples_per_prompt=4))
    reward_func = _load(str(files[True]), "reward_func", "reward_func")
    exps = _openrlhf_experiences(tok, prompt, answers, truths, 4, reward_func)
    got = openrlhf.grca_set_advantage(exps, tok, args(True))
    want = vr.grca_set_advantages(answers, *_compact(tok, answers), [t["boxes"] for t in truths for _ in range(4)], 4,
                                  tokenizer=tok, gt_labels=[t["labels"] for t in truths for _ in range(4)],
                                  per_object=True, eps=1e-9, image_size=[[800, 400]] * 8).advantages
    for e in got:
        assert e.kl is None and torch.equal(e.returns, e.advantages)
        for i, k in enumerate(e.index):
            row = e.advantages[i][e.action_mask[i]]
            assert row.tolist() == pytest.approx(want[k][:len(row)].tolist(), abs=1e-5)
            assert e.advantages[i][~e.action_mask[i]].abs().sum() == 0
    assert any(e.advantages[i][e.action_mask[i]].unique().numel() > 2 for e in got for i in range(len(e.index)))
    kl_coef = 0.05
    exps = _openrlhf_experiences(tok, prompt, answers, truths, 4, reward_func, seed=1)
    theirs = _openrlhf_group_norm(exps, 4, kl_coef)
    ours = openrlhf.grca_set_advantage(exps, tok, args(False), kl_coef=kl_coef)
    for e, (t, r) in zip(ours, theirs):  # on the action tokens (OpenRLHF's returns before them are masked out of its loss)
        assert torch.allclose(e.advantages[e.action_mask], t[e.action_mask], atol=1e-5)
        assert e.advantages[~e.action_mask].abs().sum() == 0
        assert torch.allclose(e.info["return"], r, atol=1e-5)
    with pytest.raises(ValueError, match="tokenizer"):
        openrlhf.grca_set_advantage(exps, None, args(True))
    with pytest.raises(ValueError, match="n_samples_per_prompt"):
        openrlhf.grca_set_advantage(_openrlhf_experiences(tok, prompt, answers, truths, 4, reward_func),
                                    tok, types.SimpleNamespace(reward=None, rollout=types.SimpleNamespace(n_samples_per_prompt=3)))


def _compact(tok, answers):
    """The responses (answer ids + eos) right-padded, and their mask, in prompt order."""
    import torch

    enc = [tok.encode(t, add_special_tokens=False) + [tok.eos_token_id] for t in answers]
    L = max(map(len, enc))
    ids = torch.full((len(enc), L), tok.pad_token_id, dtype=torch.int64)
    mask = torch.zeros(len(enc), L, dtype=torch.bool)
    for i, e in enumerate(enc):
        ids[i, :len(e)], mask[i, :len(e)] = torch.tensor(e), True
    return ids, mask
