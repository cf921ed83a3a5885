"""verireward in TRL (tested with TRL 1.16): per-field reward functions with TRL's signature, and
``GRPOTrainer`` subclasses that put verireward's advantages in place of TRL's: GRCA's routed
per-token ones (:class:`GRCAGRPOTrainer`) and AP-GRPO's (:class:`NumericGRPOTrainer`, with
:class:`NumericRewards`, whose SNRA sharpness follows the trainer's step).

Reward functions (:class:`GroundingRewards`): one callable per geometric field of the schema (and
one for RPC), so TRL logs each under ``rewards/verireward_<field>``. Ground truth comes from dataset
columns: ``bbox2d`` and ``bbox3d``, and ``K``, ``R``, ``t`` for RPC. The callables of one
:class:`GroundingRewards` share a single verification per batch. They can be passed to a plain
``GRPOTrainer``, and TRL then sums them into its usual GRPO advantage.

:class:`GRCAGRPOTrainer` keeps TRL's generation and scoring, and its reward functions still run
and log. Then, for this process's completions, it builds the ``[B, T]`` routed advantages and puts
them in place of TRL's ``[B]`` ones; TRL's loss accepts 2-D advantages. Per-field rewards and RPC
are gathered from every process and standardized per group as TRL's own advantage is (``std +
1e-4``, the trainer's ``scale_rewards``: group, batch or none). Each process then routes its own
rows, so a group split across processes is standardized as a whole. The reward caches are keyed on
everything a result depends on (texts, every ground-truth and camera column, the step).
"""

from __future__ import annotations

import warnings

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from verireward._backend import is_tensor
from verireward.parsing.schema import Schema
from verireward.rewards.grounding import GroundingVerifier, VerifierOutput
from verireward.parsing.frames import derive_frames, image_sizes
from verireward.rewards.sets import answer_set_rewards
from verireward.rewards.numeric import first_number, SharpnessSchedule, snra, squared_error
from verireward.grca.fields import grca_advantages, grca_mode
from verireward.grca.objects import grca_set_advantages
from verireward.ops.grpo import Distributed, Standardization, ap_grpo_advantages
from verireward.ops.match import SET_REWARDS


def _text(completion: Any) -> str:
    """A completion as TRL passes it: a string, or a conversation whose last message holds it."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    return str(completion)


def _fingerprint(columns: Dict[str, Any], keys: Sequence[str]) -> Tuple[Any, ...]:
    """Exact, hashable contents of the columns a result depends on (shape and float64 bytes of
    each), so that a cache keyed on it can never return another batch's rewards."""
    import numpy as np

    out = []
    for k in keys:
        if k not in columns:
            out.append((k, None))
            continue
        v = columns[k]
        if is_tensor(v):
            v = v.detach().cpu().numpy()
        try:
            a = np.asarray(v, dtype=np.float64)
            out.append((k, a.shape, a.tobytes()))
        except (TypeError, ValueError):  # ragged or non-numeric: its repr is exact enough to compare
            out.append((k, repr(v)))
    return tuple(out)


def trl_scale(trainer: Any) -> str:
    """The trainer's ``scale_rewards`` as verireward's ``scale`` (older TRL: a bool)."""
    value = getattr(trainer, "scale_rewards", getattr(getattr(trainer, "args", None), "scale_rewards", "group"))
    if value is True:
        return "group"
    if value is False:
        return "none"
    if value not in ("group", "batch", "none"):
        raise ValueError(f"verireward: TRL's scale_rewards must be 'group', 'batch' or 'none', got {value!r}")
    return str(value)


def _frame_kwargs(op: str, schema: Schema, columns: Dict[str, Any], n: int, processor: Any, image_grid_thw: Any = None,
                  truth: Any = None) -> Dict[str, Any]:
    """The frame arguments of a batch, derived by :func:`verireward.parsing.frames.derive_frames` (explicit
    columns, then ``image_grid_thw``, then the rows' images under ``processor``, then Qwen's
    defaults with a warning)."""
    pixels = any(f.frame == "pixels" for f in schema.fields)
    in_pixels = False
    if not pixels and truth is not None:
        try:
            flat = np.concatenate([np.asarray(t, dtype=np.float64).reshape(-1) for t in truth] + [np.zeros(0)])
            in_pixels = bool(np.nanmax(np.abs(flat), initial=0.0) > 1.0)
        except (TypeError, ValueError):
            in_pixels = False
    images = columns.get("images")
    per_row = [len(x) if isinstance(x, (list, tuple)) else 1 for x in images] if isinstance(images, (list, tuple)) else None
    frames, _ = derive_frames(op, columns, n, pixels=pixels, processor=processor, image_grid_thw=image_grid_thw,
                              images_per_row=per_row, truth_in_pixels=in_pixels)
    return frames


