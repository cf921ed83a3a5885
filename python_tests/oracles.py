"""Independent pure-Python oracles, written from the definitions (loops, no numpy, no verireward).

Box IoU uses exact rational arithmetic (fractions.Fraction), so it is exact at any coordinate scale.
"""

from __future__ import annotations

import math
import sys
from fractions import Fraction
from typing import List, Optional, Sequence, Tuple

Vec = Sequence[float]


def _finite(values: Sequence[float]) -> bool:
    return all(math.isfinite(v) for v in values)


def iou(a: Vec, b: Vec, dim: int) -> float:
    """IoU of two axis-aligned boxes given as two corners each (hull semantics); 0 for a
    non-finite or zero-extent box (verireward/SEMANTICS.md)."""
    if not _finite(list(a) + list(b)):
        return 0.0
    inter = Fraction(1)
    vol_a = Fraction(1)
    vol_b = Fraction(1)
    for k in range(dim):
        a_lo, a_hi = sorted((Fraction(a[k]), Fraction(a[k + dim])))
        b_lo, b_hi = sorted((Fraction(b[k]), Fraction(b[k + dim])))
        if a_hi == a_lo or b_hi == b_lo:
            return 0.0
        vol_a *= a_hi - a_lo
        vol_b *= b_hi - b_lo
        inter *= max(Fraction(0), min(a_hi, b_hi) - max(a_lo, b_lo))
    union = vol_a + vol_b - inter
    return float(inter / union)


def contains(point: Vec, box: Vec, dim: int) -> bool:
    """Closed containment in the hull of the box's corners."""
    for k in range(dim):
        lo, hi = min(box[k], box[k + dim]), max(box[k], box[k + dim])
        if not (lo <= point[k] <= hi):
            return False
    return True


def containment(points: Sequence[Vec], count: int, box: Vec, dim: int) -> float:
    """Eq. 8: fraction of the first `count` points inside the box; 0 without points or for a
    non-finite box."""
    if count == 0 or not _finite(box):
        return 0.0
    inside = sum(1 for m in range(count) if contains(points[m], box, dim))
    return inside / count


def _matvec(M: Sequence[Sequence[float]], x: Vec) -> List[float]:
    return [sum(M[i][j] * x[j] for j in range(3)) for i in range(3)]


def homogeneous(X: Vec, K, R, t) -> List[float]:
    """Eq. 11: h = K (R X + t)."""
    xc = _matvec(R, X)
    xc = [xc[i] + t[i] for i in range(3)]
    return _matvec(K, xc)


def corners(box: Vec) -> List[List[float]]:
    lo = [min(box[k], box[k + 3]) for k in range(3)]
    hi = [max(box[k], box[k + 3]) for k in range(3)]
    return [[(hi if (c >> k) & 1 else lo)[k] for k in range(3)] for c in range(8)]


def project_corners(box: Vec, K, R, t) -> Tuple[float, float, float, float]:
    """Eq. 11-12 as written: divide every corner through and take the enclosing box. Only meaningful
    when the whole box is in front of the camera."""
    us, vs = [], []
    for c in corners(box):
        h = homogeneous(c, K, R, t)
        us.append(h[0] / h[2])
        vs.append(h[1] / h[2])
    return (min(us), min(vs), max(us), max(vs))


def project_sampled(box: Vec, K, R, t, near: float, steps: int = 8) -> Optional[Tuple[float, float, float, float]]:
    """Enclosing box of the visible (h3 >= near) part of the box surface, from a dense grid on each
    face. Along every grid line, where one sample is visible and the next is not, the crossing with
    h3 = near is added (h is affine in X, so interpolating h is exact). Grid lines include the box's
    edges, so the extreme points of the clipped solid are sampled exactly. None when nothing is
    visible."""
    lo = [min(box[k], box[k + 3]) for k in range(3)]
    hi = [max(box[k], box[k + 3]) for k in range(3)]
    us: List[float] = []
    vs: List[float] = []

    def visit(h: List[float]) -> None:
        us.append(h[0] / h[2])
        vs.append(h[1] / h[2])

    for axis in range(3):
        for side in (lo[axis], hi[axis]):
            a1, a2 = [k for k in range(3) if k != axis]
            grid = []
            for i in range(steps + 1):
                row = []
                for j in range(steps + 1):
                    X = [0.0, 0.0, 0.0]
                    X[axis] = side
                    X[a1] = lo[a1] + (hi[a1] - lo[a1]) * i / steps
                    X[a2] = lo[a2] + (hi[a2] - lo[a2]) * j / steps
                    row.append(homogeneous(X, K, R, t))
                grid.append(row)
            for i in range(steps + 1):
                for j in range(steps + 1):
                    h = grid[i][j]
                    if h[2] >= near:
                        visit(h)
                    for di, dj in ((1, 0), (0, 1)):
                        if i + di > steps or j + dj > steps:
                            continue
                        g = grid[i + di][j + dj]
                        if (h[2] >= near) != (g[2] >= near):
                            s = (near - h[2]) / (g[2] - h[2])
                            visit([h[0] + s * (g[0] - h[0]), h[1] + s * (g[1] - h[1]), near])
    if not us:
        return None
    return (min(us), min(vs), max(us), max(vs))


