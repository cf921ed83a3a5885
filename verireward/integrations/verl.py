"""verireward in verl (tested with verl 0.9.1): GRCA's routed advantages and AP-GRPO's advantages
as verl advantage estimators (``grca``, ``ap_grpo``), fed by ``compute_score`` functions that return
what they need (per-field rewards and spans; numeric errors).

How the pieces meet in verl:

* ``compute_score`` (point ``custom_reward_function.path`` at this module, ``name: compute_score``)
  returns ``{"score", "vr_field_rewards", "vr_char_spans", "vr_lam", "vr_rpc"}``. verl's reward manager keeps
  the extra keys and stores them in ``batch.non_tensor_batch``. ``score`` (the mean field reward,
  mixed with RPC) is what verl's own estimators see.
* The ``verl.plugins`` entry point (declared in pyproject.toml) imports this module when verl is
  imported. That registers the estimators ``grca``, ``grca_set`` and ``ap_grpo`` with ``register_adv_est``. It
  also wraps verl's ``compute_advantage`` so that, for these only, the estimator receives the
  batch's extra data. verl passes that to no estimator but its own GDPO, and this wrapper is the one
  trainer-side override. Select one with ``algorithm.adv_estimator=grca`` (or ``ap_grpo``).
* Many objects per answer: point the reward function at ``compute_score_set`` and select
  ``algorithm.adv_estimator=grca_set`` (set rewards, per-object credit; see verireward.grca.objects).
* AP-GRPO: point the reward function at ``compute_score_numeric``. Its output keeps the raw
  squared error, and the ``ap_grpo`` estimator computes SNRA at the sharpness of the current step.
  The step counts the estimator's calls (verl computes advantages once per step, in the driver);
  set ``total_steps`` in :func:`configure`.
* Token offsets need the tokenizer: verl's ``RayPPOTrainer`` (the driver, where verl computes
  advantages) hands its own to the estimators when it is built, unless :func:`configure` was
  given one first.
* verl scores in its reward-loop workers (other processes): options of the reward functions come
  from ``custom_reward_function.reward_kwargs``; :func:`configure` reaches only its own process.
  The functions return only floats, fixed-length lists and JSON strings, so verl's
  ``np.array([...])`` collation of a batch never fails on answers with different object counts.

Semantics: verl's GRPO conventions (``std + 1e-6``, unbiased; a group of one gives
``r / float32(1 + 1e-6)``; ``norm_adv_by_std_in_grpo=False`` is Dr.GRPO, ``r − mean``),
groups from verl's ``uid`` (rows of a uid need not be contiguous). With no per-field data, or one
field that covers the whole response, ``grca`` is verl's GRPO.
"""

from __future__ import annotations

import inspect
from typing import Any, Dict, Optional, Sequence

import numpy as np

from verireward.integrations._sets import parse_truth, prepare, resolve_schema, uid_groups as _groups
from verireward.parsing.schema import Schema
from verireward.grca.objects import route_set_credit
from verireward.ops.match import SET_REWARDS
from verireward.rewards.numeric import composite_reward, first_number, SharpnessSchedule, snra
from verireward.rewards.grounding import GroundingVerifier
from verireward.rewards.sets import score_answers
from verireward.ops.grpo import ap_grpo_advantages, routed_advantages
from verireward.grca.fields import grca_advantages, Verified

if __name__ == "verireward.integrations.verl":
    STATE: Dict[str, Any] = {"tokenizer": None, "lam": 0.15, "use_rpc": True, "verifier": None,
                             "image_size": (512, 512), "schedule": None, "e_max": 10.0, "format_weight": 0.1,
                             "alpha": 1.0, "clip": 1.5, "step": 0}
else:  # loaded by file path (verl's custom_reward_function.path=<this file>): one state, the package module's
    from verireward.integrations.verl import STATE  # noqa: F401