class GroundingRewards:
    """Reward functions for TRL computed by one :class:`verireward.GroundingVerifier` call per batch.

    Args:
        schema: how completions are read (default: :meth:`verireward.Schema.default`; synthetic scenes: :func:`verireward.data.grounding_schema`).
        processor: the processor the model's images go through (TRL's ``processing_class``): the
            frame each image was seen in is derived under its resize settings.
        image_size: ``(W, H)`` the 2D fields are normalized by for RPC, when the rows carry no
            image (RPC works in pixels).
        rpc: also provide an RPC reward function.

    Dataset columns: ``bbox2d`` and/or ``bbox3d`` (those the schema needs), ``K``, ``R``, ``t`` for
    RPC, and the frame, derived in this order (:func:`verireward.parsing.frames.derive_frames`): per-row
    ``image_size`` and ``resized_size`` columns; the trainer's ``image_grid_thw``
    (:class:`GRCAGRPOTrainer`); the rows' ``image``/``images`` under ``processor``; the images
    under Qwen's defaults with a warning. A pixels-frame schema with no frame known warns.
    """

    def __init__(self, schema: Optional[Schema] = None, image_size: Sequence[float] = (512, 512), rpc: bool = True, *,
                 processor: Any = None):

        self.verifier = GroundingVerifier(schema or Schema.default())
        self.image_size = tuple(image_size)
        self.rpc = rpc
        self.processor = processor
        self._last: Optional[Tuple[Tuple[str, ...], VerifierOutput]] = None

    def verify(self, texts: Sequence[str], columns: Dict[str, Any], device: Any = None) -> VerifierOutput:
        """The verification of these texts against these ground-truth columns (cached for the batch)."""
        gt, camera = self.ground_truth(columns, device)
        # the result depends on the texts, every ground-truth, camera and frame column, and the device
        frames = self.frames(columns, camera, n=len(texts))
        key = (tuple(texts), _fingerprint(columns, ("bbox2d", "bbox3d", "K", "R", "t")), _fingerprint(frames, sorted(frames)),
               str(device))
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        out = self.verifier(list(texts), gt, camera=camera, **frames)
        self._last = (key, out)
        return out

    def ground_truth(self, columns: Dict[str, Any], device: Any = None):
        """``(gt, camera)`` float64 tensors from the dataset columns (camera None without K, R, t)."""
        import torch

        needed = {"bbox2d" if f.kind in ("box2d", "points2d") else "bbox3d" for f in self.verifier.geometric}
        for name in sorted(needed):
            if name not in columns:
                raise ValueError(f"GroundingRewards: the dataset needs a {name!r} column")
        f64 = dict(dtype=torch.float64, device=device)
        gt = {k: torch.as_tensor(columns[k], **f64) for k in sorted(needed)}
        camera = None
        if all(k in columns for k in ("K", "R", "t")):
            camera = tuple(torch.as_tensor(columns[k], **f64) for k in ("K", "R", "t"))
        return gt, camera

    def frames(self, columns: Dict[str, Any], camera: Any, n: Optional[int] = None, image_grid_thw: Any = None) -> Dict[str, Any]:
        """The verifier's frame arguments: per-row frames derived as the class says; without them,
        for RPC, the rows' image sizes (or the fixed ``image_size``)."""
        n = n if n is not None else len(next(iter(columns.values()), []))
        derived = _frame_kwargs("GroundingRewards", self.verifier.schema, columns, n, self.processor, image_grid_thw)
        if "resized_size" in derived:
            return derived
        if camera is None:
            return {}
        if derived.get("image_size") is not None:
            return {"image_size": derived["image_size"]}

        images = columns.get("image", columns.get("images"))
        sizes = image_sizes(images) if isinstance(images, (list, tuple)) else None
        return dict(image_size=sizes if sizes is not None and len(sizes) == n else self.image_size)

    def functions(self) -> List[Any]:
        """One TRL reward function per geometric field (``verireward_<field>``), plus ``verireward_rpc``."""
        funcs = []
        for j, f in enumerate(self.verifier.geometric):
            funcs.append(self._field_function(j, f"verireward_{f.name}"))
        if self.rpc:
            funcs.append(self._rpc_function())
        return funcs

    def _field_function(self, j: int, name: str) -> Any:
        def reward(prompts=None, completions=None, **kwargs) -> List[float]:
            out = self.verify([_text(c) for c in completions], kwargs)
            return out.rewards[:, j].tolist()

        reward.__name__ = name
        return reward

    def _rpc_function(self) -> Any:
        def reward(prompts=None, completions=None, **kwargs) -> List[float]:
            out = self.verify([_text(c) for c in completions], kwargs)
            return out.rpc.tolist() if out.rpc is not None else [0.0] * len(completions)

        reward.__name__ = "verireward_rpc"
        return reward