# ---- GRPO / GRCA -----------------------------------------------------------------------------------


def standardize(values: Sequence[float], ptr: Sequence[int], eps: float, unbiased: bool = True,
                std_floor: float = 0.0, singleton_identity: bool = False, scale: str = "group",
                skip_nan: bool = False, singleton_div: Optional[float] = None) -> List[float]:
    """Eq. 9 per group [ptr[g], ptr[g+1]), from the definition in exact rational arithmetic (no
    overflow for any finite value): (r - mean) / (std + eps); scale "batch" divides by the std of
    every row instead, "none" not at all. 0 for a group whose values are all equal, one with
    std <= std_floor * max |r|, a group of one (r / singleton_div in verl's convention; r under
    "none"), and (skip_nan) a NaN row, which no statistic counts."""
    from fractions import Fraction

    def stats(rows):
        xs = [Fraction(values[i]) for i in rows if not (skip_nan and values[i] != values[i])]
        if len(xs) < 2:
            return len(xs), None, None, None
        mean = sum(xs) / len(xs)
        var = sum((x - mean) ** 2 for x in xs) / (len(xs) - 1 if unbiased else len(xs))
        top = max(abs(x) for x in xs)
        return len(xs), mean, var, top

    def sqrt_frac(q):  # sqrt of a non-negative Fraction as a Fraction close to float precision
        if q == 0:
            return Fraction(0)
        k = (q.numerator.bit_length() - q.denominator.bit_length()) // 2
        scaled = q / Fraction(4) ** k  # near 1: float() cannot overflow
        return Fraction(math.sqrt(float(scaled))) * Fraction(2) ** k

    n_b, _, var_b, _ = stats(range(len(values)))
    sd_b = sqrt_frac(var_b) if var_b is not None else None
    out = [0.0] * len(values)
    for g in range(len(ptr) - 1):
        rows = list(range(ptr[g], ptr[g + 1]))
        n, mean, var, top = stats(rows)
        for i in rows:
            v = values[i]
            if skip_nan and v != v:
                continue
            if n == 1:
                if singleton_identity:
                    out[i] = v if scale == "none" else v / (singleton_div if singleton_div else 1 + eps)
                continue
            if n < 2 or var == 0:
                continue
            sd = sqrt_frac(var)
            if std_floor > 0 and sd <= Fraction(std_floor) * top:
                continue
            d = Fraction(v) - mean
            if scale == "none":  # saturates at the largest double, as the kernel stores it
                out[i] = float(max(min(d, Fraction(sys.float_info.max)), -Fraction(sys.float_info.max)))
            elif scale == "batch":
                out[i] = 0.0 if not sd_b else float(d / (sd_b + Fraction(eps)))
            else:
                out[i] = float(d / (sd + Fraction(eps)))
    return out


def route(adv_fields: Sequence[Sequence[float]], adv_rpc: Optional[Sequence[float]], spans, mask, lam: float):
    """Eq. 10 and 14, token by token."""
    out = []
    for i, row_mask in enumerate(mask):
        F = len(adv_fields[i])
        bg = math.fsum(adv_fields[i]) / F
        if adv_rpc is not None:
            bg = (1 - lam) * bg + lam * adv_rpc[i]
        row = []
        for t, m in enumerate(row_mask):
            if not m:
                row.append(0.0)
                continue
            owner = next((f for f in range(F) if spans[i][f][0] <= t < spans[i][f][1]), None)
            row.append(adv_fields[i][owner] if owner is not None else bg)
        out.append(row)
    return out


def token_spans(char_spans, offsets, length: int):
    """Tokens overlapping each field's [start, end) among the first `length`; then disjoint in text
    order (a shared token stays with the earlier field; a field left empty gets (0, 0))."""
    raw = []
    for cs, ce in char_spans:
        hits = [t for t in range(length) if cs < ce and offsets[t] < ce and offsets[t + 1] > cs]
        raw.append([hits[0], hits[-1] + 1] if hits else [0, 0])
    order = sorted((f for f in range(len(raw)) if raw[f][0] < raw[f][1]), key=lambda f: (char_spans[f][0], f))
    prev_end = 0
    for f in order:
        start = max(raw[f][0], prev_end)
        if start >= raw[f][1]:
            raw[f] = [0, 0]
        else:
            raw[f][0] = start
            prev_end = raw[f][1]
    return raw


