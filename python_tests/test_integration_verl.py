"""verireward inside the installed verl (its own environment; see .ci/run): the `grca` estimator,
reached through verl's own compute_advantage, is verl's GRPO when one field covers the response
and routes per field when there are several; compute_score's output reaches it through verl's
non_tensor_batch."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning", "ignore::UserWarning")

verl = pytest.importorskip("verl")

import verireward as vr  # noqa: E402
from verireward import data  # noqa: E402
from verireward.integrations import verl as vr_verl  # noqa: E402
from tiny_lm import bpe_tokenizer  # noqa: E402


def proto(tensors, non_tensors):
    from verl import DataProto

    return DataProto.from_dict(tensors=tensors, non_tensors=non_tensors)


def test_the_plugin_registers_grca_when_verl_is_imported():
    # a fresh interpreter that imports verl only: verl's entry-point discovery loads verireward's plugin
    import subprocess
    import sys

    code = ("import sys, verl\nfrom verl.trainer.ppo import core_algos, ray_trainer\n"
            "assert 'verireward.integrations.verl' in sys.modules\n"
            "assert 'grca' in core_algos.ADV_ESTIMATOR_REGISTRY\n"
            "assert getattr(ray_trainer.compute_advantage, '_verireward', False)\nprint('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]


@pytest.mark.parametrize("norm", [True, False, None])
def test_grca_without_fields_is_verls_grpo(norm):
    """Every option verl's GRPO honours (norm_adv_by_std_in_grpo: True, False = Dr.GRPO, or left
    to its default), through verl's own compute_advantage, positionally and by keyword."""
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo.ray_trainer import compute_advantage

    g = torch.Generator().manual_seed(0)
    n, L = 12, 9
    mask = torch.ones(n, L)
    mask[3, 6:] = 0
    scores = torch.rand(n, generator=g)
    tlr = torch.zeros(n, L)
    tlr[torch.arange(n), mask.sum(1).long() - 1] = scores  # the outcome reward on the last token
    uid = np.array(["a", "b", "c"] * 3 + ["d", "a", "e"], dtype=object)  # groups not contiguous; singletons
    make = lambda: proto({"token_level_rewards": tlr.clone(), "response_mask": mask.clone()}, {"uid": uid.copy()})
    kw = {} if norm is None else {"norm_adv_by_std_in_grpo": norm}
    ours = compute_advantage(make(), "grca", config=AlgoConfig(), **kw).batch["advantages"]
    theirs = compute_advantage(make(), "grpo", config=AlgoConfig(), **kw).batch["advantages"]
    assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    if norm is not None:  # positional, as verl's trainer may pass it: (data, est, gamma, lam, num_repeat, norm)
        ours = compute_advantage(make(), "grca", 1.0, 1.0, 1, norm, AlgoConfig()).batch["advantages"]
        assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    if norm is False:  # Dr.GRPO: the advantages are r - mean, not standardized (verl's +-0.5 on 0/1 rewards)
        assert not torch.allclose(ours, compute_advantage(make(), "grpo", config=AlgoConfig()).batch["advantages"])


