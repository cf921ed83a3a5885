"""GRCA §3.6 at toy scale: how much gradient noise per-field routing removes, and what it does to
learning. Every objective is verireward's (routed_advantages, grca_loss).

The toy: a policy writes a 14-token completion: 2 background tokens, then F = 3 fields of 4
tokens each, every token a categorical over 11 bins with its own logits (no model). Field f's
reward is the fraction of its tokens equal to a fixed target bin sequence; the RPC-like
consistency reward is the fraction of background tokens equal to field 0's first target bin
(background tokens are where GRCA puts RPC). Groups of G = 8 completions, 4 groups per step.

1. Gradient variance on a field's span (at the initial, uniform policy): over 400 independent
   batches, the per-coordinate variance of the loss gradient with respect to field 0's logits, and
   the cosine of the mean gradient with the exact policy gradient of field 0's expected reward,
   under broadcast credit (GRPO: mean field reward on every token) and routed credit (Eq. 10).
2. Reward-vs-step for broadcast / routed / routed+RPC: 150 Adam steps (lr 0.05), 3 seeds each;
   the mean field reward per step, and the consistency reward.

    .venv/bin/pip install ".[experiments]"   # matplotlib, for the PNG
    .venv/bin/python bench/experiments/grca_credit.py   # about 20 s; writes grca_credit.json,
                                                        # grca_credit.md and grca_credit.png
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
F, T, V, BG, G, GROUPS = 3, 4, 11, 2, 8, 4
L = BG + F * T
SPANS = [(BG + f * T, BG + (f + 1) * T) for f in range(F)]


def sample(logits: torch.Tensor, n: int, gen: torch.Generator):
    probs = torch.softmax(logits, -1)                      # [L, V]
    tokens = torch.multinomial(probs.repeat(n, 1), 1, generator=gen).view(n, L)
    logp = torch.log_softmax(logits, -1).gather(1, tokens.T).T  # [n, L], differentiable in logits
    return tokens, logp


def rewards(tokens: torch.Tensor, target: torch.Tensor):
    fields = torch.stack([(tokens[:, s0:s1] == target[s0:s1]).double().mean(1) for s0, s1 in SPANS], 1)
    rpc = (tokens[:, :BG] == target[BG]).double().mean(1)
    return fields, rpc


def advantages(tokens, target, mode):
    n = tokens.shape[0]
    fields, rpc = rewards(tokens, target)
    spans = torch.tensor([SPANS] * n, dtype=torch.long)
    mask = torch.ones(n, L, dtype=torch.bool)
    if mode == "broadcast":
        return vr.routed_advantages(fields, spans, mask, G, mode="broadcast"), fields, rpc
    return vr.routed_advantages(fields, spans, mask, G, rpc=rpc if mode == "routed_rpc" else None), fields, rpc


def loss_of(logits, tokens, logp, adv):
    mask = torch.ones_like(adv, dtype=torch.bool)
    return vr.grca_loss(logp, logp.detach(), adv.to(logp.dtype), mask)


def gradient_variance(mode: str, batches: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    target = torch.randint(0, V, (L,), generator=gen)
    logits = torch.zeros(L, V, dtype=torch.float64, requires_grad=True)
    grads = []
    for _ in range(batches):
        tokens, logp = sample(logits, G * GROUPS, gen)
        adv, _, _ = advantages(tokens, target, mode)
        g, = torch.autograd.grad(loss_of(logits, tokens, logp, adv), logits)
        grads.append(g[SPANS[0][0]:SPANS[0][1]].reshape(-1))
    grads = torch.stack(grads)
    # exact gradient of -E[r_0] at the uniform policy: per token, -(1/T)(onehot(target) - 1/V)
    exact = torch.zeros(T, V, dtype=torch.float64)
    for k, pos in enumerate(range(*SPANS[0])):
        exact[k] = -(torch.nn.functional.one_hot(target[pos], V).double() - 1.0 / V) / T
    mean = grads.mean(0)
    cos = float(torch.nn.functional.cosine_similarity(mean, exact.reshape(-1), dim=0))
    return float(grads.var(0).mean()), cos


def train(mode: str, seed: int, steps: int, lr: float):
    gen = torch.Generator().manual_seed(seed)
    target = torch.randint(0, V, (L,), generator=gen)
    logits = torch.zeros(L, V, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=lr)
    curve, rpc_curve = [], []
    for _ in range(steps):
        tokens, logp = sample(logits, G * GROUPS, gen)
        adv, fields, rpc = advantages(tokens, target, mode)
        loss = loss_of(logits, tokens, logp, adv)
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(float(fields.mean()))
        rpc_curve.append(float(rpc.mean()))
    return curve, rpc_curve


def main() -> None:
    t0 = time.time()
    modes = ["broadcast", "routed", "routed_rpc"]
    seeds = [0, 1, 2]
    variance = {m: [gradient_variance(m, 400, s) for s in seeds] for m in ("broadcast", "routed")}
    curves = {m: [train(m, s, 150, 0.05) for s in seeds] for m in modes}
    out = {
        "command": "bench/experiments/grca_credit.py",
        "toy": {"fields": F, "tokens_per_field": T, "bins": V, "background": BG, "group": G, "groups_per_step": GROUPS},
        "gradient_variance_field0": {m: [v for v, _ in r] for m, r in variance.items()},
        "cosine_to_exact_gradient": {m: [c for _, c in r] for m, r in variance.items()},
        "final_field_reward": {m: [float(np.mean(c[0][-10:])) for c in curves[m]] for m in modes},
        "final_consistency_reward": {m: [float(np.mean(c[1][-10:])) for c in curves[m]] for m in modes},
        "steps_to_0.9_field_reward": {m: [next((i for i, v in enumerate(c[0]) if v >= 0.9), None) for c in curves[m]] for m in modes},
        "curves": {m: [c[0] for c in curves[m]] for m in modes},
        "consistency_curves": {m: [c[1] for c in curves[m]] for m in modes},
        "seconds": round(time.time() - t0, 1),
    }
    (HERE / "grca_credit.json").write_text(json.dumps(out, indent=1))
    rows = []
    for key, what in (("gradient_variance_field0", "gradient variance on field 0's logits (mean over coordinates)"),
                      ("cosine_to_exact_gradient", "cosine of the mean gradient with the exact one"),
                      ("final_field_reward", "mean field reward, last 10 of 150 steps"),
                      ("final_consistency_reward", "consistency (RPC-like) reward, last 10 steps"),
                      ("steps_to_0.9_field_reward", "steps until the mean field reward first reaches 0.9")):
        cells = " | ".join(", ".join("-" if v is None else f"{v:.4g}" for v in out[key].get(m, [])) or "" for m in modes)
        rows.append(f"| {what} | {cells} |")
        print(key, json.dumps(out[key]))
    print("seconds", out["seconds"])
    page = ["# GRCA credit assignment at toy scale", "",
            f"Written by `{out['command']}` ({out['seconds']} s on the 2-core project machine); seeds 0, 1, 2 per cell.",
            "See the script's docstring for the toy. Every objective is verireward's.", "",
            "| measure | broadcast | routed | routed + RPC |", "|---|---|---|---|", *rows, ""]
    (HERE / "grca_credit.md").write_text("\n".join(page))
    plt = pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    styles = {"broadcast": ("tab:grey", "-"), "routed": ("tab:blue", "--"), "routed_rpc": ("tab:green", ":")}
    for ax, key, label in ((axes[0], "curves", "mean field reward"), (axes[1], "consistency_curves", "consistency (RPC-like) reward")):
        for m in modes:
            color, style = styles[m]
            for k, c in enumerate(out[key][m]):
                ax.plot(c, color=color, linestyle=style, alpha=0.8, label=m if k == 0 else None)
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.legend()
    axes[0].set_title("field reward (routed and routed+RPC coincide)")
    axes[1].set_title("background consistency")
    fig.suptitle("GRCA toy: broadcast vs routed credit, 3 seeds")
    fig.tight_layout()
    fig.savefig(HERE / "grca_credit.png", dpi=90)


if __name__ == "__main__":
    main()
