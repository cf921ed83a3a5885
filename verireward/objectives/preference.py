"""Preference losses: SPA (Streamlining Preference Alignment, §3.2, SPA Eq. 5) and, for the paper's
comparison (Table A1), DPO and SimPO exactly as written there; and the sequence log-probability
they all take, computed from logits in chunks.

SPA compares the same answer y under the clean input x and under a corrupted one x' (the point
cloud with patches masked, :func:`verireward.mask_point_patches`):
``L = −log σ(β·(log π(y|x) − log π(y|x')))``, no reference model. These are torch functions
(autograd); log-probabilities are per sequence, ``[N]``.
"""

from __future__ import annotations

from typing import Any, Optional

from verireward._backend import LazyFunction, check_number, torch_tensor

REDUCTIONS = ("mean", "sum", "none")


def _tensor(op: str, name: str, x: Any, n: Optional[int] = None) -> Any:
    return torch_tensor(op, name, x, "float", (n,), f"[{n}]" if n is not None else "[N]")


def _reduce(op: str, per: Any, reduction: str) -> Any:
    if reduction == "mean":
        return per.mean() if per.numel() else per.sum()
    if reduction == "sum":
        return per.sum()
    if reduction == "none":
        return per
    raise ValueError(f"{op}: argument 'reduction' must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")


def spa_loss(logp_pos: Any, logp_neg: Any, beta: float = 1.0, *, reduction: str = "mean") -> Any:
    """SPA (SPA Eq. 5; Table A1 with β = 1): ``−log σ(β·(log π(y|x) − log π(y|x')))``.

    Args:
        logp_pos: ``[N]`` log π(y|x): the answer's log-probability with the clean input (with grad).
        logp_neg: ``[N]`` log π(y|x'): the same answer with the masked input (with grad: both passes
            train the model, as in the paper).
        beta: β > 0 (the paper's loss has none, i.e. 1).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
    """
    import torch.nn.functional as F

    op = "spa_loss"
    _tensor(op, "logp_pos", logp_pos)
    _tensor(op, "logp_neg", logp_neg, logp_pos.shape[0])
    beta = check_number(op, beta, "beta", lambda v: 0.0 < v < float("inf"), "a finite number > 0")
    return _reduce(op, -F.logsigmoid(beta * (logp_pos - logp_neg)), reduction)


def dpo_loss(logp_pos: Any, logp_neg: Any, ref_logp_pos: Any, ref_logp_neg: Any, beta: float = 0.1, *,
             reduction: str = "mean") -> Any:
    """DPO (Table A1): ``−log σ(β·log π(y_w|x)/π_ref(y_w|x) − β·log π(y_l|x)/π_ref(y_l|x))``.

    ``logp_*``: ``[N]`` policy log-probabilities of the preferred (w) and rejected (l) answers;
    ``ref_logp_*``: the reference policy's (no gradient is taken through them). β = 0.1 in the
    SPA paper's comparison.
    """
    import torch.nn.functional as F

    op = "dpo_loss"
    n = _tensor(op, "logp_pos", logp_pos).shape[0]
    for name, x in (("logp_neg", logp_neg), ("ref_logp_pos", ref_logp_pos), ("ref_logp_neg", ref_logp_neg)):
        _tensor(op, name, x, n)
    beta = check_number(op, beta, "beta", lambda v: 0.0 < v < float("inf"), "a finite number > 0")
    margin = beta * (logp_pos - ref_logp_pos.detach()) - beta * (logp_neg - ref_logp_neg.detach())
    return _reduce(op, -F.logsigmoid(margin), reduction)


def simpo_loss(logp_pos: Any, logp_neg: Any, len_pos: Any, len_neg: Any, beta: float = 2.0, gamma: float = 0.3, *,
               reduction: str = "mean") -> Any:
    """SimPO (Table A1, as written there): ``−log σ(β/|y_w|·log π(y_w|x) − β/|y_l|·log π(y_l|x) − γ)``.

    ``len_*``: ``[N]`` response lengths in tokens (>= 1). β = 2.0 and γ = 0.3 in the SPA paper's
    comparison. (SimPO's own paper writes the margin as γ; Table A1 subtracts γ outside β, and
    so does this function.)
    """
    import torch
    import torch.nn.functional as F

    op = "simpo_loss"
    n = _tensor(op, "logp_pos", logp_pos).shape[0]
    _tensor(op, "logp_neg", logp_neg, n)
    lens = []
    for name, x in (("len_pos", len_pos), ("len_neg", len_neg)):
        if not isinstance(x, torch.Tensor) or x.shape != (n,):
            raise ValueError(f"{op}: argument '{name}' must be a [{n}] tensor of token counts")
        if n and bool((x < 1).any()):
            raise ValueError(f"{op}: argument '{name}' must be >= 1 (tokens per response)")
        lens.append(x.to(logp_pos.dtype))
    beta = check_number(op, beta, "beta", lambda v: 0.0 < v < float("inf"), "a finite number > 0")
    gamma = check_number(op, gamma, "gamma", lambda v: abs(v) < float("inf"), "a finite number")
    margin = beta / lens[0] * logp_pos - beta / lens[1] * logp_neg - gamma
    return _reduce(op, -F.logsigmoid(margin), reduction)