def test_grca_routes_compute_score_fields_inside_verl():
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo.ray_trainer import compute_advantage

    from verireward.examples.verl_grca import synthetic_batch

    samples = data.grounding_samples(2, seed=3)
    tok = bpe_tokenizer([s.target for s in samples] * 2, 400)
    vr_verl.configure(tok, lam=0.15, schema=data.grounding_schema())
    G = 4
    texts, infos, tensors, non_tensors = synthetic_batch(tok, samples, G)  # as verl stores scored completions
    responses, mask = tensors["responses"], tensors["response_mask"]
    dp = proto(tensors, non_tensors)
    adv = compute_advantage(dp, "grca", config=AlgoConfig()).batch["advantages"]
    dr = compute_advantage(proto(tensors, non_tensors), "grca", config=AlgoConfig(), norm_adv_by_std_in_grpo=False).batch["advantages"]
    # verireward's own pipeline on the same completions
    out = vr.GroundingVerifier(data.grounding_schema())(texts, {
        "bbox2d": torch.tensor(np.stack([s.bbox2d for s in samples for _ in range(G)])),
        "bbox3d": torch.tensor(np.stack([s.bbox3d for s in samples for _ in range(G)]))},
        camera=tuple(torch.tensor(np.stack([getattr(s, k) for s in samples for _ in range(G)])) for k in "KRt"),
        image_size=(512, 512))
    offsets = vr.token_char_offsets(tok, responses, mask.bool(), texts=texts)
    geo = [out.fields.index(f) for f in out.reward_fields]
    spans = vr.char_to_token_spans(out.char_spans[:, geo], offsets, mask.sum(1).long())
    want = vr.routed_advantages(out.rewards, spans, mask.bool(), G, rpc=out.rpc, lam=0.15, compat="verl")
    assert torch.allclose(adv.double(), want, rtol=1e-5, atol=1e-6)
    want_dr = vr.routed_advantages(out.rewards, spans, mask.bool(), G, rpc=out.rpc, lam=0.15, compat="verl", scale="none")
    assert torch.allclose(dr.double(), want_dr, rtol=1e-5, atol=1e-6)
    assert any(len(set(row[m.bool()].tolist())) > 1 for row, m in zip(adv, mask))  # several fields: routed