class SetRewardFunctions:
    """TRL reward functions for answers with many objects, sharing one
    :func:`verireward.answer_set_rewards` call per batch. By default TRL optimizes one reward,
    ``verireward_soft_f1``; precision, recall and F1 are logged with it (TRL's ``log_metric``, as
    ``verireward/<name>``), never summed into the reward. ``rewards=`` chooses which are reward
    functions (each then one that TRL sums, under ``reward_weights``).

    Dataset columns: ``boxes`` (per row a list of ``[W]`` ground-truth boxes; empty when there is
    nothing to find), optional ``labels`` (per row a list of labels), and the frame, derived as in
    :class:`GroundingRewards`: ``image_size``/``resized_size`` columns, the trainer's
    ``image_grid_thw``, the rows' ``image``/``images`` under ``processor`` (or Qwen's defaults,
    with a warning). A 0–1000 schema (Qwen3-VL) compares in original pixels when the rows carry an
    ``image_size`` column, or when the truth is in pixels (a coordinate above 1) and the rows carry
    their images.

    Args:
        schema: one object's fields (default :meth:`Schema.qwen3vl_2d`).
        rewards: the rewards TRL optimizes, of ``soft_f1``, ``precision``, ``recall``, ``f1``
            (default: soft F1 alone); every other one is logged.
        processor: the processor the images go through (TRL's ``processing_class``).
        box, seq, degrees, threshold, answer_tag, max_objects: as in ``answer_set_rewards``.
    """

    REWARDS = SET_REWARDS

    def __init__(self, schema: Optional[Schema] = None, rewards: Sequence[str] = ("soft_f1",), *, processor: Any = None,
                 box: Optional[str] = None, seq: Optional[str] = None, degrees: Optional[bool] = None,
                 threshold: float = 0.5, answer_tag: Optional[str] = None, max_objects: int = 64):
        bad = [r for r in rewards if r not in self.REWARDS]
        if isinstance(rewards, str) or bad or not rewards:
            raise ValueError(f"SetRewardFunctions: argument 'rewards' must name some of {', '.join(self.REWARDS)}, got {rewards!r}")
        self.schema = schema or Schema.qwen3vl_2d()
        self.rewards = tuple(rewards)
        self.processor = processor
        self.options = dict(box=box, seq=seq, degrees=degrees, threshold=threshold, answer_tag=answer_tag,
                            max_objects=max_objects)
        self._last: Optional[Tuple[Any, Any]] = None

    def frames(self, columns: Dict[str, Any], n: int, image_grid_thw: Any = None) -> Dict[str, Any]:
        """The batch's frame arguments (see the class)."""
        return _frame_kwargs("SetRewardFunctions", self.schema, columns, n, self.processor, image_grid_thw,
                             truth=columns.get("boxes"))

    def compute(self, texts: Sequence[str], columns: Dict[str, Any]) -> Any:
        """The batch's :class:`verireward.SetRewards` (cached on the texts, the columns and the frames)."""
        if "boxes" not in columns:
            raise ValueError("SetRewardFunctions: the dataset needs a 'boxes' column (per row, a list of boxes)")
        frames = self.frames(columns, len(texts))
        key = (tuple(texts), tuple((k, repr(columns.get(k))) for k in ("boxes", "labels")), _fingerprint(frames, sorted(frames)))
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        out = answer_set_rewards(list(texts), list(columns["boxes"]), columns.get("labels"), self.schema, **self.options,
                                 **frames)
        self._last = (key, out)
        return out

    def functions(self) -> List[Any]:
        """One TRL reward function per reward TRL optimizes, named ``verireward_<reward>``; the
        first also logs the mean of every other set reward through TRL's ``log_metric``."""
        funcs = []
        logged = [r for r in self.REWARDS if r not in self.rewards]
        for k, name in enumerate(self.rewards):
            def reward(prompts=None, completions=None, _name=name, _log=(logged if k == 0 else []), **kwargs) -> List[float]:
                out = self.compute([_text(c) for c in completions], kwargs)
                log = kwargs.get("log_metric")
                for other in _log if callable(log) else []:
                    log(f"verireward/{other}", float(np.mean([float(v) for v in getattr(out, other)])))
                return [float(v) for v in getattr(out, _name)]

            reward.__name__ = f"verireward_{name}"
            funcs.append(reward)
        return funcs


