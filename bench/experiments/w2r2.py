"""W2R2 (arXiv:2510.17034), pre-registered: does the shortcut-suppression hinge make a fusion model
use its 3D input when a 2D cue is a shortcut that fails under shift?

The toy is built so the mechanism must matter if it is real. The class (4 of them) is a function of
the 3D input alone, two XORs of signs (``y = 2·[x0·x1 < 0] + [x2·x3 < 0]``, x ~ N(0, I₈)): exact, but
slow for a network to learn. The 2D input is a noisy one-hot of a cue class that equals the true
class 85% of the time in training and in the IID test (a random class otherwise), and is
independent of it in the shifted test. So cross-entropy alone learns the cheap cue first and the
3D function late; a model that relies on 3D keeps its accuracy under shift.

Arms, per decoder (concatenation MLP; late-additive heads) and paired by seed (same data, same
initial weights): CE alone (λ = 0), W2R2 with the paper's λ = 1.5, μ = 0.7 and the 3D features
zeroed in the shortcut pass (the paper's), W2R2 with them replaced by their training mean (closes
the "detect the zeros" channel a decoder can use to satisfy the hinge), and a 3D-only model of the
same budget (its 2D input always zero), the validity gate's reference. Every arm is
verireward's ``W2R2Trainer`` (``lam=0`` is the CE arm).

    .venv/bin/python bench/experiments/w2r2.py     # writes w2r2.{md,json,png}; a few minutes on 2 cores
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

import verireward as vr
from _plot import draw_panels
from _protocol import budget, gate_word, machine, output_dir, page_head, paired, per_seed, plan_lines, verdict, write
from verireward.trainers import W2R2Config, W2R2Trainer

OUT = output_dir(Path(__file__).resolve().parent)
SEEDS = budget([0, 1, 2, 3, 4, 5], [0, 1])
C, D = 4, 8
N_TRAIN, N_TEST = budget((8000, 4000), (512, 256))
RELIABLE_TRAIN = 0.85
STEPS, BATCH, LR = budget(1500, 5), 128, 3e-3
DECODERS = ("concat", "additive")
ARMS = {"CE": dict(lam=0.0), "W2R2 (zero)": dict(lam=1.5, mu=0.7, shortcut="zero"),
        "W2R2 (mean)": dict(lam=1.5, mu=0.7, shortcut="mean"), "3D only": dict(lam=0.0)}

PLAN = {
    "primary metric": "fused accuracy on the shifted test split (2D cue independent of the class), 4000 samples",
    "budget": f"{STEPS} steps of {BATCH} samples (AdamW, lr {LR}), the same for every arm; {len(SEEDS)} seeds "
              f"({', '.join(map(str, SEEDS))}), arms paired by seed",
    "success (per decoder and shortcut fill)": "W2R2 shifted accuracy ≥ CE + 0.05 with the 95% CI of the paired "
                                               "difference above 0; IID accuracy drop (CE − W2R2) ≤ 0.02 on average; "
                                               "counterfactual 2D flip rate down by ≥ 0.10",
    "validity gate (per decoder)": "CE's shifted accuracy ≥ 0.05 below the 3D-only model's (mean over seeds): "
                                   "the shortcut must cost something for the question to be asked",
    "before the plan": "one pilot (seed 0, 300 steps, one decoder) checked the run time and that the arms train; "
                       "no other run was made before this plan was fixed",
    "counterfactual 2D flip rate": "on the IID test split, the fraction of answers that change when the 2D cue is "
                                   "replaced by the one-hot of another random class (the 3D input unchanged)",
}


def make_split(n: int, reliable: float, gen: torch.Generator):
    x3 = torch.randn(n, D, generator=gen)
    y = 2 * (x3[:, 0] * x3[:, 1] < 0).long() + (x3[:, 2] * x3[:, 3] < 0).long()
    other = torch.randint(0, C, (n,), generator=gen)
    cue = torch.where(torch.rand(n, generator=gen) < reliable, y, other) if reliable > 0 else other
    return two_d(cue, gen), x3, y, cue


def two_d(cue: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return torch.nn.functional.one_hot(cue, D).float() + 0.3 * torch.randn(len(cue), D, generator=gen)


class Fusion(torch.nn.Module):
    def __init__(self, decoder: str, seed: int):
        super().__init__()
        torch.manual_seed(seed)  # every arm of a seed starts from these weights
        self.decoder = decoder
        self.enc2d = torch.nn.Linear(D, 16)
        self.enc3d = torch.nn.Sequential(torch.nn.Linear(D, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16))
        if decoder == "concat":
            self.dec = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.ReLU(), torch.nn.Linear(32, C))
        else:  # late-additive: one head per modality, logits summed
            self.head2d = torch.nn.Linear(16, C)
            self.head3d = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(16, C))


def encode(m: Fusion, b: dict):
    return m.enc2d(b["x2d"]), m.enc3d(b["x3d"])


def decode(m: Fusion, b: dict, f2: torch.Tensor, f3: torch.Tensor) -> dict:
    logits = m.dec(torch.cat([f2, f3], -1)) if m.decoder == "concat" else m.head2d(f2) + m.head3d(f3)
    return {"logits": logits[:, None, :]}  # one answer token


def collate_from(x2: torch.Tensor, x3: torch.Tensor, y: torch.Tensor):
    """Records are row numbers; a batch gathers its rows (one index, no per-record stacking)."""
    def collate(recs):
        idx = torch.tensor([r["row"] for r in recs])
        return {"x2d": x2[idx], "x3d": x3[idx], "labels": y[idx, None]}
    return collate


def predict(m: Fusion, x2: torch.Tensor, x3: torch.Tensor, shortcut: bool = False) -> torch.Tensor:
    with torch.no_grad():
        b = {"x2d": x2, "x3d": x3}
        f2, f3 = encode(m, b)
        if shortcut:
            f2, f3 = vr.shortcut_features(f2, f3)
        return decode(m, b, f2, f3)["logits"][:, 0].argmax(1)


def run(decoder: str, arm: str, seed: int, splits: dict) -> dict:
    x2, x3, y, _ = splits["train"]
    if arm == "3D only":
        x2 = torch.zeros_like(x2)
    records = [{"row": i} for i in range(len(y))]
    model = Fusion(decoder, seed)
    cfg = W2R2Config(steps=STEPS, batch_size=BATCH, learning_rate=LR, seed=seed, **ARMS[arm])
    W2R2Trainer(model, records, cfg, encode=encode, decode=decode, collate=collate_from(x2, x3, y)).train()
    model.eval()
    out = {}
    for split in ("iid", "shifted"):
        t2, t3, ty, _ = splits[split]
        t2 = torch.zeros_like(t2) if arm == "3D only" else t2
        out[f"acc_{split}"] = float((predict(model, t2, t3) == ty).float().mean())
    t2, t3, ty, cue = splits["iid"]
    if arm != "3D only":
        flipped_cue = (cue + torch.randint(1, C, cue.shape, generator=torch.Generator().manual_seed(seed))) % C
        counterfactual = two_d(flipped_cue, torch.Generator().manual_seed(seed + 1000))
        out["flip_rate"] = float((predict(model, counterfactual, t3) != predict(model, t2, t3)).float().mean())
        out["shortcut_acc_iid"] = float((predict(model, t2, t3, shortcut=True) == ty).float().mean())
    return out


def main() -> None:
    torch.set_num_threads(1)  # the models are tiny: one thread is fastest, and the timing does not depend on load
    t0 = time.time()
    results = {d: {a: [] for a in ARMS} for d in DECODERS}
    for seed in SEEDS:
        gen = torch.Generator().manual_seed(seed)
        splits = {"train": make_split(N_TRAIN, RELIABLE_TRAIN, gen), "iid": make_split(N_TEST, RELIABLE_TRAIN, gen),
                  "shifted": make_split(N_TEST, 0.0, gen)}
        for d in DECODERS:
            for a in ARMS:
                results[d][a].append(run(d, a, seed, splits))
        print(f"seed {seed} done ({time.time() - t0:.0f} s)", flush=True)
    seconds = time.time() - t0

    col = lambda d, a, k: [r[k] for r in results[d][a]]
    verdicts, payload_cmp = [], {}
    table = ["| decoder | arm | IID acc | shifted acc | 2D flip rate | shortcut-pass acc (IID) |", "|---|---|---|---|---|---|"]
    for d in DECODERS:
        for a in ARMS:
            rows = results[d][a]
            mean = lambda k: sum(r[k] for r in rows) / len(rows) if k in rows[0] else float("nan")
            table.append(f"| {d} | {a} | {mean('acc_iid'):.3f} | {mean('acc_shifted'):.3f} | {mean('flip_rate'):.3f} | "
                         f"{mean('shortcut_acc_iid'):.3f} |")
    lines = []
    for d in DECODERS:
        gate = paired(col(d, "3D only", "acc_shifted"), col(d, "CE", "acc_shifted"))
        gate_ok = gate.mean >= 0.05
        lines += [f"### {d} decoder", "",
                  f"Gate: 3D-only − CE shifted accuracy = {gate.text()} (per seed "
                  f"{per_seed(gate.per_seed, '+.3f')}): {gate_word(gate_ok)} "
                  f"(needs a mean ≥ +0.050).", ""]
        payload_cmp[d] = {"gate": gate.__dict__, "gate_passes": gate_ok}
        for a in ("W2R2 (zero)", "W2R2 (mean)"):
            shift = paired(col(d, a, "acc_shifted"), col(d, "CE", "acc_shifted"))
            iid_drop = paired(col(d, "CE", "acc_iid"), col(d, a, "acc_iid"))
            flip = paired(col(d, "CE", "flip_rate"), col(d, a, "flip_rate"))
            ok = shift.mean >= 0.05 and shift.lo > 0 and iid_drop.mean <= 0.02 and flip.mean >= 0.10
            outcome = verdict(gate_ok, ok)
            lines += [f"- {a} against CE: shifted accuracy {shift.text()}; IID drop {iid_drop.text()}; flip-rate "
                      f"reduction {flip.text()} → {outcome}",
                      f"  (shifted, per seed: {per_seed(shift.per_seed, '+.3f')})"]
            verdicts.append((d, a, outcome))
            payload_cmp[d][a] = {"shifted_gain": shift.__dict__, "iid_drop": iid_drop.__dict__,
                                 "flip_reduction": flip.__dict__, "verdict": outcome}
        lines.append("")

    stamp = machine()
    page = page_head("W2R2: does the hinge make the model use 3D? (pre-registered)", "w2r2", seconds, stamp,
                     "The toy and the arms are described in the script's docstring; every arm is verireward's "
                     "`W2R2Trainer`.")
    page += plan_lines(PLAN)
    page += ["## Results", "", "Means over seeds:", "", *table, "",
             "Paired differences (mean and 95% CI over seeds):", "", *lines]
    page += ["![accuracy per arm](w2r2.png)", ""]
    write(OUT, "w2r2", page, {"plan": PLAN, "seeds": SEEDS, "seconds": seconds, "results": results,
                              "comparisons": payload_cmp, "machine": stamp})
    plot(results)
    for v in verdicts:
        print(*v)


def plot(results: dict) -> None:
    def draw(ax, d):
        for i, a in enumerate(ARMS):
            for k, (split, colour) in enumerate((("acc_iid", "tab:blue"), ("acc_shifted", "tab:red"))):
                vals = [r[split] for r in results[d][a]]
                x = i + (k - 0.5) * 0.3
                ax.bar(x, sum(vals) / len(vals), 0.28, color=colour, alpha=0.5, label=split if i == 0 else None)
                ax.scatter([x] * len(vals), vals, s=8, color=colour)
        ax.set_xticks(range(len(ARMS)), list(ARMS), fontsize=8)
        ax.set_title(f"{d} decoder")
        ax.set_ylim(0, 1)

    draw_panels(OUT / "w2r2.png", DECODERS, draw, ylabel="accuracy (bars: mean; dots: seeds)", legend_size=8)


if __name__ == "__main__":
    main()