def configure(tokenizer: Any = None, *, lam: float = 0.15, use_rpc: bool = True, schema: Any = None,
              image_size: Sequence[float] = (512, 512), total_steps: int = 1000, schedule: str = "sigmoid",
              k_min: float = 1.0, k_max: float = 100.0, e_max: float = 10.0, format_weight: float = 0.1,
              alpha: float = 1.0, clip: Optional[float] = 1.5, set_schema: Any = None, set_threshold: float = 0.5,
              set_reward: str = "soft_f1", set_per_object: bool = True) -> None:
    """Set, for ``grca``: the tokenizer (token offsets), λ, whether RPC shapes the background, and the
    schema and image size ``compute_score`` reads completions with; for ``ap_grpo``: the sharpness
    schedule over ``total_steps``, ``e_max``, the format weight λ of SmoothOp Eq. 4, α and the clip. Resets
    the ``ap_grpo`` step counter; for ``compute_score_set`` and the ``grca_set`` estimator: one
    object's schema, the hit threshold, the set reward standardized (``set_reward``) and whether
    each object's tokens get their own credit (``set_per_object``; see :mod:`verireward.grca.objects`)."""

    if set_reward not in SET_REWARDS:
        raise ValueError(f"configure: argument 'set_reward' must be one of {', '.join(SET_REWARDS)}, got {set_reward!r}")
    if not isinstance(set_per_object, bool):
        raise TypeError(f"configure: argument 'set_per_object' must be a bool, got {type(set_per_object).__name__}")

    STATE.update(tokenizer=tokenizer, lam=lam, use_rpc=use_rpc, verifier=GroundingVerifier(schema or Schema.default()),
                 image_size=tuple(image_size), schedule=SharpnessSchedule(total_steps, schedule, k_min, k_max),
                 e_max=e_max, format_weight=format_weight, alpha=alpha, clip=clip, step=0, set_schema=set_schema,
                 set_threshold=set_threshold, set_reward=set_reward, set_per_object=set_per_object)


def _verifier(op: str, schema: Any) -> Any:
    """The verifier of ``schema`` (None: :func:`configure`'s), built once per distinct schema."""
    import json

    if schema is None:
        if STATE["verifier"] is None:
            configure(STATE["tokenizer"])
        return STATE["verifier"]
    sch = resolve_schema(op, schema)
    cache = STATE.setdefault("verifiers", {})
    key = json.dumps(sch.to_json(), sort_keys=True, default=str)
    if key not in cache:
        cache[key] = GroundingVerifier(sch)
    return cache[key]