class NumericRewards:
    """SNRA rewards for numeric answers, as TRL reward functions (SmoothOp Eq. 2, SmoothOp Eq. 3, SmoothOp Eq. 4, SmoothOp Eq. 5).

    The answer is the first number in the completion (:func:`verireward.rewards.numeric.first_number`),
    compared with the dataset column ``answer_column``; the sharpness is
    ``SharpnessSchedule(trainer_state.max_steps, schedule, ...)`` at ``trainer_state.global_step``.
    :meth:`functions` gives ``verireward_snra`` (the SNRA reward r̃) and ``verireward_format``
    (1 when a number was written); TRL's ``reward_weights=[1 - λ, λ]`` make their sum SmoothOp Eq. 4's
    composite reward (λ = 0.1 in the paper).
    """

    def __init__(self, answer_column: str = "answer", schedule: str = "sigmoid", k_min: float = 1.0,
                 k_max: float = 100.0, e_max: float = 10.0):
        self.answer_column, self.schedule, self.k_min, self.k_max, self.e_max = answer_column, schedule, k_min, k_max, e_max
        self.last: Optional[Tuple[Tuple[str, ...], Any, Any, float]] = None  # texts, snra, format, k

    def score(self, texts: Sequence[str], answers: Sequence[float], step: int, total: int):
        """``(snra [N], format [N], k)`` float64 tensors for these texts (cached for the batch)."""
        import torch

        key = (tuple(texts), _fingerprint({"answers": answers}, ("answers",)), int(step), int(total))
        if self.last is not None and self.last[0] == key:
            return self.last[1], self.last[2], self.last[3]
        k = SharpnessSchedule(max(total, 1), self.schedule, self.k_min, self.k_max)(min(step, max(total, 1)))
        pred = torch.tensor([first_number(t) for t in texts], dtype=torch.float64)
        r = snra(squared_error(pred, torch.tensor([float(a) for a in answers], dtype=torch.float64)), k, e_max=self.e_max)
        fmt = torch.isfinite(pred).to(torch.float64)
        self.last = (key, r, fmt, k)
        return r, fmt, k

    def functions(self) -> List[Any]:
        def _scored(completions, kwargs):
            state = kwargs.get("trainer_state")
            step, total = (state.global_step, state.max_steps) if state is not None else (0, 1)
            return self.score([_text(c) for c in completions], kwargs[self.answer_column], step, total)

        def verireward_snra(prompts=None, completions=None, **kwargs) -> List[float]:
            return _scored(completions, kwargs)[0].tolist()

        def verireward_format(prompts=None, completions=None, **kwargs) -> List[float]:
            return _scored(completions, kwargs)[1].tolist()

        return [verireward_snra, verireward_format]


def _local_texts(trainer: Any, out: Dict[str, Any]):
    """This process's completion ids, mask and texts (decoded inside the mask, special tokens skipped)."""
    ids, mask = out["completion_ids"], out["completion_mask"].bool()
    texts = trainer.processing_class.batch_decode([row[m].tolist() for row, m in zip(ids, mask)], skip_special_tokens=True)
    return ids, mask, texts


def _trl_standardization(trainer: Any) -> Standardization:
    """TRL's own standardization of its advantage (``std + 1e-4``, NaN rewards left out, the
    trainer's ``scale_rewards``)."""
    return Standardization(compat="trl", scale=trl_scale(trainer))


def _trl_distributed(trainer: Any, device: Any) -> Distributed:
    """Every process's rows in TRL's order (groups split over processes standardized whole)."""
    return Distributed(gather=lambda x: trainer.accelerator.gather(x.to(device)),
                       process_index=trainer.accelerator.process_index)


