"""The reference trainers end to end on a tiny random-weight Qwen2 model and a byte-level BPE
tokenizer trained here: a few steps run, losses are finite, parameters change, the advantages that
reach the loss are verireward's, and a resumed run continues exactly."""

from __future__ import annotations

import math
import random

import pytest
import torch

import verireward as vr
from verireward import data
from verireward.trainers import (APGRPOConfig, APGRPOTrainer, GRCAConfig, GRCATrainer, first_number, grounding_records,
                                 numeric_records)

transformers = pytest.importorskip("transformers")

from tiny_lm import bpe_tokenizer, tiny_qwen2  # noqa: E402


@pytest.fixture(scope="module")
def grounding():
    return grounding_records(data.grounding_samples(4, seed=11))


@pytest.fixture(scope="module")
def questions():
    return numeric_records(data.numeric_questions(6, seed=5))


@pytest.fixture(scope="module")
def tokenizer(grounding, questions):
    corpus = [r["target"] for r in grounding] + [r["prompt"] for r in grounding + questions] + \
        [f"The answer is {q['answer']}" for q in questions]
    return bpe_tokenizer(corpus, 500)


def tiny_model(tokenizer, seed=0):
    return tiny_qwen2(tokenizer, seed)


def scripted(trainer_class):
    """The trainer, with half of each group written by a script (noisy versions of a right answer) so
    that a random-weight model's batches have rewards that differ within a group."""

    class Scripted(trainer_class):
        def generate(self, inputs):
            sampled = super().generate(inputs)
            G = self.config.group_size
            rng = random.Random(self.step * 7919 + int(inputs["input_ids"].sum()))
            rec = next(r for r in self.dataset if self.tokenizer(r["prompt"])["input_ids"] == inputs["input_ids"][0].tolist())
            rows = []
            for g in range(G // 2):
                rows.append(self.tokenizer(self.script(rec, rng))["input_ids"] + [self.tokenizer.eos_token_id])
            T = max(sampled.shape[1], max(len(r) for r in rows))
            out = torch.full((G, T), self.pad_id, dtype=torch.long)
            out[: G - len(rows), : sampled.shape[1]] = sampled[: G - len(rows)]
            for k, r in enumerate(rows):
                out[G - len(rows) + k, : len(r)] = torch.tensor(r)
            return out

    return Scripted


def scripted_trainer(trainer_class, script, tokenizer, records, cfg, **kwargs):
    """(trainer with scripted half-groups, its model's parameters before training, the advantages
    each loss call receives)."""
    model = tiny_model(tokenizer)
    before = [p.detach().clone() for p in model.parameters()]
    Trainer = scripted(trainer_class)
    Trainer.script = staticmethod(script)
    trainer = Trainer(model, tokenizer, records, cfg, **kwargs)
    return trainer, before, captured(trainer)


def noisy_target(rec, rng):
    text = rec["target"]
    return "".join(str(min(1000, max(0, int(ch) + rng.choice([-1, 0, 1])))) if ch.isdigit() and rng.random() < 0.3 else ch
                   for ch in text)


def captured(trainer):
    """Records the advantages each loss call receives."""
    seen = []
    inner = trainer.loss

    def loss(logp, old, adv, mask, ref):
        seen.append(adv.detach().clone())
        return inner(logp, old, adv, mask, ref)

    trainer.loss = loss
    return seen


@pytest.mark.parametrize("mode", ["broadcast", "routed", "routed_rpc"])
def test_grca_trainer_steps_and_routes_verireward_advantages(tokenizer, grounding, mode):
    cfg = GRCAConfig(steps=2, prompts_per_step=2, group_size=4, max_new_tokens=12, learning_rate=1e-2, beta=0.05, mode=mode)
    trainer, before, seen = scripted_trainer(GRCATrainer, noisy_target, tokenizer, grounding, cfg,
                                            schema=data.grounding_schema())
    model = trainer.model
    logs = trainer.train()
    assert len(logs) == 2 and all(math.isfinite(v) for row in logs for v in row.values())
    assert {"reward/bbox2d", "reward/kpts3d", "rpc", "advantage_variance", "loss", "kl", "clip_fraction"} <= set(logs[0])
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))  # it learned something
    # the advantages that reached the loss are verireward's for the last batch's rewards and spans
    assert torch.equal(seen[-1], trainer.last_advantages)
    mask = trainer.last_advantages != 0
    assert mask.any()
    rpc = trainer.last_rpc if mode == "routed_rpc" else None  # broadcast is the paper's GRPO row: no RPC
    want = vr.routed_advantages(trainer.last_rewards, trainer.last_spans, trainer._last_mask, cfg.group_size, rpc=rpc,
                                lam=cfg.lam, mode="broadcast" if mode == "broadcast" else "routed")
    assert torch.equal(seen[-1], want.to(torch.float32))
    if mode == "broadcast":  # every token: the group-standardized mean field reward (an oracle from the definition)
        r = trainer.last_rewards.double().mean(1).reshape(-1, cfg.group_size)
        a = ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-6)).reshape(-1)  # group_standardize's rule
        for row, m, v in zip(seen[-1], trainer._last_mask, a):
            assert row[m].tolist() == pytest.approx([v.item()] * int(m.sum()), abs=1e-4)
    if mode != "broadcast":  # routed credit: tokens of one completion carry different advantages
        assert any(len(set(row[m].tolist())) > 1 for row, m in zip(seen[-1], trainer._last_mask))