def compute_score(data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any = None, *,
                  schema: Any = None, lam: Optional[float] = None, use_rpc: Optional[bool] = None,
                  image_size: Optional[Sequence[float]] = None, **kwargs: Any) -> Dict[str, Any]:
    """verl's reward-function signature. ``ground_truth``: a dict (or its JSON) with ``bbox2d``
    and/or ``bbox3d`` (those the schema's fields need) and, for RPC, ``K``, ``R``, ``t``.
    ``extra_info`` may hold this sample's ``image_size`` and ``resized_size`` ([W, H]): a per-image
    frame for the schema's pixels-frame fields (see :class:`verireward.GroundingVerifier`).

    Options come from verl's ``custom_reward_function.reward_kwargs`` (verl scores in its
    reward-loop workers, where the driver's :func:`configure` does not reach); each left out falls
    back to :func:`configure`: ``schema`` (a Schema, a preset name as for :func:`compute_score_set`,
    or a list of Field arguments), ``lam`` (λ, RPC's weight), ``use_rpc`` and ``image_size`` (the
    rendered frame RPC projects into, [W, H]). The λ used travels to the ``grca`` estimator as
    ``vr_lam`` (0 when no RPC is mixed in), so the background gets what ``score`` says."""
    import json

    import torch

    op = "compute_score"
    verifier = _verifier(op, schema)
    lam = STATE["lam"] if lam is None else lam
    use_rpc = STATE["use_rpc"] if use_rpc is None else use_rpc
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not 0.0 <= float(lam) <= 1.0:
        raise ValueError(f"{op}: argument 'lam' must be a float in [0, 1], got {lam!r}")
    if not isinstance(use_rpc, bool):
        raise TypeError(f"{op}: argument 'use_rpc' must be a bool, got {type(use_rpc).__name__}")
    gt = json.loads(ground_truth) if isinstance(ground_truth, str) else dict(ground_truth)
    f64 = dict(dtype=torch.float64)
    boxes = {k: torch.as_tensor(gt[k], **f64).reshape(1, -1) for k in ("bbox2d", "bbox3d") if k in gt}
    camera = None
    if all(k in gt for k in ("K", "R", "t")):
        camera = tuple(torch.as_tensor(gt[k], **f64)[None] for k in ("K", "R", "t"))
    extra = extra_info if isinstance(extra_info, dict) else {}
    if extra.get("resized_size") is not None:  # this image's own frame
        frames = dict(image_size=[extra.get("image_size")], resized_size=[extra["resized_size"]])
        if frames["image_size"][0] is None:
            raise ValueError(f"{op}: extra_info has 'resized_size' but no 'image_size' (the original [W, H])")
    else:
        frames = dict(image_size=(tuple(STATE["image_size"]) if image_size is None else tuple(image_size))
                      if camera else None)
    out = verifier([solution_str], boxes, camera=camera, **frames)
    geo = list(out.reward_columns)
    rewards = out.rewards[0].tolist()
    rpc = float(out.rpc[0]) if out.rpc is not None else 0.0
    lam = float(lam) if (use_rpc and out.rpc is not None) else 0.0
    result = {"score": (1 - lam) * float(np.mean(rewards)) + lam * rpc, "vr_field_rewards": rewards,
              "vr_char_spans": out.char_spans[0, geo].tolist(), "vr_lam": lam}
    if out.rpc is not None:  # a schema without RPC sends none: grca then mixes nothing in (as TRL)
        result["vr_rpc"] = rpc
    return result


def compute_score_set(data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any = None, *,
                      schema: Any = None, reward: Optional[str] = None, threshold: Optional[float] = None,
                      **kwargs: Any) -> Dict[str, Any]:
    """verl reward function for answers with many objects: ``ground_truth`` is ``{"boxes": [[...],
    ...], "labels": [...] (optional)}`` (an empty list: nothing to find), a dict or its JSON;
    the frame (``image_size``, ``resized_size``, [W, H]) from ``extra_info`` or the ground truth.

    Options come the way verl configures a reward function, ``custom_reward_function.reward_kwargs``
    (verl scores in its reward-loop workers, other processes than the driver's :func:`configure`):
    ``schema`` (a Schema, ``"qwen3vl_2d"`` (default), ``"qwen25vl_2d"`` or a list of Field
    arguments), ``reward`` (the set reward ``score`` carries and ``grca_set`` standardizes:
    ``soft_f1`` (default), ``precision``, ``recall``, ``f1``) and ``threshold`` (0.5); each left
    out falls back to :func:`configure`'s ``set_schema`` / ``set_reward`` / ``set_threshold``.

    Returns ``{"score", "soft_f1", "precision", "recall", "f1", "vr_set_reward", "vr_object_ious",
    "vr_object_spans"}``: floats, and per stored object its matched IoU and character span as JSON
    strings, so every value survives verl's ``np.array([...])`` collation of a ragged batch."""
    import json

    op = "compute_score_set"
    reward = STATE.get("set_reward", "soft_f1") if reward is None else reward
    if reward not in SET_REWARDS:
        raise ValueError(f"{op}: argument 'reward' must be one of {', '.join(SET_REWARDS)}, got {reward!r}")
    threshold = STATE.get("set_threshold", 0.5) if threshold is None else float(threshold)
    extra = extra_info if isinstance(extra_info, dict) else {}
    truth = {**parse_truth(op, ground_truth), **{k: extra[k] for k in ("image_size", "resized_size")
                                                 if extra.get(k) is not None}}  # extra_info's frame wins
    sch, boxes, labels, frames = prepare(op, [truth], STATE.get("set_schema") if schema is None else schema)
    scored = score_answers(op, [solution_str], boxes, labels, sch, box=None, seq=None, degrees=None,
                           threshold=threshold, max_objects=64, answer_tag=None, **frames)
    objs, match, out = scored.objects, scored.match, scored.rewards
    count = int(objs.counts[0])
    values = {k: float(getattr(out, k)[0]) for k in SET_REWARDS}
    return {"score": values[reward], **values, "vr_set_reward": values[reward],
            "vr_object_ious": json.dumps([float(v) for v in match.iou[0, :count]]),
            "vr_object_spans": json.dumps(objs.object_spans[0, :count].tolist())}