def _grpo_trainer_class():
    from trl import GRPOTrainer

    class GRCAGRPOTrainer(GRPOTrainer):
        """TRL's ``GRPOTrainer`` with GRCA's routed per-token advantages (modes ``routed`` and
        ``routed_rpc``; ``broadcast`` leaves TRL's own advantages, i.e. plain GRPO).

        Args:
            grounding: the :class:`GroundingRewards` whose functions score the completions (its
                functions become ``reward_funcs`` unless you pass your own).
            mode: ``"routed"``, ``"routed_rpc"`` or ``"broadcast"``.
            lam: the RPC weight λ (the paper's 0.15).
            Everything else: as ``trl.GRPOTrainer``.
        """

        def __init__(self, *args: Any, grounding: GroundingRewards, mode: str = "routed_rpc", lam: float = 0.15,
                     **kwargs: Any) -> None:
            grca_mode("GRCAGRPOTrainer", mode)
            kwargs.setdefault("reward_funcs", grounding.functions())
            super().__init__(*args, **kwargs)
            if grounding.processor is None and hasattr(self.processing_class, "image_processor"):
                grounding.processor = self.processing_class  # the frame under the trainer's own processor
            self.grounding, self.grca_mode, self.lam = grounding, mode, lam
            self.last_routed = None  # (completion_ids, completion_mask, advantages) of the last scored batch

        def _generate_and_score_completions(self, inputs: List[Dict[str, Any]]) -> Dict[str, Any]:
            out = super()._generate_and_score_completions(inputs)
            if self.grca_mode == "broadcast" or not self.model.training:
                return out

            ids, mask, texts = _local_texts(self, out)
            columns = {k: [x[k] for x in inputs] for k in inputs[0]
                       if k in ("bbox2d", "bbox3d", "K", "R", "t", "image_size", "resized_size", "image", "images")}
            gt, camera = self.grounding.ground_truth(columns)
            frames = self.grounding.frames(columns, camera, n=len(texts), image_grid_thw=out.get("image_grid_thw"))
            # every process's rows, in TRL's order, so that groups split over processes are standardized
            # whole, as TRL's own advantage is (std + 1e-4, its scale_rewards)
            res = grca_advantages(texts, ids, mask, gt, self.num_generations, tokenizer=self.processing_class,
                                  schema=self.grounding.verifier.schema, camera=camera,
                                  **frames, lam=self.lam,
                                  mode=self.grca_mode, standardization=_trl_standardization(self),
                                  distributed=_trl_distributed(self, ids.device))
            adv = res.advantages
            out["advantages"] = adv.to(out["advantages"].dtype)
            self.last_routed = (ids, mask, out["advantages"])  # TRL may shuffle rows before its loss: keep them paired
            return out

    return GRCAGRPOTrainer


def _set_grpo_trainer_class():
    from trl import GRPOTrainer

    class SetGRCAGRPOTrainer(GRPOTrainer):
        """TRL's ``GRPOTrainer`` with many-object GRCA advantages
        (:func:`verireward.grca_set_advantages`): the set reward ``reward`` standardized per group
        (TRL's ``std + 1e-4`` and ``scale_rewards``) and, with ``per_object=True``, each object's
        tokens credited from its matched IoU. Groups split over processes are standardized whole.

        Args:
            sets: the :class:`SetRewardFunctions` (schema, box kind, threshold, answer tag) whose
                functions become ``reward_funcs`` unless you pass your own; the dataset columns
                are its (``boxes``, optional ``labels``, ``image_size``, ``resized_size``).
            reward: the set reward standardized (``"soft_f1"``, ``"precision"``, ``"recall"``, ``"f1"``).
            per_object: per-object credit.
            Everything else: as ``trl.GRPOTrainer``.
        """

        def __init__(self, *args: Any, sets: SetRewardFunctions, reward: str = "soft_f1", per_object: bool = True,
                     **kwargs: Any) -> None:
            if reward not in SetRewardFunctions.REWARDS:
                raise ValueError(f"SetGRCAGRPOTrainer: reward must be one of {', '.join(SetRewardFunctions.REWARDS)}, "
                                 f"got {reward!r}")
            kwargs.setdefault("reward_funcs", sets.functions())
            super().__init__(*args, **kwargs)
            if sets.processor is None and hasattr(self.processing_class, "image_processor"):
                sets.processor = self.processing_class  # the frame under the trainer's own processor
            self.sets, self.set_reward, self.per_object = sets, reward, per_object
            self.last_routed = None  # (completion_ids, completion_mask, advantages) of the last scored batch

        def _generate_and_score_completions(self, inputs: List[Dict[str, Any]]) -> Dict[str, Any]:
            out = super()._generate_and_score_completions(inputs)
            if not self.model.training:
                return out

            ids, mask, texts = _local_texts(self, out)
            if "boxes" not in inputs[0]:
                raise ValueError("SetGRCAGRPOTrainer: the dataset needs a 'boxes' column (per row, a list of boxes)")
            col = lambda k: [x[k] for x in inputs] if k in inputs[0] and inputs[0][k] is not None else None
            o = self.sets.options
            columns = {k: col(k) for k in ("boxes", "image_size", "resized_size", "image", "images") if col(k) is not None}
            frames = self.sets.frames(columns, len(texts), image_grid_thw=out.get("image_grid_thw"))
            res = grca_set_advantages(texts, ids, mask, col("boxes"), self.num_generations,
                                      tokenizer=self.processing_class, schema=self.sets.schema, gt_labels=col("labels"),
                                      reward=self.set_reward, per_object=self.per_object, threshold=o["threshold"],
                                      box=o["box"], seq=o["seq"], degrees=o["degrees"], max_objects=o["max_objects"],
                                      answer_tag=o["answer_tag"], **frames, standardization=_trl_standardization(self),
                                      distributed=_trl_distributed(self, ids.device))
            out["advantages"] = res.advantages.to(out["advantages"].device, out["advantages"].dtype)
            self.last_routed = (ids, mask, out["advantages"])
            return out

    return SetGRCAGRPOTrainer


