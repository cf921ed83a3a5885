"""verireward inside the installed TRL: a real GRPOTrainer.train() on a tiny random-weight Qwen2 and
a tokenizer trained here, with verireward's per-field reward functions, and the GRCA subclass whose
routed advantages must be what reaches TRL's loss."""

from __future__ import annotations

import math
import random

import pytest
import torch

import verireward as vr
from verireward import data

# TRL and transformers warn about their own deprecations while they set up; those are not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning", "ignore::UserWarning")

trl = pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")

from verireward.integrations.trl import GroundingRewards  # noqa: E402
from tiny_lm import bpe_tokenizer, scripted_grounding_qwen2, tiny_qwen2  # noqa: E402


@pytest.fixture(scope="module")
def records():
    samples = data.grounding_samples(8, seed=21)
    return [{"prompt": f"Locate the {s.name}.", "bbox2d": s.bbox2d.tolist(), "bbox3d": s.bbox3d.tolist(),
             "K": s.K.tolist(), "R": s.R.tolist(), "t": s.t.tolist(), "target": s.target} for s in samples]


@pytest.fixture(scope="module")
def tokenizer(records):
    return bpe_tokenizer([r["target"] for r in records] + [r["prompt"] for r in records], 400)


def loss_spy(trainer):
    """(completion_ids, advantages) of every batch that reaches TRL's loss."""
    seen = []
    inner = trainer._compute_loss

    def spy(model, inputs):
        seen.append((inputs["completion_ids"].clone(), inputs["advantages"].detach().clone()))
        return inner(model, inputs)

    trainer._compute_loss = spy
    return seen


def scripted_model(tokenizer, records):
    return scripted_grounding_qwen2(tokenizer, records)


def config(tmp_path, **kw):
    from trl import GRPOConfig

    return GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=4, max_completion_length=256,
                      max_steps=2, learning_rate=1e-2, report_to=[], logging_steps=1, save_strategy="no", use_cpu=True,
                      bf16=False, beta=0.0, seed=0, **kw)


def test_plain_grpo_trainer_with_verireward_reward_functions(tmp_path, tokenizer, records):
    from trl import GRPOTrainer

    model = scripted_model(tokenizer, records)
    before = [p.detach().clone() for p in model.parameters()]
    rewards = GroundingRewards(data.grounding_schema())
    trainer = GRPOTrainer(model=model, reward_funcs=rewards.functions(), args=config(tmp_path),
                          train_dataset=datasets.Dataset.from_list(records), processing_class=tokenizer)
    trainer.train()
    logged = {k for row in trainer.state.log_history for k in row}
    assert {"rewards/verireward_bbox2d/mean", "rewards/verireward_kpts3d/mean", "rewards/verireward_rpc/mean"} <= logged
    assert any(row.get("rewards/verireward_bbox2d/mean", 0) > 0 for row in trainer.state.log_history)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_grca_grpo_trainer_routes_advantages_into_trl_loss(tmp_path, tokenizer, records):
    from verireward.integrations.trl import GRCAGRPOTrainer

    model = scripted_model(tokenizer, records)
    before = [p.detach().clone() for p in model.parameters()]
    rewards = GroundingRewards(data.grounding_schema())
    trainer = GRCAGRPOTrainer(model=model, args=config(tmp_path), train_dataset=datasets.Dataset.from_list(records),
                              processing_class=tokenizer, grounding=rewards, mode="routed_rpc")
    seen = loss_spy(trainer)
    trainer.train()
    assert seen and all(adv.dim() == 2 for _, adv in seen)  # per-token advantages reached the loss
    # each completion's advantages in the loss are the ones verireward routed for it (TRL shuffles rows)
    ids, _, routed = trainer.last_routed
    by_ids = {}
    for row_ids, row_adv in zip(ids.tolist(), routed):
        by_ids.setdefault(tuple(row_ids), []).append(row_adv)
    loss_ids, loss_adv = seen[-1]
    for row_ids, row_adv in zip(loss_ids.tolist(), loss_adv):
        assert any(torch.equal(row_adv, a) for a in by_ids[tuple(row_ids)])
    assert any(len(set(row[row != 0].tolist())) > 1 for row in loss_adv)  # routed: tokens of a completion differ
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(math.isfinite(row.get("loss", 0.0)) for row in trainer.state.log_history)