def compute_score_batch(data_sources: Sequence[Any], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                        extra_infos: Optional[Sequence[Any]] = None, **kwargs: Any) -> list:
    """The batch signature of verl's ``BatchRewardManager`` (``reward_model.reward_manager=batch``):
    one dict per row, ``compute_score_set`` for a ground truth with ``boxes``, else
    ``compute_score``."""
    import json

    extras = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
    out = []
    for src, text, gt, extra in zip(data_sources, solution_strs, ground_truths, extras):
        g = json.loads(gt) if isinstance(gt, str) else gt  # parsed once: both functions take the dict
        fn = compute_score_set if isinstance(g, dict) and "boxes" in g else compute_score
        out.append(fn(src, text, g, extra, **kwargs))
    return out


def compute_score_numeric(data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any = None,
                          **kwargs: Any) -> Dict[str, Any]:
    """verl's reward-function signature for numeric answers: the first number in the completion
    against ``float(ground_truth)``. ``score`` is 1 for a relative error within 5% (what verl's own
    estimators and logs see); ``vr_error`` is the squared error (NaN without a number) for
    ``ap_grpo``, which applies SNRA at the current step's sharpness."""
    y, pred = float(ground_truth), first_number(solution_str)
    err = (pred - y) ** 2 if pred == pred else float("nan")
    return {"score": float(abs(pred - y) <= 0.05 * abs(y)) if pred == pred else 0.0, "vr_error": err}


def _scale(config: Any, norm_adv_by_std_in_grpo: Optional[bool]) -> str:
    """verl's GRPO option as verireward's ``scale``: the value compute_advantage was given, else the
    algorithm config's ``norm_adv_by_std_in_grpo`` (verl's default True). False is Dr.GRPO."""
    if norm_adv_by_std_in_grpo is None:
        get = getattr(config, "get", None)
        norm_adv_by_std_in_grpo = get("norm_adv_by_std_in_grpo", True) if callable(get) else \
            getattr(config, "norm_adv_by_std_in_grpo", True)
    return "group" if norm_adv_by_std_in_grpo else "none"


def ap_grpo_advantage(token_level_rewards: Any, response_mask: Any, index: Any, config: Any = None,
                      non_tensor_batch: Optional[Dict[str, Any]] = None, batch: Any = None,
                      norm_adv_by_std_in_grpo: Optional[bool] = None, **kwargs: Any):
    """AP-GRPO (SmoothOp Eq. 8) per sequence on every response token: SNRA of ``vr_error`` at the sharpness of
    this call's step, the composite with the format term (a number was written), verl's GRPO
    standardization of the composite times ``r̃^α``, clipped. Advances the step counter."""
    import torch

    if STATE["schedule"] is None:
        configure(STATE["tokenizer"])
    if non_tensor_batch is None or "vr_error" not in non_tensor_batch:
        raise ValueError("ap_grpo estimator: the reward function must be verireward.integrations.verl.compute_score_numeric")
    err = torch.as_tensor(np.asarray(non_tensor_batch["vr_error"], dtype=np.float64))
    k = STATE["schedule"](min(STATE["step"], STATE["schedule"].total))
    r = snra(err, k, e_max=STATE["e_max"])
    total = composite_reward(r, torch.isfinite(err).to(torch.float64), STATE["format_weight"])
    order, ptr, inv = _groups(index)
    seq = ap_grpo_advantages(total[order], r[order], ptr, alpha=STATE["alpha"], clip=STATE["clip"], compat="verl",
                             scale=_scale(config, norm_adv_by_std_in_grpo))[inv]
    STATE["step"] += 1
    adv = seq.to(token_level_rewards.dtype).to(token_level_rewards.device)[:, None] * response_mask
    return adv, adv