def sequence_logprob(logits: Any, labels: Any, mask: Optional[Any] = None, *, chunk: int = 2048) -> Any:
    """``[N]`` sums of the labels' log-probabilities, ``Σ_t mask·log softmax(logits[i, t])[labels[i, t]]``:
    :func:`token_logprob` summed over each row (same arguments)."""
    return token_logprob(logits, labels, mask, chunk=chunk).sum(1)


def token_logprob(logits: Any, labels: Any, mask: Optional[Any] = None, *, chunk: int = 2048) -> Any:
    """``[N, L]`` per-token log-probabilities of the labels, ``mask·log softmax(logits[i, t])[labels[i, t]]``
    (0 outside the mask), what the policy-gradient losses take.

    ``logits[i, t]`` must score ``labels[i, t]`` (for a causal LM with prompt length P:
    ``logits[:, P-1:-1]`` and ``input_ids[:, P:]``). Computed ``chunk`` positions at a time as
    ``logit[label] − logsumexp(logits)`` in float32 or better, so no second ``[N, L, V]`` tensor is
    made: the forward keeps O(chunk·V) temporaries and one value per position, and the backward
    writes the gradient (the one ``[N, L, V]`` tensor autograd needs) chunk by chunk.

    Args:
        logits: ``[N, L, V]`` floats (any float dtype; bf16/fp16 are upcast chunk by chunk).
        labels: ``[N, L]`` integer token ids.
        mask: ``[N, L]`` bool/numeric; default ``labels != -100`` (the Hugging Face ignore index).
        chunk: positions per chunk.
    """
    import torch

    op = "token_logprob"
    N, L, V = torch_tensor(op, "logits", logits, "float", (None, None, None), "[N, L, V]").shape
    torch_tensor(op, "labels", labels, "int", (N, L))
    if mask is None:
        keep = labels != -100
    else:
        keep = torch_tensor(op, "mask", mask, "any", (N, L)) != 0
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"{op}: argument 'chunk' must be an int >= 1, got {chunk!r}")
    keep = keep.to(logits.device)
    lab = labels.to(logits.device)
    if bool((keep & ((lab < 0) | (lab >= V))).any()):
        raise ValueError(f"{op}: argument 'labels' has an id outside [0, {V}) at a position inside the mask")
    lab = torch.where(keep, lab, torch.zeros_like(lab)).reshape(-1)
    return _TokenLogProb.apply(logits, lab, keep.reshape(-1), chunk)


def _chunks(n: int, chunk: int):
    return ((s, min(s + chunk, n)) for s in range(0, n, chunk))


def _make_token_logprob():
    import torch

    class TokenLogProb(torch.autograd.Function):
        """Forward and backward chunk by chunk: saves ``logits`` (no copy) and one logsumexp per
        position; the backward writes ``(onehot − softmax)·g`` chunk by chunk into the one gradient
        tensor it returns."""

        @staticmethod
        def forward(ctx, logits, lab, keep, chunk):
            N, L, V = logits.shape
            work = torch.promote_types(logits.dtype, torch.float32)
            flat = logits.reshape(N * L, V)
            lse = torch.empty(N * L, dtype=work, device=logits.device)
            tok = torch.empty(N * L, dtype=work, device=logits.device)
            for s, e in _chunks(N * L, chunk):
                x = flat[s:e].to(work)
                lse[s:e] = torch.logsumexp(x, dim=1)
                tok[s:e] = x.gather(1, lab[s:e, None]).squeeze(1) - lse[s:e]
            ctx.save_for_backward(logits, lab, keep, lse)
            ctx.chunk = chunk
            # positions outside the mask never reach the result (padding logits may be NaN or inf)
            return torch.where(keep, tok, torch.zeros((), dtype=work, device=tok.device)).reshape(N, L)

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx, g):
            logits, lab, keep, lse = ctx.saved_tensors
            N, L, V = logits.shape
            flat = logits.reshape(N * L, V)
            zero = torch.zeros((), dtype=lse.dtype, device=lse.device)
            gt = torch.where(keep, g.to(lse.dtype).reshape(-1), zero)
            grad = torch.empty_like(flat)
            for s, e in _chunks(N * L, ctx.chunk):
                p = torch.where(keep[s:e, None], torch.exp(flat[s:e].to(lse.dtype) - lse[s:e, None]), zero)
                p.mul_(-gt[s:e, None])
                p.scatter_add_(1, lab[s:e, None], gt[s:e, None])
                grad[s:e] = p
            return grad.reshape(N, L, V), None, None, None

    return TokenLogProb


_TokenLogProb = LazyFunction(_make_token_logprob)


__all__ = ["spa_loss", "dpo_loss", "simpo_loss", "sequence_logprob", "token_logprob"]