def grca_loss(logp, old_logp, adv, mask, clip_eps, ref_logp=None, beta=0.0, aggregation="sample_mean",
              max_log_ratio=20.0) -> float:
    """Eq. 16 token by token (negated, to minimize), with the k3 KL and the three aggregations."""
    total, tokens, per_sample = 0.0, 0, []
    for i in range(len(logp)):
        s, n = 0.0, 0
        for t in range(len(logp[i])):
            if not mask[i][t]:
                continue
            lr = min(max(logp[i][t] - old_logp[i][t], -max_log_ratio), max_log_ratio)
            rho = math.exp(lr)
            clipped = min(max(rho, 1 - clip_eps), 1 + clip_eps)
            term = -min(rho * adv[i][t], clipped * adv[i][t])
            if ref_logp is not None:
                d = min(max(ref_logp[i][t] - logp[i][t], -max_log_ratio), max_log_ratio)
                term += beta * (math.exp(d) - d - 1)
            s += term
            n += 1
        per_sample.append((s, n))
        total += s
        tokens += n
    N = max(len(logp), 1)
    if aggregation == "sample_mean":
        return sum(s / n for s, n in per_sample if n) / N
    if aggregation == "token_mean":
        return total / max(tokens, 1)
    return total / N


# ---- SNRA / AP-GRPO (Smooth Operator paper) ------------------------------------------------------


def snra(e: float, k: float, e_max: float = math.inf) -> float:
    """Eq. 2 as written, 2 / (1 + exp(k e)); an invalid error (NaN, negative) counts as e_max."""
    if math.isnan(e) or e < 0:
        e = e_max
    x = k * e
    try:
        return 2.0 / (1.0 + math.exp(x))
    except OverflowError:
        return 0.0


def sharpness(t: float, T: float, kind: str, k_min=1.0, k_max=100.0, tau=0.5, s=10.0) -> float:
    """Eq. 5 (sigmoid), its linear variant, and a fixed k (the schedule's start, k_min)."""
    p = min(t / T, 1.0)
    if kind == "fixed":
        return k_min
    if kind == "linear":
        return k_min + (k_max - k_min) * p
    return k_min + (k_max - k_min) / (1.0 + math.exp(-s * (p - tau)))


def ap_grpo(R: Sequence[float], r_abs: Sequence[float], ptr: Sequence[int], alpha: float, clip: Optional[float],
            eps: float = 1e-6, std_floor: float = 1e-6) -> List[float]:
    """Eq. 8: the standardized total reward (Eq. 7, with the GRPO floor) times r̃^α, clipped to ±c."""
    rel = standardize(R, ptr, eps, True, std_floor)
    out = []
    for a, r in zip(rel, r_abs):
        v = a * (r ** alpha if alpha != 0 else 1.0)
        if clip is not None:
            v = min(max(v, -clip), clip)
        out.append(v)
    return out


def population_variance(xs: Sequence[float]) -> float:
    if not xs:
        return 0.0
    m = math.fsum(xs) / len(xs)
    return math.fsum((x - m) ** 2 for x in xs) / len(xs)


# ---- preference losses (SPA paper Eq. 5, Table A1) and W2R2 (Eq. 7) --------------------------------


def log_sigmoid(z: float) -> float:
    return -math.log1p(math.exp(-z)) if z >= 0 else z - math.log1p(math.exp(z))


def sequence_logprob(logits, labels, mask) -> List[float]:
    """Σ_t log softmax(logits[i][t])[labels[i][t]] over the mask, with math.fsum."""
    out = []
    for row, lab, m in zip(logits, labels, mask):
        terms = []
        for scores, y, keep in zip(row, lab, m):
            if keep:
                top = max(scores)
                lse = top + math.log(math.fsum(math.exp(s - top) for s in scores))
                terms.append(scores[y] - lse)
        out.append(math.fsum(terms))
    return out


def w2r2(fused_logits, labels, sims, mu, lam) -> float:
    """CE over the rows (log-softmax by hand) + lam * mean_i max(0, s_i - mu)."""
    ce = -sum(sequence_logprob([[row]], [[y]], [[True]])[0] for row, y in zip(fused_logits, labels)) / len(labels)
    return ce + lam * sum(max(0.0, s - mu) for s in sims) / len(sims)


# ---- FPS / KNN (SPA Fig. 5) -------------------------------------------------------------------------


def sq_dist(p, c) -> float:
    dx, dy, dz = p[0] - c[0], p[1] - c[1], p[2] - c[2]
    return dx * dx + dy * dy + dz * dz


def fps(cloud, num: int) -> List[int]:
    """Farthest point sampling from point 0: next = argmax of the distance to the nearest chosen
    centre, lowest index among equals."""
    nearest = [math.inf] * len(cloud)
    out, cur = [], 0
    for _ in range(num):
        out.append(cur)
        for p, q in enumerate(cloud):
            nearest[p] = min(nearest[p], sq_dist(q, cloud[cur]))
        best = max(nearest)
        cur = nearest.index(best)
    return out


def knn(cloud, centre: int, k: int) -> List[int]:
    """The k points nearest to cloud[centre], by (squared distance, index)."""
    keyed = sorted((sq_dist(q, cloud[centre]), p) for p, q in enumerate(cloud))
    return [p for _, p in keyed[:k]]
