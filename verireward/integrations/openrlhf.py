"""verireward in OpenRLHF: a ``reward_func(queries, prompts, labels)`` for answers with many
objects, and GRCA's per-object advantages behind a small patch (read at openrlhf 0.11.2).
OpenRLHF loads the function from a file: ``--reward.remote_url`` pointing at this module's path
(``python -c "import verireward.integrations.openrlhf as m; print(m.__file__)"``), with
``--data.label_key`` the dataset column holding each row's ground truth as JSON
(``{"boxes": [...], "labels": [...], "image_size": [W, H], "resized_size": [W, H]}``). To
configure it, write your own file with ``reward_func = make_reward_func(schema=..., reward=...)``.

OpenRLHF passes ``queries`` = prompt + response decoded with special tokens; scoring the whole
query would read the prompt's example box as a prediction, so the response is cut out first:
after the prompt when the query starts with it; else after the prompt's text past its last image
token (the image pads are expanded in the query, not in the prompt); else after the last
``<|im_start|>assistant``. Trailing ``<|im_end|>``/``<|endoftext|>`` are dropped. It returns
``{"rewards": tensor, "scores": tensor, "extra_logs": {"soft_f1", "precision", "recall", "f1"}}``.

GRCA's per-token credit: OpenRLHF computes advantages in its experience maker
(``RemoteExperienceMaker.compute_advantages_and_returns``, estimators a fixed list of CLI choices).
``openrlhf_grca_set.patch`` (beside this file; ``patch -p1`` in OpenRLHF's root or in the
site-packages folder that holds ``openrlhf/``; checked to apply to 0.11.2) adds ``grca_set`` to
``--algo.advantage.estimator``'s choices (and to the estimators that need
``n_samples_per_prompt > 1``) and one branch that hands the experiences to
:func:`grca_set_advantage` after OpenRLHF's length penalties. It reads its options (schema,
reward, threshold, ``per_object``) from the reward file itself (``--reward.remote_url``), so the
advantage and the reward see one configuration. Without the patch the reward drives OpenRLHF's
own estimators (``group_norm`` is GRPO).
"""

from __future__ import annotations

import importlib.util
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from verireward.integrations._sets import SET_REWARDS, prepare, score_sets
from verireward.ops.grpo import group_standardize
from verireward.grca.objects import route_set_credit
from verireward.rewards.sets import score_answers

_TAILS = ("<|im_end|>", "<|endoftext|>")
_IMAGE_END = ("<|vision_end|>", "<|image_pad|>")


def response_of(query: str, prompt: str) -> str:
    """The response part of an OpenRLHF query (see the module docstring)."""
    if prompt and query.startswith(prompt):
        resp = query[len(prompt):]
    else:
        tail = prompt
        for mark in _IMAGE_END:
            if mark in tail:
                tail = tail.rsplit(mark, 1)[1]
        k = query.rfind(tail) if tail else -1
        if tail and k >= 0:
            resp = query[k + len(tail):]
        elif "<|im_start|>assistant" in query:
            resp = query.rsplit("<|im_start|>assistant", 1)[1]
        else:
            resp = query
    resp = resp.strip()
    stripped = True
    while stripped:
        stripped = False
        for t in _TAILS:
            if resp.endswith(t):
                resp, stripped = resp[: -len(t)].rstrip(), True
    return resp


