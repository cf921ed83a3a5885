"""grca_advantages, the one call from completions to advantages: equal to the four public steps
it replaces (verifier, token offsets, token spans, routing) on every tokenizer family, with rows
the piece table cannot rebuild, in broadcast and routed modes, with RPC, TRL/verl compat and
scales, with groups split over processes, and with rewards verified elsewhere (verl)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import verireward as vr
from verireward import data
from test_tokens import byte_bpe, token_batch, unigram


def steps(texts, ids, mask, gt, groups, tok, schema, camera, image_size, **kw):
    """The pipeline as four separate public calls (what every call site wired by hand)."""
    out = vr.GroundingVerifier(schema)(texts, gt, camera=camera, image_size=image_size)
    offsets = vr.token_char_offsets(tok, ids, mask, texts=texts)
    geo = [out.fields.index(f) for f in out.reward_fields]
    spans = vr.char_to_token_spans(out.char_spans[:, geo], offsets, mask.sum(1))
    use_rpc = kw.pop("use_rpc", kw.get("mode", "routed_rpc") == "routed_rpc")  # GRCA_MODES: broadcast and routed mix no RPC
    adv = vr.routed_advantages(out.rewards, spans, mask, groups, rpc=out.rpc if use_rpc else None, **kw)
    return out, spans, adv


def batch(tok, n_prompts=3, G=4, seed=0, broken=True):
    samples = data.grounding_samples(n_prompts, seed=seed)
    rng = np.random.default_rng(seed)
    texts = []
    for s in samples:
        for g in range(G):
            t = s.target
            if broken and g == 1:
                t = t[: len(t) // 2]  # truncated
            if broken and g == 2:
                t = "Sure! ```json\n" + t.replace("[", "[ ", 1) + "\n``` 🦜"  # fenced, a rare character
            if g == 3:
                t = t.replace(str(int(rng.integers(1, 9))), str(int(rng.integers(1, 9))))
            texts.append(t)
    texts, ids, mask = token_batch(tok, texts, pad=3)
    rep = lambda a: torch.tensor(np.repeat(np.stack(a), G, 0))
    gt = {"bbox2d": rep([s.bbox2d for s in samples]), "bbox3d": rep([s.bbox3d for s in samples])}
    cam = tuple(rep([getattr(s, k) for s in samples]) for k in "KRt")
    return texts, ids, mask, gt, cam, G


@pytest.fixture(scope="module", params=["byte_bpe", "unigram"])
def tok(request):
    return {"byte_bpe": byte_bpe, "unigram": unigram}[request.param]()


@pytest.mark.parametrize("kw", [{}, {"mode": "broadcast"}, {"compat": "trl", "scale": "batch"}, {"compat": "verl", "scale": "none"},
                                {"use_rpc": False}, {"lam": 0.5, "eps": 1e-3}])
def test_one_call_equals_the_four_steps(tok, kw):
    texts, ids, mask, gt, cam, G = batch(tok)
    schema = data.grounding_schema()
    res = vr.grca_advantages(texts, ids, mask, gt, G, tokenizer=tok, schema=schema, camera=cam, image_size=(512, 512), **kw)
    out, spans, adv = steps(texts, ids, mask, gt, G, tok, schema, cam, (512, 512), **dict(kw))
    torch.testing.assert_close(res.advantages, adv, rtol=0, atol=0)
    torch.testing.assert_close(res.rewards, out.rewards, rtol=0, atol=0)
    torch.testing.assert_close(res.rpc, out.rpc, rtol=0, atol=0)
    assert torch.equal(res.token_spans, spans) and torch.equal(res.valid, out.valid)
    assert res.reward_fields == out.reward_fields
    assert torch.any(res.advantages != 0)


def test_rows_the_piece_table_cannot_rebuild_take_the_decode_way():
    tok = byte_bpe()
    texts, ids, mask, gt, cam, G = batch(tok)
    ids[0, 2], ids[0, 3] = ids[0, 3], ids[0, 2]  # a row whose text no longer matches its ids...
    texts[0] = tok.decode(ids[0][mask[0]].tolist())  # ...made consistent again, through the decoder
    ids[1, int(mask[1].sum()) - 1] = tok.get_vocab_size() + 5  # an id the tokenizer does not know
    texts[1] = tok.decode(ids[1][mask[1]].tolist())
    res = vr.grca_advantages(texts, ids, mask, gt, G, tokenizer=tok, schema=data.grounding_schema(), camera=cam,
                             image_size=(512, 512))
    _, spans, adv = steps(texts, ids, mask, gt, G, tok, data.grounding_schema(), cam, (512, 512))
    torch.testing.assert_close(res.advantages, adv, rtol=0, atol=0)
    assert torch.equal(res.token_spans, spans)


def test_groups_split_over_processes():
    """Two processes holding rows 0-5 and 6-11 of a batch of 3 groups of 4 (the middle group split
    2 + 2, TRL's layout): gathering before standardizing gives each process exactly its rows of the
    single-process result."""
    tok = byte_bpe()
    texts, ids, mask, gt, cam, G = batch(tok)
    kw = dict(tokenizer=tok, schema=data.grounding_schema(), image_size=(512, 512))
    whole = vr.grca_advantages(texts, ids, mask, gt, G, camera=cam, **kw)
    for p in (0, 1):
        rows = torch.arange(6 * p, 6 * p + 6)
        others = torch.arange(6 * (1 - p), 6 * (1 - p) + 6)

        def gather(x, rows=rows, others=others):  # accelerator.gather: every process's rows, in process order
            seq = whole.rewards.double().mean(1)  # broadcast's sequence reward (GRPO: no RPC)
            ref = next(c for c in (whole.rewards, whole.rpc, seq) if c.shape[1:] == x.shape[1:]
                       and torch.allclose(c[rows].double(), x.double(), rtol=0, atol=1e-15))
            full = torch.empty((12, *x.shape[1:]), dtype=x.dtype)
            full[rows], full[others] = x, ref[others].to(x.dtype)
            return full

        sub = lambda x: x[rows]
        for mode in ("routed_rpc", "broadcast"):
            res = vr.grca_advantages([texts[i] for i in rows], ids[rows], mask[rows], {k: sub(v) for k, v in gt.items()}, G,
                                     camera=tuple(sub(c) for c in cam), gather=gather, process_index=p, mode=mode, **kw)
            want = whole.advantages[rows] if mode == "routed_rpc" else vr.grca_advantages(
                texts, ids, mask, gt, G, camera=cam, mode=mode, **kw).advantages[rows]
            torch.testing.assert_close(res.advantages, want, rtol=1e-12, atol=1e-12)


def test_option_groups_equal_their_keywords_and_misuse_is_named():
    """Standardization(eps, compat, scale) and Distributed(gather, process_index) give exactly what the
    separate keywords give; a group beside one of its own keywords, or a group of the wrong type,
    is an error naming both."""
    tok = byte_bpe()
    texts, ids, mask, gt, cam, G = batch(tok)
    kw = dict(tokenizer=tok, schema=data.grounding_schema(), camera=cam, image_size=(512, 512))
    for eps, compat, scale in ((1e-3, None, "group"), (1e-6, "trl", "batch"), (1e-6, "verl", "none")):
        want = vr.grca_advantages(texts, ids, mask, gt, G, eps=eps, compat=compat, scale=scale, **kw).advantages
        got = vr.grca_advantages(texts, ids, mask, gt, G, standardization=vr.Standardization(eps, compat, scale),
                                 **kw).advantages
        assert torch.equal(got, want)
    seen = []
    gather = lambda x: seen.append(x.shape) or torch.cat([x, x])  # a second process with the same rows
    want = vr.grca_advantages(texts, ids, mask, gt, 2 * G, gather=gather, process_index=1, **kw).advantages
    got = vr.grca_advantages(texts, ids, mask, gt, 2 * G, distributed=vr.Distributed(gather, 1), **kw).advantages
    assert torch.equal(got, want) and len(seen) == 4  # rewards and RPC gathered by each call
    with pytest.raises(ValueError, match="grca_advantages: pass either 'standardization' or 'eps'/'compat'/'scale'"):
        vr.grca_advantages(texts, ids, mask, gt, G, standardization=vr.Standardization(), compat="trl", **kw)
    with pytest.raises(ValueError, match="grca_advantages: pass either 'distributed' or 'gather'/'process_index'"):
        vr.grca_advantages(texts, ids, mask, gt, G, distributed=vr.Distributed(), process_index=1, **kw)
    with pytest.raises(TypeError, match="grca_advantages: argument 'standardization' must be a verireward.Standardization"):
        vr.grca_advantages(texts, ids, mask, gt, G, standardization={"compat": "trl"}, **kw)
    with pytest.raises(TypeError, match="grca_advantages: argument 'distributed' must be a verireward.Distributed"):
        vr.grca_advantages(texts, ids, mask, gt, G, distributed=(gather, 0), **kw)


def test_rewards_verified_elsewhere():
    tok = byte_bpe()
    texts, ids, mask, gt, cam, G = batch(tok)
    out, spans, adv = steps(texts, ids, mask, gt, G, tok, data.grounding_schema(), cam, (512, 512))
    geo = [out.fields.index(f) for f in out.reward_fields]
    res = vr.grca_advantages(None, ids, mask, None, G, tokenizer=tok,
                             verified=vr.Verified(out.rewards, out.char_spans[:, geo], out.rpc))
    torch.testing.assert_close(res.advantages, adv, rtol=0, atol=0)


def test_advantages_on_the_device_of_the_ids_and_misuse():
    tok = byte_bpe()
    texts, ids, mask, gt, cam, G = batch(tok, n_prompts=1)
    res = vr.grca_advantages(texts, ids.numpy(), mask.numpy(), gt, G, tokenizer=tok, schema=data.grounding_schema())
    assert res.advantages.shape == ids.shape and res.rpc is None
    with pytest.raises(ValueError, match="grca_advantages: argument 'mode' must be one of 'broadcast', 'routed', 'routed_rpc'"):
        vr.grca_advantages(texts, ids, mask, gt, G, tokenizer=tok, mode="sideways")
    with pytest.raises(ValueError, match="grca_advantages: argument 'gt' is required"):
        vr.grca_advantages(texts, ids, mask, None, G, tokenizer=tok)
    with pytest.raises(TypeError, match="grca_advantages: argument 'texts' must be a sequence of str"):
        vr.grca_advantages("abc", ids, mask, gt, G, tokenizer=tok)
    bad = list(texts)
    bad[0] = bad[0] + " "
    with pytest.raises(ValueError, match=r"texts\[0\] is not tokenizer.decode"):
        vr.grca_advantages(bad, ids, mask, gt, G, tokenizer=tok, schema=data.grounding_schema())


def test_answer_tag_in_the_one_call():
    """Think-then-answer completions: only the answer's fields are rewarded and routed; a box in the
    thinking gets the background advantage like any other thinking token."""
    tok = byte_bpe()
    samples = data.grounding_samples(2, seed=4)
    G = 2
    texts = []
    for s in samples:
        texts += [f"<think>{s.target}</think><answer>{s.target}</answer>", f"<think>{s.target}</think> no answer"]
    texts, ids, mask = token_batch(tok, texts)
    rep = lambda a: torch.tensor(np.repeat(np.stack(a), G, 0))
    gt = {"bbox2d": rep([s.bbox2d for s in samples]), "bbox3d": rep([s.bbox3d for s in samples])}
    schema = data.grounding_schema()
    res = vr.grca_advantages(texts, ids, mask, gt, G, tokenizer=tok, schema=schema, answer_tag="answer")
    ver = vr.GroundingVerifier(schema, answer_tag="answer")(texts, gt)
    torch.testing.assert_close(res.rewards, ver.rewards, rtol=0, atol=0)
    assert res.valid[1].any().item() is False and res.valid[0].any().item() is True
    offsets = vr.token_char_offsets(tok, ids, mask, texts=texts)
    geo = [ver.fields.index(f) for f in ver.reward_fields]
    spans = vr.char_to_token_spans(ver.char_spans[:, geo], offsets, mask.sum(1))
    assert torch.equal(res.token_spans, spans)
    think_end = len(tok.encode(texts[0].split("</think>")[0]).ids)
    assert int(res.token_spans[0][res.token_spans[0][:, 1] > 0][:, 0].min()) >= think_end  # answer fields only