def grca_advantage(token_level_rewards: Any, response_mask: Any, index: Any, config: Any = None,
                   non_tensor_batch: Optional[Dict[str, Any]] = None, batch: Any = None,
                   norm_adv_by_std_in_grpo: Optional[bool] = None, **kwargs: Any):
    """``(advantages, returns)`` ``[bs, L]``, verl's estimator signature (plus the batch's data).
    Honours what verl's GRPO honours: ``norm_adv_by_std_in_grpo`` (False: Dr.GRPO, no division by
    the group's standard deviation), verl's ``std + 1e-6`` and its singleton rule."""
    scale = _scale(config, norm_adv_by_std_in_grpo)
    import torch

    mask = response_mask.bool()
    n, L = mask.shape
    order, ptr, inv = _groups(index)
    per_field = non_tensor_batch is not None and "vr_field_rewards" in non_tensor_batch and batch is not None
    if per_field:
        rewards = torch.as_tensor(np.asarray(non_tensor_batch["vr_field_rewards"], dtype=np.float64))
        char_spans = torch.as_tensor(np.asarray(non_tensor_batch["vr_char_spans"], dtype=np.int64)).reshape(n, -1, 2)
        tok = STATE["tokenizer"]
        if tok is None:
            raise ValueError("grca estimator: call verireward.integrations.verl.configure(tokenizer) before training")
        rpc, lam = None, STATE["lam"]
        if "vr_lam" in non_tensor_batch:  # the λ compute_score used (its reward_kwargs), 0: no RPC mixed in
            lams = np.unique(np.asarray(non_tensor_batch["vr_lam"], dtype=np.float64))
            if len(lams) > 1:
                raise ValueError(f"grca estimator: the batch's rows were scored with different λ (vr_lam {lams.tolist()})")
            lam = float(lams[0]) if len(lams) else lam
            use = lam > 0
        else:
            use = STATE["use_rpc"]
        if use and "vr_rpc" in non_tensor_batch:
            rpc = torch.as_tensor(np.asarray(non_tensor_batch["vr_rpc"], dtype=np.float64))[order]
        verified = Verified(rewards[order], char_spans[order], rpc)
        adv = grca_advantages(None, batch["responses"].cpu()[order], mask.cpu()[order], None, ptr, tokenizer=tok,
                              lam=lam, compat="verl", scale=scale, verified=verified).advantages
    else:  # one field, the whole response, rewarded with verl's sequence score: verl's GRPO
        scores = token_level_rewards.sum(-1).double().cpu()[:, None]
        whole = torch.tensor([[[0, L]]] * n, dtype=torch.int64)
        adv = routed_advantages(scores[order], whole[order], mask.cpu()[order], ptr, compat="verl", scale=scale)
    adv = adv[inv].to(token_level_rewards.dtype).to(token_level_rewards.device) * response_mask
    return adv, adv


