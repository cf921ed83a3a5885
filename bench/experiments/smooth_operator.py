"""Smooth Operator Tables 2–3 at toy scale: binary-reward GRPO, GRPO on SNRA rewards, and AP-GRPO
with fixed, linear and sigmoid sharpness, on a numeric-answer toy. Every objective is verireward's
(snra, sharpness, composite_reward, group_standardize, ap_grpo_advantages, ap_grpo_loss,
advantage_variance, convergence_step).

The toy: 64 questions whose answers y are drawn uniformly from [0.5, 5] (metres). For each, the
policy is a categorical over 201 answers 0, 0.05, …, 10 plus one "no number" action (its own
logits per question, uniform at the start). A step samples G = 8 answers for each of 16
questions. A numeric answer ŷ has error e = (ŷ − y)²; "no number" is invalid (e = e_max = 10,
format reward 0). Rewards: binary (|ŷ − y| <= 5% of y), or the composite (Eq. 4, λ = 0.1) of SNRA
(Eq. 2) with k from the schedule (k_min 1, k_max 100 over the run). Accuracy: the greedy answer
within 5% of y, over all 64 questions, every 10 steps. Convergence steps: T_conv of §4.3 (first
evaluation at 95% of the best accuracy). Advantage variance: §4.3's group variance, averaged over
the run.

    .venv/bin/python bench/experiments/smooth_operator.py   # about a minute; writes
                                                            # smooth_operator.{json,md,png}
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

import verireward as vr
from _plot import pyplot

HERE = Path(__file__).resolve().parent
Q, BINS, G, PER_STEP, STEPS, LR = 64, 201, 8, 16, 300, 0.1
VALUES = torch.arange(BINS, dtype=torch.float64) * 0.05
ROWS = [("S1 GRPO, binary reward", "binary", "fixed"), ("S2 GRPO, SNRA (fixed k)", "snra", "fixed"),
        ("S3 AP-GRPO, SNRA (fixed k)", "ap_grpo", "fixed"), ("S4 AP-GRPO, SNRA (linear k)", "ap_grpo", "linear"),
        ("S5 AP-GRPO, SNRA (sigmoid k)", "ap_grpo", "sigmoid")]
FIXED_K = 10.0  # the fixed-sharpness rows use k = 10 (the paper does not state its fixed k)


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    a = logits.argmax(1)
    pred = torch.where(a < BINS, VALUES[a.clamp(max=BINS - 1)], torch.full_like(y, float("nan")))
    return float(((pred - y).abs() <= 0.05 * y).double().mean())


def run(mode: str, schedule: str, seed: int):
    gen = torch.Generator().manual_seed(seed)
    y = 0.5 + 4.5 * torch.rand(Q, generator=gen, dtype=torch.float64)
    logits = torch.zeros(Q, BINS + 1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=LR)
    sched = vr.SharpnessSchedule(STEPS, schedule, FIXED_K if schedule == "fixed" else 1.0, 100.0)  # fixed: k = k_min
    accs, variances = [], []
    for step in range(STEPS):
        if step % 10 == 0:
            accs.append(accuracy(logits.detach(), y))
        qs = torch.randperm(Q, generator=gen)[:PER_STEP].repeat_interleave(G)
        probs = torch.softmax(logits[qs], 1)
        a = torch.multinomial(probs, 1, generator=gen).squeeze(1)
        logp = torch.log_softmax(logits[qs], 1).gather(1, a[:, None])  # [N, 1]: one answer token
        valid = a < BINS
        pred = torch.where(valid, VALUES[a.clamp(max=BINS - 1)], torch.full((len(a),), float("nan"), dtype=torch.float64))
        target = y[qs]
        if mode == "binary":
            adv = vr.group_standardize(((pred - target).abs() <= 0.05 * target).double(), G)
        else:
            r = vr.snra(vr.squared_error(pred, target), sched(step), e_max=10.0)
            total = vr.composite_reward(r, valid.double(), 0.1)
            alpha, clip = (0.0, None) if mode == "snra" else (1.0, 1.5)
            adv = vr.ap_grpo_advantages(total, r, G, alpha=alpha, clip=clip)
        variances.append(float(vr.advantage_variance(adv, G).mean()))
        loss = vr.ap_grpo_loss(logp, logp.detach(), adv, torch.ones_like(logp, dtype=torch.bool))
        opt.zero_grad()
        loss.backward()
        opt.step()
    accs.append(accuracy(logits.detach(), y))
    steps = list(range(0, STEPS + 1, 10))
    return {"accuracy": accs, "final_accuracy": accs[-1], "best_accuracy": max(accs),
            "convergence_step": vr.convergence_step(accs, 0.95, steps), "advantage_variance": float(np.mean(variances))}


def main() -> None:
    t0 = time.time()
    seeds = [0, 1, 2]
    results = {name: [run(mode, sched, s) for s in seeds] for name, mode, sched in ROWS}
    out = {"command": "bench/experiments/smooth_operator.py", "seeds": seeds, "fixed_k": FIXED_K,
           "rows": {name: {k: [r[k] for r in rs] for k in ("final_accuracy", "convergence_step", "advantage_variance")}
                    for name, rs in results.items()},
           "curves": {name: [r["accuracy"] for r in rs] for name, rs in results.items()},
           "seconds": round(time.time() - t0, 1)}
    (HERE / "smooth_operator.json").write_text(json.dumps(out, indent=1))
    fmt = lambda xs, f: ", ".join(f.format(x) for x in xs)
    lines = ["# Smooth Operator ablation at toy scale (Tables 2–3)", "",
             f"Written by `{out['command']}` ({out['seconds']} s on the 2-core project machine); seeds 0, 1, 2 per cell; "
             f"fixed-k rows use k = {FIXED_K:g}. See the script's docstring for the toy.", "",
             "| row | final accuracy | convergence step (T_conv) | advantage variance |", "|---|---|---|---|"]
    for name, row in out["rows"].items():
        lines.append(f"| {name} | {fmt(row['final_accuracy'], '{:.3f}')} | {fmt(row['convergence_step'], '{}')} | "
                     f"{fmt(row['advantage_variance'], '{:.3f}')} |")
    (HERE / "smooth_operator.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    steps = list(range(0, STEPS + 1, 10))
    for (name, curves), color in zip(out["curves"].items(), ["tab:grey", "tab:orange", "tab:blue", "tab:purple", "tab:green"]):
        for k, c in enumerate(curves):
            ax.plot(steps, c, color=color, alpha=0.8, label=name if k == 0 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("accuracy (greedy answer within 5%)")
    ax.set_title("Smooth Operator toy, 3 seeds")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(HERE / "smooth_operator.png", dpi=90)


if __name__ == "__main__":
    main()
