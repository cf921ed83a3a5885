"""verireward in OpenRLHF: a ``reward_func(queries, prompts, labels)`` for answers with many
objects. OpenRLHF loads it from a file: ``--remote_rm_url`` pointing at this module's path
(``python -c "import verireward.integrations.openrlhf as m; print(m.__file__)"``), with
``--label_key`` the dataset column holding each row's ground truth as JSON
(``{"boxes": [...], "labels": [...], "image_size": [W, H], "resized_size": [W, H]}``). To
configure it, write your own file with ``reward_func = make_reward_func(schema=..., reward=...)``.

OpenRLHF passes ``queries`` = prompt + response decoded with special tokens; scoring the whole
query would read the prompt's example box as a prediction, so the response is cut out first:
after the prompt when the query starts with it; else after the prompt's text past its last image
token (the image pads are expanded in the query, not in the prompt); else after the last
``<|im_start|>assistant``. Trailing ``<|im_end|>``/``<|endoftext|>`` are dropped. It returns
``{"rewards": tensor, "scores": tensor, "extra_logs": {"soft_f1", "precision", "recall", "f1"}}``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence

from verireward.integrations._sets import SET_REWARDS, score_sets

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
                     answer_tag: Optional[str] = None, processor: Any = None, max_objects: int = 64) -> Callable:
    """A ``reward_func(queries, prompts, labels)`` with these options (``schema``: a Schema,
    ``"qwen3vl_2d"`` (default), ``"qwen25vl_2d"`` or a list of Field arguments)."""

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

    return reward_func


reward_func = make_reward_func()

__all__ = ["reward_func", "make_reward_func", "response_of"]
