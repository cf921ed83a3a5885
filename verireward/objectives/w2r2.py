"""W2R2 (Where, Not What, §3): a fused pass and a 2D-only shortcut pass with shared weights,
``L = CE(o_fused, y) + λ·max(0, s(o_short, y) − μ)`` with λ = 1.5 and μ = 0.7.

The paper leaves the stop-gradient ambiguous ("gradients through this branch will be blocked in
the push term"). verireward's reading, shared by every function here:

* the shortcut pass runs the same decoder on ``Φ(stopgrad(F_2D), 0)``: 3D features zeroed and the
  2D encoder's output detached (:func:`shortcut_features`), so the hinge never trains the 2D
  encoder (making the 2D path worse is the degenerate update the paper wants to prevent). Zero is
  the paper's "without 3D"; a decoder can also satisfy the hinge by detecting the zeros (an input
  no fused pass ever sees). ``fill=`` replaces the 3D features by another constant, e.g. their
  training mean (:class:`verireward.trainers.W2R2Config` ``shortcut="mean"``), which closes that
  channel;
* the similarity ``s`` is differentiable, so the hinge's gradient reaches the shared decoder and
  pushes it away from answering well without 3D features. Two similarities are provided:
  :func:`box_similarity` (IoU3D of a box head's output, through verireward's analytic IoU backward)
  for models that regress boxes, and :func:`token_likelihood_similarity` (the shortcut's mean
  probability of the ground-truth tokens) for models that write boxes as text.

These are torch functions (autograd).
"""

from __future__ import annotations

from typing import Any, Dict, Tuple, Union

from verireward._backend import check_number, torch_tensor
from verireward.ops.box_iou import iou_3d


def shortcut_features(features_2d: Any, features_3d: Any, fill: Any = None) -> Tuple[Any, Any]:
    """The shortcut pass's inputs (W2R2 Eq. 3, W2R2 Eq. 5): ``(features_2d.detach(), zeros_like(features_3d))``.
    Feed them to the same fusion operator and decoder as the fused pass.

    ``fill``: a tensor that broadcasts to ``features_3d``'s shape (e.g. the training mean of the 3D
    features, ``[D]``), fed (detached) in place of the zeros."""
    import torch

    op = "shortcut_features"
    for name, x in (("features_2d", features_2d), ("features_3d", features_3d)):
        torch_tensor(op, name, x)
    if fill is None:
        return features_2d.detach(), torch.zeros_like(features_3d)
    torch_tensor(op, "fill", fill, "float")
    try:
        filled = torch.broadcast_to(fill.detach().to(features_3d.device, features_3d.dtype), features_3d.shape)
    except RuntimeError:
        raise ValueError(f"{op}: argument 'fill' of shape {list(fill.shape)} does not broadcast to features_3d's "
                         f"{list(features_3d.shape)}") from None
    return features_2d.detach(), filled


def box_similarity(short_boxes: Any, gt_boxes: Any) -> Any:
    """``s = IoU3D(o_short, y)`` per sample, ``[N, 6]`` boxes → ``[N]``, differentiable in
    ``short_boxes`` (verireward's backward kernel; 0 gradient where the IoU is 0 by rule)."""
    return iou_3d(short_boxes, gt_boxes)