def _ap_grpo_trainer_class():
    from trl import GRPOTrainer

    class NumericGRPOTrainer(GRPOTrainer):
        """TRL's ``GRPOTrainer`` with AP-GRPO's advantage (SmoothOp Eq. 8): TRL's weighted reward sum (the
        composite reward, with :class:`NumericRewards` and ``reward_weights=[0.9, 0.1]``) standardized
        per group (TRL's ``std + 1e-4``) times ``r̃^α`` (the SNRA reward), clipped to ±``clip``.
        The KL weight is TRL's ``beta`` (the paper's 0.02).
        """

        def __init__(self, *args: Any, numeric: NumericRewards, alpha: float = 1.0, clip: Optional[float] = 1.5,
                     **kwargs: Any) -> None:
            kwargs.setdefault("reward_funcs", numeric.functions())
            super().__init__(*args, **kwargs)
            self.numeric, self.alpha, self.clip = numeric, alpha, clip
            self.last_ap = None  # (completion_ids, advantages) of the last scored batch

        def _generate_and_score_completions(self, inputs: List[Dict[str, Any]]) -> Dict[str, Any]:
            out = super()._generate_and_score_completions(inputs)
            if not self.model.training:
                return out
            import torch

            ids, mask, texts = _local_texts(self, out)
            r, fmt, _ = self.numeric.score(texts, [x[self.numeric.answer_column] for x in inputs], self.state.global_step,
                                           self.state.max_steps)
            w = self.reward_weights.to("cpu", torch.float64)
            total = w[0] * r + w[1] * fmt if len(w) > 1 else w[0] * r
            device = ids.device
            all_total = self.accelerator.gather(total.to(device, torch.float32)).double()
            all_r = self.accelerator.gather(r.to(device, torch.float32)).double()
            A = ap_grpo_advantages(all_total, all_r.clamp(0, 1), self.num_generations, alpha=self.alpha, clip=self.clip,
                                   compat="trl", scale=trl_scale(self))
            n = len(texts)
            rows = slice(self.accelerator.process_index * n, (self.accelerator.process_index + 1) * n)
            out["advantages"] = A[rows].to(out["advantages"].dtype)
            self.last_ap = (ids, out["advantages"])
            return out

    return NumericGRPOTrainer


_LAZY = {"GRCAGRPOTrainer": _grpo_trainer_class, "NumericGRPOTrainer": _ap_grpo_trainer_class,
         "SetGRCAGRPOTrainer": _set_grpo_trainer_class}


def __getattr__(name: str) -> Any:  # the subclasses are built when asked for: importing this module needs no TRL
    if name == "APGRPOTrainer":  # its name before 0.2.0: verireward.trainers.APGRPOTrainer is the reference trainer
        warnings.warn("verireward.integrations.trl.APGRPOTrainer is now NumericGRPOTrainer (the name "
                      "APGRPOTrainer is verireward.trainers' reference trainer)", DeprecationWarning, stacklevel=2)
        return __getattr__("NumericGRPOTrainer")
    if name in _LAZY:
        cls = _LAZY[name]()
        globals()[name] = cls
        return cls
    raise AttributeError(name)


__all__ = ["GroundingRewards", "NumericRewards", "SetRewardFunctions", "GRCAGRPOTrainer", "NumericGRPOTrainer",
           "SetGRCAGRPOTrainer"]