def test_ap_grpo_trainer_in_trl_with_snra_following_the_step(tmp_path, tokenizer):
    from verireward.integrations.trl import NumericGRPOTrainer, NumericRewards

    from transformers import Qwen2ForCausalLM

    questions = [{"prompt": q.question, "answer": q.answer} for q in data.numeric_questions(8, seed=4)]

    class Scripted(Qwen2ForCausalLM):  # half of each group writes a number near the answer
        def generate(self, input_ids=None, attention_mask=None, **kwargs):
            out = super().generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
            P, rng = input_ids.shape[1], random.Random(int(out.sum()))
            rows = [out[k, P:].tolist() if k % 2 else tokenizer(f"{rng.uniform(0.3, 3.0):.2f}")["input_ids"] +
                    [tokenizer.eos_token_id] for k in range(out.shape[0])]
            new = torch.full((out.shape[0], P + max(map(len, rows))), tokenizer.pad_token_id, dtype=out.dtype)
            new[:, :P] = out[:, :P]
            for k, r in enumerate(rows):
                new[k, P:P + len(r)] = torch.tensor(r, dtype=out.dtype)
            return new

    model = tiny_qwen2(tokenizer, cls=Scripted)
    numeric = NumericRewards(schedule="linear", k_max=20.0)
    args = config(tmp_path, reward_weights=[0.9, 0.1])
    args.max_completion_length = 16
    trainer = NumericGRPOTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list(questions),
                            processing_class=tokenizer, numeric=numeric)
    seen = loss_spy(trainer)
    trainer.train()
    # the SNRA sharpness followed the trainer's step: the last batch used the linear schedule at step 1 of 2
    assert numeric.last[3] == vr.sharpness(1, 2, "linear", 1.0, 20.0)
    ids, adv = trainer.last_ap
    want = {tuple(i): a for i, a in zip(ids.tolist(), adv.tolist())}
    loss_ids, loss_adv = seen[-1]
    assert loss_adv.dim() == 1 and all(want[tuple(i)] == a for i, a in zip(loss_ids.tolist(), loss_adv.tolist()))
    assert adv.abs().max() <= 1.5 + 1e-6 and adv.abs().max() > 0
    _, r, fmt, _ = numeric.last  # the last batch's SNRA and format rewards, in the rows' order
    total = (0.9 * r + 0.1 * fmt).float().double()
    recomputed = vr.ap_grpo_advantages(total, r.float().double().clamp(0, 1), 4, compat="trl")
    assert torch.allclose(adv.double(), recomputed, rtol=1e-5, atol=1e-6)
    logged = {k for row in trainer.state.log_history for k in row}
    assert {"rewards/verireward_snra/mean", "rewards/verireward_format/mean"} <= logged


def test_the_trl_example_runs():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-W", "ignore", "-m", "verireward.examples.trl_grca", "--steps", "1", "--samples", "8"],
                         capture_output=True, text=True, cwd="/", timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "rewards/verireward_bbox2d/mean" in out.stdout and "routed advantages (4, " in out.stdout
    assert "SFT anchor: 300 steps" in out.stdout and "tokens non-zero" in out.stdout  # from the anchor, rewards move