def make_reward_func(schema: Any = None, reward: str = "soft_f1", threshold: float = 0.5,
                     answer_tag: Optional[str] = None, processor: Any = None, max_objects: int = 64,
                     per_object: bool = True) -> Callable:
    """A ``reward_func(queries, prompts, labels)`` with these options (``schema``: a Schema,
    ``"qwen3vl_2d"`` (default), ``"qwen25vl_2d"`` or a list of Field arguments). ``per_object`` is
    read by :func:`grca_set_advantage` only; the options travel with the function
    (``reward_func.verireward_options``), where the advantage reads them."""
    if reward not in SET_REWARDS:
        raise ValueError(f"make_reward_func: argument 'reward' must be one of {', '.join(SET_REWARDS)}, got {reward!r}")
    if not isinstance(per_object, bool):
        raise TypeError(f"make_reward_func: argument 'per_object' must be a bool, got {type(per_object).__name__}")

    def reward_func(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any]) -> Dict[str, Any]:
        import torch

        op = "openrlhf.reward_func"
        if not (len(queries) == len(prompts) == len(labels)):
            raise ValueError(f"{op}: queries, prompts and labels must have one entry each per sample")
        texts = [response_of(str(q), str(p)) for q, p in zip(queries, prompts)]
        rows = score_sets(op, texts, list(labels), schema=schema, reward=reward, threshold=threshold,
                          answer_tag=answer_tag, processor=processor, max_objects=max_objects, arg="labels")
        col = lambda k: torch.tensor([r[k] for r in rows], dtype=torch.float32)
        return {"rewards": col("reward"), "scores": col("reward"),
                "extra_logs": {k: col(k) for k in SET_REWARDS}}

    reward_func.verireward_options = dict(schema=schema, reward=reward, threshold=threshold, answer_tag=answer_tag,
                                          processor=processor, max_objects=max_objects, per_object=per_object)
    return reward_func


_LOADED: Dict[str, Any] = {}


def _options(op: str, args: Any) -> Dict[str, Any]:
    """The options of the reward function OpenRLHF loads (``args.reward.remote_url``), loaded from
    that file as OpenRLHF loads it; this module's defaults when it is not a ``.py`` file."""
    url = getattr(getattr(args, "reward", None), "remote_url", None)
    if not isinstance(url, str) or not url.endswith(".py"):
        return dict(reward_func.verireward_options)
    if url not in _LOADED:
        spec = importlib.util.spec_from_file_location("reward_func", url)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _LOADED[url] = getattr(getattr(module, "reward_func", None), "verireward_options", None)
    if _LOADED[url] is None:
        raise ValueError(f"{op}: the reward file {url} (args.reward.remote_url) has no verireward reward_func "
                         f"(write reward_func = make_reward_func(...) there)")
    return dict(_LOADED[url])


