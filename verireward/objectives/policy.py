"""Policy-gradient losses over per-token advantages (torch; these need autograd).

``grca_loss`` is the GRCA paper's routed clipped surrogate (GRCA Eq. 16). It is a pure function of
tensors: trainers call it, nothing here knows about a trainer.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

from verireward._backend import check_number, torch_tensor

AGGREGATIONS = ("sample_mean", "token_mean", "sequence_sum")


def _check(op: str, name: str, x: Any, shape: Optional[Tuple[int, ...]] = None, floating: bool = True) -> None:
    torch_tensor(op, name, x, "float" if floating else "any", shape)


def grca_loss(logp: Any, old_logp: Any, advantages: Any, mask: Any, clip_eps: float = 0.2,
              ref_logp: Optional[Any] = None, beta: float = 0.0, *, aggregation: str = "sample_mean",
              max_log_ratio: float = 20.0, return_stats: bool = False) -> Union[Any, Tuple[Any, Dict[str, Any]]]:
    """Routed clipped surrogate loss (GRCA Eq. 16), to minimize.

    Per token: ``ρ_t = exp(clamp(logp_t − old_logp_t, ±max_log_ratio))`` and
    ``ℓ_t = −min(ρ_t·A_t, clip(ρ_t, 1 − ε, 1 + ε)·A_t) + β·KL_t`` with the k3 estimator
    ``KL_t = exp(ref_t − logp_t) − (ref_t − logp_t) − 1`` when ``ref_logp`` is given (its log-ratio
    clamped alike). Aggregation over the tokens inside ``mask``:

    * ``"sample_mean"`` (the paper): ``1/N Σ_i 1/L_i Σ_t ℓ_{i,t}``; a sample with no token adds 0;
    * ``"token_mean"``: ``Σ_i Σ_t ℓ_{i,t} / Σ_i L_i``;
    * ``"sequence_sum"``: ``1/N Σ_i Σ_t ℓ_{i,t}``.

    Args:
        logp: ``[N, L]`` log-probabilities of the generated tokens under the current policy (with grad).
        old_logp: ``[N, L]`` the same under the policy that sampled them (no grad is taken through it).
        advantages: ``[N, L]`` per-token advantages, e.g. :func:`verireward.routed_advantages`.
        mask: ``[N, L]`` response mask (bool or numeric, nonzero = generated token).
        clip_eps: ε.
        ref_logp: optional ``[N, L]`` reference-policy log-probabilities for the KL term.
        beta: KL weight β.
        aggregation: see above.
        max_log_ratio: clamp of log-ratios before ``exp`` (finite losses for any input).
        return_stats: also return ``{"clip_fraction", "kl", "ratio_mean"}`` (detached; over masked tokens).

    Returns:
        A scalar tensor (and the stats dict with ``return_stats``).

    Example:
        >>> loss = grca_loss(logp, old_logp, vr.routed_advantages(r, spans, mask, G), mask)
        >>> loss.backward()
    """
    return _clipped_surrogate("grca_loss", logp, old_logp, advantages, mask, clip_eps, ref_logp, beta, aggregation,
                              max_log_ratio, return_stats)


def ap_grpo_loss(logp: Any, old_logp: Any, advantages: Any, mask: Any, clip_eps: float = 0.2,
                 ref_logp: Optional[Any] = None, beta: float = 0.02, *, aggregation: str = "sample_mean",
                 max_log_ratio: float = 20.0, return_stats: bool = False) -> Union[Any, Tuple[Any, Dict[str, Any]]]:
    """AP-GRPO's clipped surrogate (SmoothOp Eq. 9) as a loss to minimize: the negated token-level
    clipped ratio objective of :func:`grca_loss` with the AP-GRPO advantage of each sequence
    (:func:`verireward.ap_grpo_advantages`) on every one of its tokens, averaged ``1/G Σ_i`` over
    sequences (``1/L_i`` inside each), plus ``β_KL·KL(π_θ‖π_ref)`` with the k3 estimator. The
    paper's objective, to maximize, subtracts the KL term; the loss adds it (β = 0.02 in the
    paper; the KL term needs ``ref_logp``).

    Args:
        advantages: ``[N]`` per sequence (broadcast over its tokens) or ``[N, L]`` per token.
        Everything else: as in :func:`grca_loss`.
    """
    import torch

    op = "ap_grpo_loss"
    _check(op, "logp", logp)
    if logp.ndim != 2:
        raise ValueError(f"{op}: argument 'logp' must have shape [N, L], got [{', '.join(map(str, logp.shape))}]")
    _check(op, "advantages", advantages)
    if advantages.ndim == 1:
        _check(op, "advantages", advantages, (logp.shape[0],))
        advantages = advantages[:, None].expand(logp.shape)
    elif not isinstance(advantages, torch.Tensor) or advantages.ndim != 2:
        raise ValueError(f"{op}: argument 'advantages' must have shape [N] or [N, L]")
    return _clipped_surrogate(op, logp, old_logp, advantages, mask, clip_eps, ref_logp, beta, aggregation,
                              max_log_ratio, return_stats)


def _clipped_surrogate(op: str, logp: Any, old_logp: Any, advantages: Any, mask: Any, clip_eps: float,
                       ref_logp: Optional[Any], beta: float, aggregation: str, max_log_ratio: float,
                       return_stats: bool) -> Union[Any, Tuple[Any, Dict[str, Any]]]:
    import torch

    _check(op, "logp", logp)
    if logp.ndim != 2:
        raise ValueError(f"{op}: argument 'logp' must have shape [N, L], got [{', '.join(map(str, logp.shape))}]")
    shape = tuple(logp.shape)
    _check(op, "old_logp", old_logp, shape)
    _check(op, "advantages", advantages, shape)
    _check(op, "mask", mask, shape, floating=False)
    if ref_logp is not None:
        _check(op, "ref_logp", ref_logp, shape)
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"{op}: argument 'aggregation' must be one of {', '.join(AGGREGATIONS)}, got {aggregation!r}")
    for value, name in ((clip_eps, "clip_eps"), (beta, "beta"), (max_log_ratio, "max_log_ratio")):
        check_number(op, value, name, lambda v: 0.0 <= v < float("inf"), "a finite number >= 0")

    keep = mask != 0
    m = keep.to(logp.dtype)
    # masked positions never reach the arithmetic: padding may hold -inf or NaN (a log-prob of a
    # pad token, an unset advantage), which would otherwise poison the sum (and its gradient)
    zero = torch.zeros((), dtype=logp.dtype, device=logp.device)
    logp = torch.where(keep, logp, zero)
    old = torch.where(keep, old_logp.detach().to(logp.dtype), zero)
    log_ratio = (logp - old).clamp(-max_log_ratio, max_log_ratio)
    ratio = torch.exp(log_ratio)
    adv = torch.where(keep, advantages.detach().to(logp.dtype), zero)
    surrogate = torch.minimum(ratio * adv, ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv)
    per_token = -surrogate
    kl = None
    if ref_logp is not None:
        d = (torch.where(keep, ref_logp.detach().to(logp.dtype), zero) - logp).clamp(-max_log_ratio, max_log_ratio)
        kl = torch.exp(d) - d - 1
        per_token = per_token + beta * kl
    per_token = per_token * m
    lengths = m.sum(1)
    n = max(shape[0], 1)
    if aggregation == "sample_mean":
        loss = (per_token.sum(1) / lengths.clamp(min=1)).sum() / n
    elif aggregation == "token_mean":
        loss = per_token.sum() / lengths.sum().clamp(min=1)
    else:
        loss = per_token.sum() / n
    if not return_stats:
        return loss
    with torch.no_grad():
        tokens = m.sum().clamp(min=1)
        clipped = ((ratio < 1 - clip_eps) & (adv < 0)) | ((ratio > 1 + clip_eps) & (adv > 0))
        stats = {
            "clip_fraction": (clipped.to(logp.dtype) * m).sum() / tokens,
            "ratio_mean": (ratio * m).sum() / tokens,
            "kl": (kl * m).sum() / tokens if kl is not None else torch.zeros((), dtype=logp.dtype, device=logp.device),
        }
    return loss, stats


__all__ = ["grca_loss", "ap_grpo_loss"]