def test_groups_split_over_two_processes_are_standardized_whole(tmp_path):
    # accelerate launch, 2 CPU processes: each of TRL's groups of 4 has 2 completions on each process.
    # The routed advantages the processes produced together equal verireward's single-process
    # pipeline on the whole batch.
    import os
    import shutil
    import socket
    import subprocess
    import sys
    from pathlib import Path

    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if accelerate is None:
        pytest.skip("accelerate is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    worker = Path(__file__).resolve().parent / "trl_worker.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                          "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", port,
                          str(worker), str(tmp_path)], capture_output=True, text=True, env=env, cwd="/", timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    parts = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    assert [p["world"] for p in parts] == [2, 2]
    texts = parts[0]["texts"] + parts[1]["texts"]
    gt = parts[0]["gt"] + parts[1]["gt"]
    T = max(p["ids"].shape[1] for p in parts)
    pad = lambda x, v: torch.nn.functional.pad(x, (0, T - x.shape[1]), value=v)
    ids = torch.cat([pad(p["ids"], 0) for p in parts])
    mask = torch.cat([pad(p["mask"].long(), 0) for p in parts]).bool()
    adv = torch.cat([pad(p["adv"], 0.0) for p in parts])
    f64 = dict(dtype=torch.float64)
    ver = vr.GroundingVerifier(data.grounding_schema())(
        texts, {k: torch.tensor([g[k] for g in gt], **f64) for k in ("bbox2d", "bbox3d")},
        camera=tuple(torch.tensor([g[k] for g in gt], **f64) for k in ("K", "R", "t")), image_size=(512, 512))
    assert (ver.rewards.sum(1) > 0).any()  # the scripted completions score
    from trl_worker import worker_records, worker_tokenizer

    tok = worker_tokenizer(worker_records())  # the workers' tokenizer, rebuilt (trained deterministically)
    offsets = vr.token_char_offsets(tok, ids, mask, texts=texts)
    geo = [ver.fields.index(f) for f in ver.reward_fields]
    spans = vr.char_to_token_spans(ver.char_spans[:, geo], offsets, mask.sum(1))
    rewards, rpc = ver.rewards.float().double(), ver.rpc.float().double()  # TRL's rewards are float32
    A, A_rpc = vr.group_standardize(rewards, 4, compat="trl"), vr.group_standardize(rpc, 4, compat="trl")
    want = vr.routed_advantages(A, spans, mask, 1, rpc=A_rpc, lam=0.15, standardized=True)
    assert torch.allclose(adv.double(), want, rtol=1e-5, atol=1e-5)
    assert (adv != 0).any()



def test_grounding_rewards_and_trainer_reject_misuse():
    from verireward.integrations.trl import GRCAGRPOTrainer

    fns = GroundingRewards(data.grounding_schema()).functions()
    assert [f.__name__ for f in fns] == ["verireward_bbox2d", "verireward_bbox3d", "verireward_kpts2d",
                                         "verireward_kpts3d", "verireward_rpc"]
    with pytest.raises(ValueError, match="the dataset needs a 'bbox3d' column"):
        fns[0](prompts=["p"], completions=["{}"], bbox2d=[[0, 0, 1, 1]])
    # malformed completions score 0, never raise (conversational form too)
    out = fns[0](prompts=["p", "p"], completions=["not json", [{"role": "assistant", "content": "{"}]],
                 bbox2d=[[0, 0, 1, 1]] * 2, bbox3d=[[0, 0, 0, 1, 1, 1]] * 2)
    assert out == [0.0, 0.0]
    with pytest.raises(ValueError, match="mode' must be one of 'broadcast', 'routed', 'routed_rpc'"):
        GRCAGRPOTrainer(model=None, grounding=GroundingRewards(data.grounding_schema()), mode="grpo")


def test_reward_caches_never_return_another_batchs_rewards(records):
    """A collapsed policy repeats its completions: the same texts against other ground truth (or
    another step, other answers) must be scored again, not served from the cache."""
    from verireward.integrations.trl import NumericRewards

    rewards = GroundingRewards(data.grounding_schema())
    f2d = rewards.functions()[0]
    texts = [records[0]["target"]] * 2
    cols = lambda r: {k: [r[k]] * 2 for k in ("bbox2d", "bbox3d", "K", "R", "t")}
    first = f2d(completions=texts, **cols(records[0]))
    second = f2d(completions=texts, **cols(records[1]))
    assert first[0] > 0.99 and second[0] < first[0] - 0.05  # the target is quantized: IoU just under 1
    moved = dict(cols(records[0]), t=[[x + 5.0 for x in records[0]["t"]]] * 2)  # only the camera differs
    assert rewards.functions()[-1](completions=texts, **cols(records[0])) != rewards.functions()[-1](completions=texts, **moved)
    num = NumericRewards()
    snra_fn = num.functions()[0]
    a = snra_fn(completions=["3.0", "3.0"], answer=[3.0, 3.0])
    b = snra_fn(completions=["3.0", "3.0"], answer=[7.0, 7.0])
    assert a[0] == pytest.approx(1.0) and b[0] < 0.5