def grca_set_advantage(experiences: Sequence[Any], tokenizer: Any, args: Any, kl_coef: float = 0.0) -> List[Any]:
    """GRCA's per-object advantages for OpenRLHF's experience maker (the patch above): sets
    ``advantages`` and ``returns`` ``[B, A]`` of every experience (0 off the action tokens),
    ``info["return"]`` (Â plus the whole KL penalty) and ``kl = None``, as OpenRLHF's own
    estimators do, and returns the experiences.

    Per response (the action tokens, ``sequences[:, 1:][action_mask]``, decoded with
    ``skip_special_tokens``): its reward ``R`` as OpenRLHF holds it (the reward function's, after its
    length penalties; ``args.reward.clip_range`` applied), standardized in its prompt group
    (OpenRLHF's groups: ``n_samples_per_prompt`` consecutive rows in ``index`` order; unbiased σ
    + 1e-9, OpenRLHF's ``group_norm``), routed to tokens (GRCA Eq. 9/10); with ``per_object`` each
    object's tokens get ``(Â_i + Ũ_ij) / 2`` from its matched IoU (see :mod:`verireward.grca.objects`).
    A KL penalty in the reward (``kl_coef > 0`` and ``experience.kl``; 0 with ``--algo.kl.use_loss``)
    is added as OpenRLHF's return adds it: each token gets the sum of ``−kl_coef · kl`` from it to
    the end. Options (schema, reward, threshold, ``per_object``) come from the reward file
    ``args.reward.remote_url``."""
    import torch

    op = "openrlhf.grca_set_advantage"
    need = ("sequences", "action_mask", "rewards", "index", "labels")
    exps = list(experiences)
    if not exps or any(getattr(e, k, None) is None for e in exps for k in need):
        raise ValueError(f"{op}: argument 'experiences' must be OpenRLHF Experiences with {', '.join(need)}")
    if tokenizer is None:
        raise ValueError(f"{op}: argument 'tokenizer' is None (the patch passes the experience maker's self.tokenizer)")
    n_per = int(getattr(getattr(args, "rollout", None), "n_samples_per_prompt", 0) or 0)
    opts = _options(op, args)
    rows, masks = [], []
    for e in exps:
        am = e.action_mask.bool()
        for i in range(am.shape[0]):
            rows.append(e.sequences[i, 1:][am[i]].cpu())
            masks.append(am[i])
    N = len(rows)
    if n_per < 1 or N % n_per:
        raise ValueError(f"{op}: argument 'args' must have rollout.n_samples_per_prompt >= 1 dividing the {N} rows, "
                         f"got {n_per}")
    index = np.concatenate([np.asarray(e.index, dtype=np.int64).reshape(-1) for e in exps])
    R = torch.cat([e.rewards.reshape(-1).double().cpu() for e in exps])
    clip = getattr(getattr(args, "reward", None), "clip_range", None)
    if clip:
        R = R.clamp(min=clip[0], max=clip[1])
    labels = [lab for e in exps for lab in e.labels]
    if len(index) != N or len(R) != N or len(labels) != N:
        raise ValueError(f"{op}: argument 'experiences' has {N} responses but index/rewards/labels of other lengths")
    L = max([len(r) for r in rows] + [1])
    pad = tokenizer.pad_token_id if getattr(tokenizer, "pad_token_id", None) is not None else 0
    ids = torch.full((N, L), pad, dtype=torch.int64)
    mask = torch.zeros(N, L, dtype=torch.bool)
    for i, r in enumerate(rows):
        ids[i, :len(r)], mask[i, :len(r)] = r, True
    texts = [tokenizer.decode(ids[i, :len(r)], skip_special_tokens=True) for i, r in enumerate(rows)]
    order = np.argsort(index, kind="stable")
    o = order.tolist()
    sch, boxes, gt_labels, frames = prepare(op, [labels[i] for i in o], opts["schema"], opts["processor"], "labels")
    scored = score_answers(op, [texts[i] for i in o], boxes, gt_labels, sch, box=None, seq=None, degrees=None,
                           threshold=float(opts["threshold"]), max_objects=opts["max_objects"],
                           answer_tag=opts["answer_tag"], **frames)
    counts = scored.objects.counts
    ious = [scored.match.iou[i, :counts[i]].tolist() for i in range(N)]
    spans = [scored.objects.object_spans[i, :counts[i]] for i in range(N)]
    ptr = torch.arange(0, N + 1, n_per, dtype=torch.int64)
    adv = route_set_credit(R[order], ious, spans, ids[order], mask[order], ptr, tokenizer=tokenizer,
                           per_object=opts["per_object"], eps=1e-9)
    inv = torch.from_numpy(np.argsort(order, kind="stable"))
    adv = adv[inv].double()
    A = torch.as_tensor(group_standardize(R[order], ptr, eps=1e-9))[inv]  # what OpenRLHF's group_norm logs
    k = 0
    for e in exps:
        am = e.action_mask.bool()
        out = torch.zeros(am.shape, dtype=torch.float32)
        kl_ret = torch.zeros(am.shape, dtype=torch.float64)
        if kl_coef > 0 and getattr(e, "kl", None) is not None:
            kl_ret = (-kl_coef * e.kl.double().cpu() * am.cpu()).flip(-1).cumsum(-1).flip(-1)
        for i in range(am.shape[0]):
            pos = am[i].cpu()
            out[i, pos] = (adv[k, :int(pos.sum())] + kl_ret[i, pos]).float()
            k += 1
        e.advantages = out.to(e.action_mask.device)
        e.returns = e.advantages.clone()
        e.info["return"] = (A[k - am.shape[0]:k] + kl_ret[:, 0]).float()  # as OpenRLHF: Â plus the whole KL penalty
        e.kl = None
    return exps


reward_func = make_reward_func()

__all__ = ["reward_func", "make_reward_func", "response_of", "grca_set_advantage"]