def token_likelihood_similarity(short_logits: Any, labels: Any, mask: Any = None) -> Any:
    """``s = (1/|y|) Σ_t p_short(y_t)``: the shortcut pass's mean probability of the ground-truth
    tokens, in [0, 1], differentiable in ``short_logits``.

    Args:
        short_logits: ``[N, L, V]``, ``short_logits[i, t]`` scoring ``labels[i, t]``.
        labels: ``[N, L]`` token ids; positions outside ``mask`` are ignored.
        mask: ``[N, L]``; default ``labels != -100``. A row with no token gets 0.
    """
    import torch

    op = "token_likelihood_similarity"
    N, L, V = torch_tensor(op, "short_logits", short_logits, "float", (None, None, None), "[N, L, V]").shape
    torch_tensor(op, "labels", labels, "int", (N, L))
    keep = (labels != -100) if mask is None else (mask != 0)
    if tuple(keep.shape) != (N, L):
        raise ValueError(f"{op}: argument 'mask' must have shape [{N}, {L}]")
    keep = keep.to(short_logits.device)
    lab = torch.where(keep, labels.to(short_logits.device), torch.zeros_like(labels, device=short_logits.device))
    if bool((keep & ((lab < 0) | (lab >= V))).any()):
        raise ValueError(f"{op}: argument 'labels' has an id outside [0, {V}) at a position inside the mask")
    logp = torch.log_softmax(short_logits.float() if short_logits.dtype in (torch.float16, torch.bfloat16) else short_logits, -1)
    p = logp.gather(-1, lab[..., None]).squeeze(-1).exp() * keep.to(logp.dtype)
    return p.sum(1) / keep.sum(1).clamp(min=1).to(logp.dtype)


def w2r2_loss(fused_logits: Any, labels: Any, short_similarity: Any, mu: float = 0.7, lam: float = 1.5, *,
              ignore_index: int = -100, return_parts: bool = False) -> Union[Any, Tuple[Any, Dict[str, Any]]]:
    """W2R2's objective (W2R2 Eq. 2, W2R2 Eq. 6, W2R2 Eq. 7): ``CE(o_fused, y) + λ·mean_i max(0, s_i − μ)``, to minimize.

    The hinge is 0 while the shortcut's similarity is at most μ and grows linearly (slope λ/N per
    sample) above it: only a 2D-only answer that is *too good* is punished.

    Args:
        fused_logits: the fused pass's logits, ``[N, C]`` (classification) or ``[N, L, V]``
            (tokens; the CE is the mean over positions whose label is not ``ignore_index``, 0 when
            there is none).
        labels: ``[N]`` or ``[N, L]`` integer targets.
        short_similarity: ``[N]`` similarity of the shortcut pass's answer to the ground truth, in
            [0, 1] and differentiable (:func:`box_similarity`, :func:`token_likelihood_similarity`),
            computed from :func:`shortcut_features`.
        mu: the margin μ in [0, 1] (paper: 0.7). lam: the weight λ >= 0 (paper: 1.5).
        return_parts: also return ``{"ce", "hinge", "active_fraction"}`` (detached).
    """
    import torch
    import torch.nn.functional as F

    op = "w2r2_loss"
    torch_tensor(op, "fused_logits", fused_logits, "float")
    if fused_logits.ndim not in (2, 3):
        torch_tensor(op, "fused_logits", fused_logits, "float", (None, None, None), "[N, C] or [N, L, V]")
    lead = tuple(fused_logits.shape[:-1])
    torch_tensor(op, "labels", labels, "int", lead)
    n = lead[0]
    torch_tensor(op, "short_similarity", short_similarity, "float", (n,))
    mu = check_number(op, mu, "mu", lambda v: 0.0 <= v <= 1.0, "a number in [0, 1]")
    lam = check_number(op, lam, "lam", lambda v: 0.0 <= v < float("inf"), "a finite number >= 0")
    flat_labels = labels.reshape(-1)
    counted = (flat_labels != ignore_index).sum().clamp(min=1)  # no counted position: CE 0, not NaN
    ce = F.cross_entropy(fused_logits.reshape(-1, fused_logits.shape[-1]), flat_labels, ignore_index=ignore_index,
                         reduction="sum") / counted
    gap = short_similarity.to(ce.dtype) - mu
    hinge = torch.relu(gap).mean() if n else ce.new_zeros(())  # gradient 0 at s = mu exactly
    loss = ce + lam * hinge
    if not return_parts:
        return loss
    with torch.no_grad():
        parts = {"ce": ce.detach(), "hinge": hinge.detach(),
                 "active_fraction": (gap > 0).to(ce.dtype).mean() if n else ce.new_zeros(())}
    return loss, parts


__all__ = ["w2r2_loss", "shortcut_features", "box_similarity", "token_likelihood_similarity"]