def test_ap_grpo_estimator_inside_verl_follows_the_step():
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo.ray_trainer import compute_advantage

    vr_verl.configure(None, total_steps=4, schedule="linear", k_min=1.0, k_max=20.0)
    answers = [1.5, 2.0]
    texts = ["It is 1.4 m", "1.5", "about 3", "no idea", "2.1", "2", "1.0", "two metres"]
    infos = [vr_verl.compute_score_numeric("synthetic", t, answers[i // 4]) for i, t in enumerate(texts)]
    n, L = len(texts), 5
    mask = torch.ones(n, L)
    mask[3, 2:] = 0
    tlr = torch.zeros(n, L)
    tlr[:, 0] = torch.tensor([x["score"] for x in infos])
    uid = np.array(["q0"] * 4 + ["q1"] * 4, dtype=object)
    err = torch.tensor([x["vr_error"] for x in infos], dtype=torch.float64)
    for step in range(2):
        dp = proto({"token_level_rewards": tlr.clone(), "response_mask": mask.clone()},
                   {"uid": uid, "vr_error": np.array([x["vr_error"] for x in infos])})
        norm = step == 0  # step 1 runs Dr.GRPO
        adv = compute_advantage(dp, "ap_grpo", config=AlgoConfig(), norm_adv_by_std_in_grpo=norm).batch["advantages"]
        r = vr.snra(err, vr.sharpness(step, 4, "linear", 1.0, 20.0), e_max=10.0)
        total = vr.composite_reward(r, torch.isfinite(err).double(), 0.1)
        want = vr.ap_grpo_advantages(total, r, 4, compat="verl", scale="group" if norm else "none")[:, None] * mask
        assert torch.allclose(adv.double(), want, rtol=1e-5, atol=1e-6)
    assert math.isnan(infos[3]["vr_error"]) and infos[1]["score"] == 1.0


def test_the_verl_example_runs():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-W", "ignore", "-m", "verireward.examples.verl_grca"], capture_output=True,
                         text=True, cwd="/", timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [l for l in out.stdout.splitlines() if l.startswith("completion ")]
    assert len(lines) == 8 and all("token advantages take values" in l for l in lines)


def test_estimators_reject_missing_inputs():
    mask = torch.ones(2, 3)
    uid = np.array(["a", "a"], dtype=object)
    vr_verl.configure(None)
    with pytest.raises(ValueError, match="call verireward.integrations.verl.configure\\(tokenizer\\)"):
        vr_verl.grca_advantage(torch.zeros(2, 3), mask, uid, None,
                               {"vr_field_rewards": np.zeros((2, 4)), "vr_char_spans": np.zeros((2, 4, 2))},
                               {"responses": torch.zeros(2, 3, dtype=torch.long)})
    with pytest.raises(ValueError, match="must be verireward.integrations.verl.compute_score_numeric"):
        vr_verl.ap_grpo_advantage(torch.zeros(2, 3), mask, uid, None, {})
    out = vr_verl.compute_score_numeric("s", "no number", "1.5")  # a completion without a number: score 0, NaN error
    assert out["score"] == 0.0 and math.isnan(out["vr_error"])


def test_grca_set_inside_verl_equals_grca_set_advantages():
    """compute_score_set per sample, then the grca_set estimator through verl's compute_advantage
    (groups by uid, not contiguous): the same advantages as grca_set_advantages on the batch."""
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo.ray_trainer import compute_advantage

    gt = [[0.1, 0.1, 0.3, 0.3], [0.5, 0.5, 0.8, 0.9]]
    box = lambda b: '{"bbox_2d": [%d, %d, %d, %d], "label": "cup"}' % tuple(b)
    a, b, c = [100, 100, 300, 300], [520, 480, 790, 900], [10, 900, 60, 990]
    texts = ["[" + ", ".join(map(box, objs)) + "]" for objs in
             ([a, b], [a, a], [b], [], [a, b, c], [c], [a], [b, b])]
    uid = np.array(["p", "q", "p", "q", "p", "q", "p", "q"], dtype=object)
    tok = bpe_tokenizer(texts * 3, 300)
    vr_verl.configure(tok, set_schema=vr.Schema.qwen3vl_2d(), set_per_object=True)
    try:
        enc = [tok.encode(t, add_special_tokens=False) for t in texts]
        texts = [tok.decode(e, skip_special_tokens=True) for e in enc]
        L = max(map(len, enc)) + 2
        ids = torch.zeros(len(texts), L, dtype=torch.int64)
        mask = torch.zeros(len(texts), L)
        for i, e in enumerate(enc):
            ids[i, :len(e)], mask[i, :len(e)] = torch.tensor(e), 1
        scored = [vr_verl.compute_score_set("d", t, {"boxes": gt, "labels": ["cup", "cup"]}) for t in texts]
        non_tensors = {"uid": uid}
        for k in ("vr_set_reward", "vr_object_ious", "vr_object_spans"):  # as verl stores them: one object per row
            col = np.empty(len(texts), dtype=object)
            col[:] = [s[k] for s in scored]
            non_tensors[k] = col
        tlr = torch.zeros(len(texts), L)
        d = proto({"token_level_rewards": tlr, "response_mask": mask, "responses": ids}, non_tensors)
        got = compute_advantage(d, "grca_set", config=AlgoConfig()).batch["advantages"]
        order = [0, 2, 4, 6, 1, 3, 5, 7]
        want = vr.grca_set_advantages([texts[i] for i in order], ids[order], mask[order].bool(),
                                      [gt] * 8, 4, tokenizer=tok, schema=vr.Schema.qwen3vl_2d(),
                                      gt_labels=[["cup", "cup"]] * 8, per_object=True, compat="verl")
        assert torch.allclose(got[order], want.advantages, atol=1e-6)
        assert len({round(v, 5) for v in got[1][mask[1].bool()].tolist()}) > 1  # the duplicate's tokens differ
    finally:
        vr_verl.configure()


# --- verl's own reward-loop code: the worker that scores, the collation that stacks, the estimator ---

def _ragged_batch(tok, texts, prompt="find the cups"):
    """A verl rollout batch as verl's agent loop builds it: left-padded prompts, right-padded
    responses, attention_mask over both, and the reward columns of verl's RL dataset."""
    p = tok.encode(prompt, add_special_tokens=False)
    enc = [tok.encode(t, add_special_tokens=False) for t in texts]
    n, P, L = len(texts), len(p) + 1, max(map(len, enc)) + 2
    prompts = torch.zeros(n, P, dtype=torch.int64)
    prompts[:, 1:] = torch.tensor(p)
    responses = torch.zeros(n, L, dtype=torch.int64)
    attention = torch.zeros(n, P + L, dtype=torch.int64)
    attention[:, 1:P] = 1
    for i, e in enumerate(enc):
        responses[i, :len(e)] = torch.tensor(e)
        attention[i, P:P + len(e)] = 1
    return prompts, responses, attention


def _reward_loop_config(tmp_path, tok, name, reward_kwargs):
    from omegaconf import OmegaConf

    tok.save_pretrained(tmp_path / "tok")
    return OmegaConf.create({
        "actor_rollout_ref": {"model": {"path": str(tmp_path / "tok"), "tokenizer_path": str(tmp_path / "tok")}},
        "reward": {"num_workers": 1, "reward_model": {"enable": False},
                   "reward_manager": {"name": "naive", "source": "register"},
                   # the documented path: the file itself (verl loads it as a module of its own)
                   "custom_reward_function": {"path": vr_verl.__file__, "name": name, "reward_kwargs": reward_kwargs}}})


def _reward_loop_scores(config, batch, monkeypatch):
    """verl's RewardLoopWorker scores the batch (verl loads the reward function from the file and
    binds its reward_kwargs), then RewardLoopManager.compute_rm_score collates what it returned:
    np.array([info[key] ...]) per key. Ray is replaced by a handle that returns the worker's output."""
    from verl.experimental.reward_loop import reward_loop

    worker = reward_loop.RewardLoopWorker(config)
    scored = worker.loop.run_until_complete(worker.compute_score_batch(batch))

    class Handle:  # a Ray actor handle stand-in: .compute_score_batch.remote(chunk) -> the chunk's outputs
        class compute_score_batch:
            @staticmethod
            def remote(chunk):
                assert len(chunk) == len(batch)
                return scored

    manager = object.__new__(reward_loop.RewardLoopManager)
    manager.reward_model_manager, manager.reward_loop_workers = None, [Handle()]
    manager.reward_manager_cls = reward_loop.resolve_reward_manager_cls(config)
    monkeypatch.setattr(reward_loop.ray, "get", lambda refs: list(refs))
    return manager.compute_rm_score(batch)


def test_verls_reward_loop_collates_ragged_set_scores_and_grca_set_reads_them(tmp_path, monkeypatch):
    """verl 0.9.1's own path, without Ray: RewardLoopWorker (verl loads compute_score_set from the
    file, binds reward_kwargs, NaiveRewardManager decodes and calls it), RewardLoopManager.
    compute_rm_score (its np.array collation of every returned key, answers with 0 to 3 objects),
    the union into the batch, then compute_advantage(grca_set): equal to grca_set_advantages."""
    from verl import DataProto
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo.ray_trainer import compute_advantage
    from verl.trainer.ppo.reward import extract_reward

    gt = [[100, 100, 300, 300], [520, 480, 790, 900]]  # original pixels of an 800 x 1000 image
    box = lambda b: '{"bbox_2d": [%d, %d, %d, %d], "label": "cup"}' % tuple(b)
    a, b, c = [125, 100, 375, 300], [650, 480, 988, 900], [10, 900, 60, 990]  # 0-1000: a, b are the truth
    texts = ["[" + ", ".join(map(box, objs)) + "]" for objs in
             ([a, b], [a, a], [b], [], [a, b, c], [c], [a], [b, b])]
    uid = np.array(["p", "q", "p", "q", "p", "q", "p", "q"], dtype=object)
    tok = bpe_tokenizer(texts * 3 + ["find the cups"], 300)
    prompts, responses, attention = _ragged_batch(tok, texts)
    n = len(texts)
    truth = json.dumps({"boxes": gt, "labels": ["cup", "cup"]})
    batch = DataProto.from_dict(
        tensors={"prompts": prompts, "responses": responses, "attention_mask": attention,
                 "response_mask": attention[:, prompts.shape[1]:].clone()},
        non_tensors={"uid": uid, "data_source": np.array(["cups"] * n, dtype=object),
                     "reward_model": np.array([{"ground_truth": truth}] * n, dtype=object),
                     "extra_info": np.array([{"image_size": [800, 1000]} for _ in range(n)], dtype=object)})
    config = _reward_loop_config(tmp_path, tok, "compute_score_set", {"schema": "qwen3vl_2d", "reward": "f1"})
    batch = batch.union(_reward_loop_scores(config, batch, monkeypatch))
    reward_tensor, infos = extract_reward(batch)
    want_r = vr.answer_set_rewards(texts, [gt] * n, [["cup", "cup"]] * n, image_size=[[800, 1000]] * n)
    assert reward_tensor.sum(-1).tolist() == pytest.approx(want_r.f1.tolist(), abs=1e-6)  # score = the chosen reward
    assert infos["soft_f1"].tolist() == pytest.approx(want_r.soft_f1.tolist())
    assert want_r.f1[0] == 1.0 and want_r.f1[5] == 0.0  # the frame from extra_info: 0-1000 against pixel truth
    batch.batch["token_level_rewards"] = batch.batch["rm_scores"]
    vr_verl.configure(tok)
    try:
        got = compute_advantage(batch, "grca_set", config=AlgoConfig()).batch["advantages"]
    finally:
        vr_verl.configure()
    mask = batch.batch["response_mask"].bool()
    order = [0, 2, 4, 6, 1, 3, 5, 7]
    decoded = [tok.decode(responses[i][mask[i]], skip_special_tokens=True) for i in order]
    want = vr.grca_set_advantages(decoded, responses[order], mask[order], [gt] * n, 4, tokenizer=tok,
                                  gt_labels=[["cup", "cup"]] * n, reward="f1", per_object=True, compat="verl",
                                  image_size=[[800, 1000]] * n)
    assert torch.allclose(got[order], want.advantages.to(got.dtype), atol=1e-6)
    assert got.abs().sum() > 0


@pytest.mark.parametrize("kwargs, lam", [({"lam": 0.3, "schema": "grounding"}, 0.3), ({"use_rpc": False, "schema": "grounding"}, 0.0)])
def test_compute_score_takes_its_options_from_reward_kwargs_in_verls_reward_loop(tmp_path, monkeypatch, kwargs, lam):
    """The one-object compute_score in verl's own reward loop with reward_kwargs (λ, use_rpc, the
    schema as a list of Field arguments, as a YAML config holds it): score mixes RPC with that λ,
    and the grca estimator in the driver (configure()'s defaults: λ 0.15, RPC on) routes with the
    λ the reward function used (vr_lam), equal to routed_advantages with it."""
    from verl import DataProto
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo.ray_trainer import compute_advantage

    from verireward.examples.verl_grca import synthetic_batch

    if kwargs.get("schema") == "grounding":
        kwargs = {**kwargs, "schema": data.grounding_schema().to_json()}
    samples = data.grounding_samples(2, seed=5)
    tok = bpe_tokenizer([s.target for s in samples] * 2 + ["find the cups"], 400)
    G = 4
    texts = synthetic_batch(tok, samples, G)[0]
    prompts, responses, attention = _ragged_batch(tok, texts)
    n = len(texts)
    truths = [json.dumps({"bbox2d": s.bbox2d.tolist(), "bbox3d": s.bbox3d.tolist(), "K": s.K.tolist(),
                          "R": s.R.tolist(), "t": s.t.tolist()}) for s in samples for _ in range(G)]
    batch = DataProto.from_dict(
        tensors={"prompts": prompts, "responses": responses, "attention_mask": attention,
                 "response_mask": attention[:, prompts.shape[1]:].clone()},
        non_tensors={"uid": np.array([f"p{i // G}" for i in range(n)], dtype=object),
                     "data_source": np.array(["synthetic"] * n, dtype=object),
                     "reward_model": np.array([{"ground_truth": t} for t in truths], dtype=object),
                     "extra_info": np.array([{} for _ in range(n)], dtype=object)})
    config = _reward_loop_config(tmp_path, tok, "compute_score", kwargs)
    batch = batch.union(_reward_loop_scores(config, batch, monkeypatch))
    batch.batch["token_level_rewards"] = batch.batch["rm_scores"]
    vr_verl.configure(tok)  # the driver's defaults, which the reward kwargs must win over
    try:
        got = compute_advantage(batch, "grca", config=AlgoConfig()).batch["advantages"]
    finally:
        vr_verl.configure()
    mask = batch.batch["response_mask"].bool()
    decoded = [tok.decode(responses[i][mask[i]], skip_special_tokens=True) for i in range(n)]
    out = vr.GroundingVerifier(data.grounding_schema())(decoded, {
        "bbox2d": torch.tensor(np.stack([s.bbox2d for s in samples for _ in range(G)])),
        "bbox3d": torch.tensor(np.stack([s.bbox3d for s in samples for _ in range(G)]))},
        camera=tuple(torch.tensor(np.stack([getattr(s, k) for s in samples for _ in range(G)])) for k in "KRt"),
        image_size=(512, 512))
    score = (1 - lam) * out.rewards.mean(1) + lam * out.rpc
    assert batch.batch["rm_scores"].sum(-1).tolist() == pytest.approx(score.tolist(), abs=1e-6)
    assert batch.non_tensor_batch["vr_lam"].tolist() == [lam] * n
    offsets = vr.token_char_offsets(tok, responses, mask, texts=decoded)
    geo = [out.fields.index(f) for f in out.reward_fields]
    spans = vr.char_to_token_spans(out.char_spans[:, geo], offsets, mask.sum(1).long())
    want = vr.routed_advantages(out.rewards, spans, mask, G, rpc=out.rpc if lam else None, lam=lam, compat="verl")
    assert torch.allclose(got.double(), want, rtol=1e-5, atol=1e-6)
    assert out.rpc.min() < 1 and got.abs().sum() > 0  # RPC is not trivially 1: λ changes the background


def test_compute_score_batch_inside_verls_batch_reward_manager():
    """verl's BatchRewardManager (verl.workers.reward_manager, reward_manager=batch before the
    reward loop): it decodes the batch and calls compute_score_batch once; rewards on the last
    token, every returned key kept."""
    from verl import DataProto
    from verl.workers.reward_manager.batch import BatchRewardManager

    texts = ['[{"bbox_2d": [100, 100, 300, 300], "label": "cup"}]', "none", '[{"bbox_2d": [1, 1, 2, 2], "label": "x"}]']
    tok = bpe_tokenizer(texts * 3 + ["find the cups"], 300)
    prompts, responses, attention = _ragged_batch(tok, texts)
    truths = [{"boxes": [[0.1, 0.1, 0.3, 0.3]], "labels": ["cup"]}, {"boxes": [], "labels": []},
              {"boxes": [[0.1, 0.1, 0.3, 0.3], [0.5, 0.5, 0.6, 0.6]], "labels": ["cup", "x"]}]
    data = DataProto.from_dict(
        tensors={"prompts": prompts, "responses": responses, "attention_mask": attention},
        non_tensors={"data_source": np.array(["d"] * 3, dtype=object),
                     "reward_model": np.array([{"ground_truth": json.dumps(t)} for t in truths], dtype=object),
                     "extra_info": np.array([{} for _ in truths], dtype=object)})
    manager = BatchRewardManager(tok, 0, vr_verl.compute_score_batch, reward="soft_f1")
    out = manager(data, return_dict=True)
    want = vr.answer_set_rewards(texts, [t["boxes"] for t in truths], [t["labels"] for t in truths])
    assert out["reward_tensor"].sum(-1).tolist() == pytest.approx(want.soft_f1.tolist(), abs=1e-6)
    lengths = attention[:, prompts.shape[1]:].sum(-1)
    assert all(out["reward_tensor"][i, lengths[i] - 1] == out["reward_tensor"][i].sum() for i in range(3))
    assert out["reward_extra_info"]["precision"] == pytest.approx(want.precision.tolist())
    assert want.soft_f1[0] == pytest.approx(1.0) and want.soft_f1[1] == 1.0  # an empty truth answered "none"


def test_a_2d_only_schema_gives_verl_grca_the_same_advantages_as_the_trl_trainer():
    """No camera, no RPC: compute_score sends no vr_rpc, so verl's grca mixes nothing into the
    background (an RPC of 0 would make it 0.85 Â); equal to the call TRL's GRCAGRPOTrainer makes
    (grca_advantages, use_rpc on), under verl's standardization."""
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo.ray_trainer import compute_advantage

    from verireward.grca.fields import grca_advantages

    schema = vr.Schema([vr.Field("bbox2d", "box2d")])
    gt = [0.1, 0.2, 0.5, 0.6]
    texts = ['{"bbox2d": [0.1, 0.2, 0.5, 0.6]} ok', 'so {"bbox2d": [0.2, 0.2, 0.5, 0.7]}', "no box",
             '{"bbox2d": [0.1, 0.25, 0.5, 0.6]} fine']
    tok = bpe_tokenizer(texts * 3, 300)
    vr_verl.configure(tok, schema=schema)
    try:
        scored = [vr_verl.compute_score("d", t, {"bbox2d": gt}) for t in texts]
        assert all("vr_rpc" not in s for s in scored)
        enc = [tok.encode(t, add_special_tokens=False) for t in texts]
        L = max(map(len, enc)) + 1
        ids, mask = torch.zeros(4, L, dtype=torch.int64), torch.zeros(4, L)
        for i, e in enumerate(enc):
            ids[i, :len(e)], mask[i, :len(e)] = torch.tensor(e), 1
        non_tensors = {"uid": np.array(["g"] * 4, dtype=object)}
        for k in ("vr_field_rewards", "vr_char_spans"):
            non_tensors[k] = np.array([s[k] for s in scored])  # verl's collation
        tlr = torch.zeros(4, L)
        tlr[torch.arange(4), mask.sum(1).long() - 1] = torch.tensor([s["score"] for s in scored])
        got = compute_advantage(proto({"token_level_rewards": tlr, "response_mask": mask, "responses": ids}, non_tensors),
                                "grca", config=AlgoConfig()).batch["advantages"]
    finally:
        vr_verl.configure()
    decoded = [tok.decode(e, skip_special_tokens=True) for e in enc]
    want = grca_advantages(decoded, ids, mask.bool(), {"bbox2d": torch.tensor([gt] * 4, dtype=torch.float64)}, 4,
                           tokenizer=tok, schema=schema, use_rpc=True, compat="verl").advantages
    assert torch.allclose(got.double(), want.double(), atol=1e-6)
    r = torch.tensor([s["score"] for s in scored], dtype=torch.float64)
    a_hat = (r - r.mean()) / (r.std() + 1e-6)
    for i, e in enumerate(enc):  # the background (the last token here is outside every value) gets Â
        assert got[i, len(e) - 1].item() == pytest.approx(a_hat[i].item(), abs=1e-5)


def test_the_file_verl_loads_shares_the_package_state_and_the_trainer_hands_over_its_tokenizer():
    """custom_reward_function.path=<verl.py> makes verl load the file as a module of its own: it
    shares the package module's state (configure reaches it). verl's RayPPOTrainer, when built,
    gives the estimators its tokenizer unless configure() was given one."""
    from verl.trainer.ppo import ray_trainer
    from verl.utils.import_utils import load_extern_object

    loaded = load_extern_object(vr_verl.__file__, "compute_score_set")
    assert loaded.__module__ != vr_verl.__name__ and loaded.__globals__["STATE"] is vr_verl.STATE
    tok = bpe_tokenizer(["a b c"] * 3, 260)
    vr_verl.configure()
    try:
        with pytest.raises(Exception):  # no real config: verl's own __init__ fails after the hand-over
            ray_trainer.RayPPOTrainer(config=None, tokenizer=tok, role_worker_mapping={}, resource_pool_manager=None)
        assert vr_verl.STATE["tokenizer"] is tok
        other = bpe_tokenizer(["d e f"] * 3, 260)
        with pytest.raises(Exception):
            ray_trainer.RayPPOTrainer(None, other, {}, None)
        assert vr_verl.STATE["tokenizer"] is tok  # one already known is kept
    finally:
        vr_verl.configure()