@pytest.mark.parametrize("value, want", [("group", "group"), ("batch", "batch"), ("none", "none"), (True, "group"), (False, "none")])
def test_trl_scale_reads_the_trainers_setting(value, want):
    from types import SimpleNamespace

    from verireward.integrations.trl import trl_scale

    assert trl_scale(SimpleNamespace(scale_rewards=value)) == want
    with pytest.raises(ValueError, match="TRL's scale_rewards must be"):
        trl_scale(SimpleNamespace(scale_rewards="std"))


def test_grca_grpo_trainer_standardizes_with_the_trainers_scale_rewards(tmp_path, tokenizer, records, monkeypatch):
    import verireward.grca.fields as pipeline
    from verireward.integrations.trl import GRCAGRPOTrainer

    seen = []
    real = pipeline.group_standardize

    def spy(*args, **kwargs):
        seen.append((kwargs.get("scale"), kwargs.get("compat")))
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "group_standardize", spy)
    trainer = GRCAGRPOTrainer(model=scripted_model(tokenizer, records), args=config(tmp_path, scale_rewards="batch"),
                              train_dataset=datasets.Dataset.from_list(records), processing_class=tokenizer,
                              grounding=GroundingRewards(data.grounding_schema()), mode="routed_rpc")
    trainer.train()
    assert seen and set(seen) == {("batch", "trl")}
    assert all(torch.isfinite(adv).all() for adv in [trainer.last_routed[2]])


def test_set_reward_functions_in_a_plain_grpo_trainer(tmp_path, tokenizer, records):
    from trl import GRPOTrainer

    from verireward.integrations.trl import SetRewardFunctions

    box_field = [f for f in data.grounding_schema().fields if f.name == "bbox2d"]
    sets = SetRewardFunctions(vr.Schema(tuple(box_field)), rewards=("soft_f1", "f1"))
    rows = [{**r, "boxes": [r["bbox2d"]]} for r in records]  # one object per image, as a set
    trainer = GRPOTrainer(model=scripted_model(tokenizer, records), reward_funcs=sets.functions(), args=config(tmp_path),
                          train_dataset=datasets.Dataset.from_list(rows), processing_class=tokenizer)
    trainer.train()
    logged = {k for row in trainer.state.log_history for k in row}
    assert {"rewards/verireward_soft_f1/mean", "rewards/verireward_f1/mean"} <= logged
    assert any(row.get("rewards/verireward_soft_f1/mean", 0) > 0 for row in trainer.state.log_history)


def test_set_grca_trainer_routes_per_object_advantages_into_trl_loss(tmp_path, tokenizer, records):
    from verireward.integrations.trl import SetGRCAGRPOTrainer, SetRewardFunctions

    box_field = [f for f in data.grounding_schema().fields if f.name == "bbox2d"]
    sets = SetRewardFunctions(vr.Schema(tuple(box_field)))
    rows = [{**r, "boxes": [r["bbox2d"]]} for r in records]
    model = scripted_model(tokenizer, records)
    before = [p.detach().clone() for p in model.parameters()]
    trainer = SetGRCAGRPOTrainer(model=model, args=config(tmp_path), train_dataset=datasets.Dataset.from_list(rows),
                                 processing_class=tokenizer, sets=sets, per_object=True)
    seen = loss_spy(trainer)
    trainer.train()
    assert seen and all(adv.dim() == 2 for _, adv in seen)
    ids, mask, routed = trainer.last_routed
    # what reached the loss is what verireward computed for those completions
    by_ids = {tuple(r): a for r, a in zip(ids.tolist(), routed)}
    loss_ids, loss_adv = seen[-1]
    for row_ids, row_adv in zip(loss_ids.tolist(), loss_adv):
        assert torch.equal(row_adv, by_ids[tuple(row_ids)])
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(math.isfinite(row.get("loss", 0.0)) for row in trainer.state.log_history)
    with pytest.raises(ValueError, match="reward"):
        SetGRCAGRPOTrainer(model=None, sets=sets, reward="map")