def test_grca_trainer_resumes_exactly(tokenizer, grounding, tmp_path):
    Trainer = scripted(GRCATrainer)
    Trainer.script = staticmethod(noisy_target)
    cfg = GRCAConfig(steps=2, prompts_per_step=1, group_size=4, max_new_tokens=10, learning_rate=1e-2,
                     output_dir=str(tmp_path), save_every=1)
    full = Trainer(tiny_model(tokenizer), tokenizer, grounding, cfg, schema=data.grounding_schema())
    full.train()
    resumed = Trainer(tiny_model(tokenizer, seed=1), tokenizer, grounding, cfg, schema=data.grounding_schema())  # other weights: the checkpoint wins
    resumed.load_checkpoint(str(tmp_path / "checkpoint-1.pt"))
    assert resumed.step == 1
    resumed.train()
    for a, b in zip(full.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    assert resumed.history[-1]["loss"] == full.history[-1]["loss"]


def noisy_answer(rec, rng):
    return rng.choice([f"The answer is {rec['answer']}", f"The answer is {rec['answer'] * rng.uniform(0.5, 1.5):.2f}",
                       "I do not know"])


@pytest.mark.parametrize("mode", ["binary", "snra", "ap_grpo"])
def test_ap_grpo_trainer(tokenizer, questions, mode):
    cfg = APGRPOConfig(steps=3, prompts_per_step=2, group_size=4, max_new_tokens=8, learning_rate=1e-2, mode=mode,
                       schedule="linear")
    trainer, before, seen = scripted_trainer(APGRPOTrainer, noisy_answer, tokenizer, questions, cfg)
    model = trainer.model
    logs = trainer.train()
    assert all(math.isfinite(v) for row in logs for v in row.values())
    assert [row["k"] for row in logs] == [vr.sharpness(s, 3, "linear") for s in range(3)]  # the schedule reads the step
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    seq = trainer.last_sequence_advantages
    assert torch.equal(seen[-1], seq.to(torch.float32)[:, None] * trainer._last_mask)
    if mode == "ap_grpo":
        assert seq.abs().max() <= cfg.clip


def test_first_number_and_configs():
    assert first_number("The answer is 3.5 m, not 4") == 3.5 and first_number("-2e1") == -20.0
    assert math.isnan(first_number("no idea")) and math.isnan(first_number("1e999"))
    with pytest.raises(ValueError, match="mode' must be one of 'broadcast', 'routed', 'routed_rpc'"):
        GRCAConfig(mode="grpo")
    with pytest.raises(ValueError, match="group_size must be an int >= 1"):
        APGRPOConfig(group_size=0)


# ---- W2R2 and SPA on toy models ---------------------------------------------------------------------

L_TOK, V_TOK = 3, 6


class ToyFusionLM(torch.nn.Module):
    """2D and 3D encoders, concatenation, and a decoder writing L_TOK tokens over V_TOK."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.enc2d, self.enc3d = torch.nn.Linear(5, 4), torch.nn.Linear(7, 4)
        self.dec = torch.nn.Linear(8, L_TOK * V_TOK)


def fusion_records(n=12):
    g = torch.Generator().manual_seed(3)
    return [{"x2d": torch.randn(5, generator=g), "x3d": torch.randn(7, generator=g),
             "labels": torch.randint(0, V_TOK, (L_TOK,), generator=g)} for _ in range(n)]


def fusion_hooks():
    encode = lambda m, b: (m.enc2d(b["x2d"]), m.enc3d(b["x3d"]))
    decode = lambda m, b, f2, f3: {"logits": m.dec(torch.cat([f2, f3], -1)).view(-1, L_TOK, V_TOK)}
    collate = lambda recs: {k: torch.stack([r[k] for r in recs]) for k in recs[0]}
    return dict(encode=encode, decode=decode, collate=collate)


def grads_per_step(trainer):
    seen = []

    def optimize(loss):
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        seen.append({n: p.grad.detach().clone() for n, p in trainer.model.named_parameters() if p.grad is not None})
        trainer.optimizer.step()

    trainer._optimize = optimize
    return seen


def test_w2r2_trainer_hinge_trains_the_decoder_not_the_2d_encoder():
    from verireward.trainers import W2R2Config, W2R2Trainer

    recs = fusion_records()
    runs = {}
    for lam in (0.0, 1.5):
        trainer = W2R2Trainer(ToyFusionLM(), recs, W2R2Config(steps=1, batch_size=4, mu=0.0, lam=lam), **fusion_hooks())
        grads = grads_per_step(trainer)
        logs = trainer.train()
        runs[lam] = (grads[0], logs[0])
    (g0, _), (g1, log1) = runs[0.0], runs[1.5]
    assert log1["hinge"] > 0 and log1["active_fraction"] == 1.0 and math.isfinite(log1["loss"])
    assert log1["loss"] == pytest.approx(log1["ce"] + 1.5 * log1["hinge"], rel=1e-6)
    assert torch.equal(g0["enc2d.weight"], g1["enc2d.weight"])  # the hinge never reaches the 2D encoder
    assert torch.equal(g0["enc3d.weight"], g1["enc3d.weight"])  # nor the (zeroed) 3D branch
    assert not torch.allclose(g0["dec.weight"], g1["dec.weight"])  # it does reach the shared decoder


def test_w2r2_shortcut_mean_feeds_the_running_mean_of_the_3d_features():
    """shortcut="mean": the shortcut pass decodes, in place of the zeros, the mean of every 3D
    feature row the encoder produced in training so far (recomputed here from the recorded
    features), detached; the hinge still never reaches an encoder."""
    from verireward.trainers import W2R2Config, W2R2Trainer

    hooks = fusion_hooks()
    seen_f3, seen_short = [], []

    def encode(m, b):
        f2, f3 = hooks["encode"](m, b)
        seen_f3.append(f3.detach().clone())
        return f2, f3

    def decode(m, b, f2, f3):
        if not f2.requires_grad:  # the shortcut pass (its 2D features are detached)
            seen_short.append(f3)
        return hooks["decode"](m, b, f2, f3)

    trainer = W2R2Trainer(ToyFusionLM(), fusion_records(), W2R2Config(steps=3, batch_size=4, shortcut="mean"),
                          encode=encode, decode=decode, collate=hooks["collate"])
    grads = grads_per_step(trainer)
    trainer.train()
    for step in range(3):
        want = torch.cat(seen_f3[:step + 1]).double().mean(0)  # every row seen up to this step
        assert torch.allclose(seen_short[step].double(), want.expand_as(seen_short[step]), atol=1e-6)
        assert not seen_short[step].requires_grad
    assert torch.allclose(trainer.mean_3d, torch.cat(seen_f3).double().mean(0), atol=1e-12)
    assert trainer.mean_3d.abs().sum() > 0 and len(grads) == 3
    with pytest.raises(ValueError, match="W2R2Config: shortcut must be 'zero' or 'mean'"):
        W2R2Config(shortcut="noise")


def test_shortcut_features_fill():
    f2 = torch.randn(4, 3, requires_grad=True)
    f3 = torch.randn(4, 5, requires_grad=True)
    fill = torch.arange(5.0, requires_grad=True)
    s2, s3 = vr.shortcut_features(f2, f3, fill)
    assert not s2.requires_grad and not s3.requires_grad and torch.equal(s3, fill.detach().expand(4, 5))
    with pytest.raises(ValueError, match="shortcut_features: argument 'fill' of shape \\[3\\] does not broadcast"):
        vr.shortcut_features(f2, f3, torch.zeros(3))
    with pytest.raises(TypeError, match="shortcut_features: argument 'fill' must be a torch.Tensor"):
        vr.shortcut_features(f2, f3, [0.0] * 5)


class ToyPointLM(torch.nn.Module):
    """Max-pooled per-point features conditioning L_TOK answer tokens."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.point = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.ReLU())
        self.head = torch.nn.Linear(16, L_TOK * V_TOK)


def point_hooks():
    def logits(m, b, points):
        return m.head(m.point(points[..., :3]).amax(1)).view(-1, L_TOK, V_TOK)

    collate = lambda recs: {"points": torch.stack([r["points"] for r in recs]), "labels": torch.stack([r["labels"] for r in recs])}
    return dict(logits=logits, collate=collate)


def point_records(n=8):
    g = torch.Generator().manual_seed(4)
    return [{"points": torch.rand(256, 3, generator=g), "labels": torch.randint(0, V_TOK, (L_TOK,), generator=g)}
            for _ in range(n)]


def test_spa_trainer_prefers_the_clean_cloud_and_resumes(tmp_path):
    from verireward.trainers import SPAConfig, SPATrainer

    recs = point_records()
    cfg = SPAConfig(steps=2, batch_size=4, num_groups=16, group_size=16, ratio=0.5, learning_rate=1e-2,
                    output_dir=str(tmp_path), save_every=1)
    model = ToyPointLM()
    before = [p.detach().clone() for p in model.parameters()]
    trainer = SPATrainer(model, recs, cfg, **point_hooks())
    logs = trainer.train()
    assert all(math.isfinite(v) for row in logs for v in row.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    m = trainer.last_masked
    assert m.masked_patches.sum(1).tolist() == [8] * 4 and torch.all(m.counts < 256)
    resumed = SPATrainer(ToyPointLM(), recs, cfg, **point_hooks())
    resumed.load_checkpoint(str(tmp_path / "checkpoint-1.pt"))
    resumed.train()
    assert torch.equal(resumed.last_masked.masked_points, trainer.last_masked.masked_points)  # the mask RNG resumed
    for a, b in zip(model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    # the logged loss is spa_loss of the two passes' sequence log-probs (clean, then masked)
    hooks, calls = point_hooks(), []
    inner = hooks["logits"]
    hooks["logits"] = lambda m, b, pts: calls.append((inner(m, b, pts), b["labels"], pts)) or calls[-1][0]
    spy = SPATrainer(ToyPointLM(), recs, SPAConfig(steps=1, batch_size=4, num_groups=16, group_size=16), **hooks)
    row = spy.train()[0]
    (clean, labels, pts0), (masked, _, pts1) = calls
    assert torch.equal(pts1, spy.last_masked.points) and not torch.equal(pts0, pts1)
    want = vr.spa_loss(vr.sequence_logprob(clean.detach(), labels), vr.sequence_logprob(masked.detach(), labels))
    assert row["loss"] == pytest.approx(want.item(), rel=1e-6)
    sft = SPATrainer(ToyPointLM(), recs, SPAConfig(steps=1, batch_size=4, mode="sft"), **point_hooks())
    row = sft.train()[0]
    assert row["loss"] == pytest.approx(-row["logp_clean"], rel=1e-6) and "logp_masked" not in row


def test_spa_trainer_masks_padded_clouds_over_their_own_points():
    """Clouds of 256, 100 and 60 points zero-padded to 256 with point_counts: each cloud is masked
    over its own points (no padding point is ever a patch member or kept), exactly floor(ratio * G)
    patches of its (capped) G, and the masked pass's logits sees point_counts = the points kept."""
    from verireward.trainers import SPAConfig, SPATrainer

    g = torch.Generator().manual_seed(7)
    sizes = [256, 100, 60, 256]  # 60 < num_groups: G capped at the cloud's size
    recs = []
    for n in sizes:
        pts = torch.zeros(256, 3)
        pts[:n] = torch.rand(n, 3, generator=g) + 1.0  # real points away from the origin padding
        recs.append({"points": pts, "n": n, "labels": torch.randint(0, V_TOK, (L_TOK,), generator=g)})
    hooks, seen = point_hooks(), []
    inner_collate, inner_logits = hooks["collate"], hooks["logits"]
    hooks["collate"] = lambda rs: {**inner_collate(rs), "point_counts": torch.tensor([r["n"] for r in rs])}
    hooks["logits"] = lambda m, b, pts: seen.append((b.get("point_counts"), pts)) or inner_logits(m, b, pts)
    cfg = SPAConfig(steps=1, batch_size=4, num_groups=64, group_size=4, ratio=0.25)
    trainer = SPATrainer(ToyPointLM(), recs, cfg, **hooks)
    trainer.train()
    m = trainer.last_masked
    (clean_counts, _), (masked_counts, masked_pts) = seen
    batch_sizes = clean_counts.tolist()
    assert sorted(batch_sizes) == sorted(sizes) and torch.equal(masked_counts, m.counts)
    for b, n in enumerate(batch_sizes):
        G = min(64, n)
        assert int(m.masked_patches[b].sum()) == int(0.25 * G) and m.patches[b].shape == (G, 4)
        assert int(m.patches[b].max()) < n and int(m.centres[b].max()) < n  # padding is never in a patch
        assert not m.masked_points[b, n:].any()
        k = int(m.counts[b])
        assert k < n and bool((masked_pts[b, :k] >= 1.0).all())  # every kept point is a real one
        assert masked_pts[b, k:].abs().sum() == 0
    assert int(m.counts.min()) > 0  # with these sizes every cloud keeps some points
    recs[0]["n"] = 0
    with pytest.raises(ValueError, match="point_counts"):
        SPATrainer(ToyPointLM(), recs[:1] * 4, cfg, **hooks).train()


@pytest.mark.parametrize("mode", ["dpo", "simpo"])
def test_spa_trainer_dpo_and_simpo_on_corrupted_answers(mode):
    from verireward.trainers import SPAConfig, SPATrainer

    hooks, calls = point_hooks(), []
    inner = hooks["logits"]
    hooks["logits"] = lambda m, b, pts: calls.append((m, inner(m, b, pts), b["labels"])) or calls[-1][1]
    cfg = SPAConfig(steps=1, batch_size=4, mode=mode, beta=0.1 if mode == "dpo" else 2.0, corrupt_ratio=0.7)
    trainer = SPATrainer(ToyPointLM(), point_records(), cfg, **hooks)
    row = trainer.train()[0]
    (m0, clean, labels), (m1, rej_logits, rejected) = calls[:2]
    assert m0 is trainer.model and m1 is trainer.model and not torch.equal(labels, rejected)
    assert ((labels != rejected).float().mean() > 0) and torch.all((rejected >= 0) & (rejected < V_TOK))
    lp, ln = vr.sequence_logprob(clean.detach(), labels), vr.sequence_logprob(rej_logits.detach(), rejected)
    if mode == "dpo":
        (r0, ref_clean, _), (r1, ref_rej, _) = calls[2:]
        assert r0 is trainer.ref_model and r1 is trainer.ref_model
        want = vr.dpo_loss(lp, ln, vr.sequence_logprob(ref_clean, labels), vr.sequence_logprob(ref_rej, rejected), 0.1)
    else:
        assert len(calls) == 2 and trainer.ref_model is None
        n = torch.full((4,), L_TOK)
        want = vr.simpo_loss(lp, ln, n, n, 2.0, 0.3)
    assert row["loss"] == pytest.approx(want.item(), rel=1e-6)
    with pytest.raises(ValueError, match="mode must be one of spa, spa_sft, sft, dpo, simpo"):
        SPAConfig(mode="ipo")


@pytest.mark.parametrize("mode", ["dpo", "simpo"])
def test_spa_trainer_takes_the_batchs_rejected_answers(mode):
    """The DA rows: a batch's "rejected_labels" (say, the model's own answers on masked clouds) are the
    rejected answers, scored with the clean cloud; no corruption is drawn; a wrong shape names them."""
    from verireward.trainers import SPAConfig, SPATrainer

    g = torch.Generator().manual_seed(3)
    hooks, calls = point_hooks(), []
    inner_collate, inner_logits = hooks["collate"], hooks["logits"]
    own = {}

    def collate(rs):
        b = inner_collate(rs)
        own["rejected"] = torch.randint(0, V_TOK, b["labels"].shape, generator=g)
        return {**b, "rejected_labels": own["rejected"]}

    hooks["collate"] = collate
    hooks["logits"] = lambda m, b, pts: calls.append((m, inner_logits(m, b, pts), b["labels"], pts)) or calls[-1][1]
    cfg = SPAConfig(steps=1, batch_size=4, mode=mode, beta=0.1 if mode == "dpo" else 2.0)
    trainer = SPATrainer(ToyPointLM(), point_records(), cfg, **hooks,
                         corrupt=lambda labels, vocab: pytest.fail("corrupt must not be called"))
    row = trainer.train()[0]
    (_, clean, labels, p0), (m1, rej_logits, rejected, p1) = calls[:2]
    assert m1 is trainer.model and torch.equal(rejected, own["rejected"]) and torch.equal(p0, p1)
    lp, ln = vr.sequence_logprob(clean.detach(), labels), vr.sequence_logprob(rej_logits.detach(), rejected)
    if mode == "dpo":
        (_, ref_clean, _, _), (_, ref_rej, ref_lab, _) = calls[2:]
        assert torch.equal(ref_lab, own["rejected"])
        want = vr.dpo_loss(lp, ln, vr.sequence_logprob(ref_clean, labels), vr.sequence_logprob(ref_rej, rejected), 0.1)
    else:
        n = torch.full((4,), L_TOK)
        want = vr.simpo_loss(lp, ln, n, n, 2.0, 0.3)
    assert row["loss"] == pytest.approx(want.item(), rel=1e-6)
    hooks["collate"] = lambda rs: {**inner_collate(rs), "rejected_labels": torch.zeros(4, L_TOK + 1, dtype=torch.long)}
    with pytest.raises(ValueError, match="rejected_labels"):
        SPATrainer(ToyPointLM(), point_records(), cfg, **hooks).train()


def test_spa_sft_mode_adds_the_clean_cross_entropy():
    from verireward.trainers import SPAConfig, SPATrainer

    hooks, calls = point_hooks(), []
    inner = hooks["logits"]
    hooks["logits"] = lambda m, b, pts: calls.append((inner(m, b, pts), b["labels"])) or calls[-1][0]
    cfg = SPAConfig(steps=1, batch_size=4, mode="spa_sft", num_groups=8, group_size=16)
    row = SPATrainer(ToyPointLM(), point_records(), cfg, **hooks).train()[0]
    (clean, labels), (masked, _) = calls
    lp, ln = vr.sequence_logprob(clean.detach(), labels), vr.sequence_logprob(masked.detach(), labels)
    want = vr.spa_loss(lp, ln) - (lp / L_TOK).mean()
    assert row["loss"] == pytest.approx(want.item(), rel=1e-6)


@pytest.mark.parametrize("launcher", ["torchrun", "accelerate"])
def test_two_processes_take_the_step_one_process_takes_on_their_union(tmp_path, launcher):
    # 2 CPU processes (gloo), launched by torchrun or by `accelerate launch`: each samples its own
    # prompts, gradients are averaged, and with token_mean reweighting the parameters match a single
    # process on all the prompts.
    import json
    import os
    import shutil
    import socket
    import subprocess
    import sys
    from pathlib import Path

    worker = Path(__file__).resolve().parent / "dist_worker.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    subprocess.run([sys.executable, str(worker), str(tmp_path), "single", "4"], check=True, env=env, cwd="/")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    if launcher == "torchrun":
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", port]
    else:
        accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
        if accelerate is None:
            pytest.skip("accelerate is not installed")
        # --multi_gpu selects accelerate's torchrun launcher; without CUDA the trainer uses gloo
        cmd = [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", port]
    subprocess.run(cmd + [str(worker), str(tmp_path), "ddp", "2"], check=True, env=env, cwd="/", capture_output=True)
    single = json.loads((tmp_path / "single-rank0.json").read_text())
    ranks = [json.loads((tmp_path / f"ddp-rank{r}.json").read_text()) for r in (0, 1)]
    assert single["world"] == 1 and [r["world"] for r in ranks] == [2, 2]
    assert not set(ranks[0]["prompts"]) & set(ranks[1]["prompts"])  # each process its own prompts
    assert sorted(ranks[0]["prompts"] + ranks[1]["prompts"]) == sorted(single["prompts"])
    a, b = torch.load(tmp_path / "single-params.pt"), torch.load(tmp_path / "ddp-params.pt")
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=0, atol=1e-6), k