def grca_set_advantage(token_level_rewards: Any, response_mask: Any, index: Any, config: Any = None,
                       non_tensor_batch: Optional[Dict[str, Any]] = None, batch: Any = None,
                       norm_adv_by_std_in_grpo: Optional[bool] = None, **kwargs: Any):
    """Many-object GRCA (:mod:`verireward.grca.objects`) as a verl estimator, fed by
    ``compute_score_set``: the set reward standardized per ``uid`` group (verl's conventions) and,
    with ``configure(set_per_object=True)`` (the default), each object's tokens credited from its
    matched IoU."""
    import torch

    need = ("vr_set_reward", "vr_object_ious", "vr_object_spans")
    if non_tensor_batch is None or batch is None or any(k not in non_tensor_batch for k in need):
        raise ValueError("grca_set estimator: the reward function must be verireward.integrations.verl.compute_score_set")
    tok = STATE["tokenizer"]
    if tok is None:
        raise ValueError("grca_set estimator: call verireward.integrations.verl.configure(tokenizer) before training")
    order, ptr, inv = _groups(index)
    o = order.tolist()
    R = np.asarray(non_tensor_batch["vr_set_reward"], dtype=np.float64)[o]
    import json

    read = lambda v: json.loads(v) if isinstance(v, str) else v  # JSON (compute_score_set) or lists
    ious = [list(read(non_tensor_batch["vr_object_ious"][i])) for i in o]
    spans = [np.asarray(read(non_tensor_batch["vr_object_spans"][i]), dtype=np.int64).reshape(-1, 2) for i in o]
    adv = route_set_credit(torch.from_numpy(R), ious, spans, batch["responses"].cpu()[order],
                           response_mask.bool().cpu()[order], ptr, tokenizer=tok,
                           per_object=STATE.get("set_per_object", True), compat="verl",
                           scale=_scale(config, norm_adv_by_std_in_grpo))
    adv = adv[inv].to(token_level_rewards.dtype).to(token_level_rewards.device) * response_mask
    return adv, adv


ESTIMATORS = {"grca": grca_advantage, "ap_grpo": ap_grpo_advantage, "grca_set": grca_set_advantage}


def _install() -> None:
    """Register the estimators and wrap verl's ``compute_advantage`` to pass them the batch (verl
    import hook)."""
    from verl.trainer.ppo import core_algos, ray_trainer

    for name, fn in ESTIMATORS.items():
        if name not in core_algos.ADV_ESTIMATOR_REGISTRY:
            core_algos.register_adv_est(name)(fn)
    if getattr(ray_trainer.compute_advantage, "_verireward", False):
        return
    original = ray_trainer.compute_advantage
    signature = inspect.signature(original)

    def compute_advantage(data: Any, adv_estimator: Any, *args: Any, **kw: Any):
        name = str(getattr(adv_estimator, "value", adv_estimator))
        if name not in ESTIMATORS:
            return original(data, adv_estimator, *args, **kw)
        bound = signature.bind(data, adv_estimator, *args, **kw)  # the options verl's own GRPO receives
        norm = bound.arguments.get("norm_adv_by_std_in_grpo")
        config = bound.arguments.get("config")
        if "response_mask" not in data.batch.keys():
            data.batch["response_mask"] = ray_trainer.compute_response_mask(data)
        adv, ret = ESTIMATORS[name](data.batch["token_level_rewards"], data.batch["response_mask"],
                                    data.non_tensor_batch["uid"], config, data.non_tensor_batch, data.batch,
                                    norm_adv_by_std_in_grpo=True if norm is None else bool(norm))
        data.batch["advantages"], data.batch["returns"] = adv, ret
        return data

    compute_advantage._verireward = True
    ray_trainer.compute_advantage = compute_advantage

    trainer_init = ray_trainer.RayPPOTrainer.__init__
    init_signature = inspect.signature(trainer_init)

    def __init__(self: Any, *args: Any, **kw: Any) -> None:
        # the driver's tokenizer for the estimators' token offsets, unless configure() was given one
        if STATE["tokenizer"] is None:
            STATE["tokenizer"] = init_signature.bind_partial(self, *args, **kw).arguments.get("tokenizer")
        trainer_init(self, *args, **kw)

    __init__.__doc__, __init__.__wrapped__ = trainer_init.__doc__, trainer_init
    ray_trainer.RayPPOTrainer.__init__ = __init__


try:  # loaded by verl's plugin discovery (or imported by the user): hook into verl when it is there
    _install()
except ImportError:  # verl is not installed: compute_score and grca_advantage still work on their own
    pass


__all__ = ["configure", "compute_score", "compute_score_batch", "compute_score_numeric", "compute_score_set",
           "grca_advantage", "ap_grpo_advantage",
           "grca_set_advantage", "ESTIMATORS"]
