"""GroundingVerifier: per-field rewards equal the geometry ops on the parsed values (and the
oracles), malformed fields score 0, RPC in pixels, and the whole pipeline into routed advantages."""

from __future__ import annotations

import pytest
import torch

import verireward as vr
import oracles

K = torch.tensor([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
R, T = torch.eye(3, dtype=torch.float64), torch.tensor([0.0, 0.0, 0.0], dtype=torch.float64)


def completion(b2, b3, k2, k3):
    q = lambda v: [int(round(x * 1000)) for x in v]
    return ('{"answer": "mug", "description": "a mug", "bbox2d": %s, "bbox3d": %s, "kpts2d": %s, "kpts3d": %s}'
            % (q(b2), q(b3), [q(p) for p in k2], [tuple(q(p)) for p in k3])).replace("'", "")


def test_rewards_match_oracles_and_malformed_fields_score_zero():
    gt2 = torch.tensor([[0.2, 0.2, 0.6, 0.6]], dtype=torch.float64)
    gt3 = torch.tensor([[0.1, 0.1, 0.5, 0.4, 0.4, 0.9]], dtype=torch.float64)
    texts = [
        completion([0.2, 0.2, 0.6, 0.6], [0.1, 0.1, 0.5, 0.4, 0.4, 0.9], [[0.3, 0.3], [0.9, 0.9]], [[0.2, 0.2, 0.6]]),
        completion([0.3, 0.1, 0.7, 0.5], [0.2, 0.1, 0.5, 0.5, 0.4, 0.8], [[0.25, 0.5]], [[0.0, 0.0, 0.0], [0.3, 0.3, 0.7]]),
        '{"bbox2d": [1, 2, 3], "bbox3d": "none", "kpts2d": [[1, 2, 3]]}',   # all malformed
        "I cannot see it.",                                               # no JSON at all
    ]
    out = vr.GroundingVerifier()(texts, {"bbox2d": gt2, "bbox3d": gt3})
    assert out.reward_fields == ("bbox2d", "bbox3d", "kpts2d", "kpts3d")
    assert out.rewards.shape == (4, 4) and out.rewards.dtype == torch.float64
    r = out.rewards.tolist()
    assert r[0] == pytest.approx([1.0, 1.0, 0.5, 1.0])
    g2, g3 = gt2[0].tolist(), gt3[0].tolist()
    assert r[1][0] == pytest.approx(oracles.iou([0.3, 0.1, 0.7, 0.5], g2, 2))
    assert r[1][1] == pytest.approx(oracles.iou([0.2, 0.1, 0.5, 0.5, 0.4, 0.8], g3, 3))
    assert r[1][2:] == pytest.approx([1.0, 0.5])
    assert r[2] == [0.0] * 4 and r[3] == [0.0] * 4
    assert out.valid[2].tolist() == [False] * 6 and out.valid[0].all()
    assert out.rpc is None


def test_rpc_in_pixels_and_on_the_gt_device():
    schema = vr.Schema((vr.Field("bbox2d", "box2d", frame="pixels"),
                        vr.Field("bbox3d", "box3d", frame="raw")))
    texts = ['{"bbox2d": [195, 115, 445, 365], "bbox3d": [-1, -1, 4, 1, 1, 6]}',
             '{"bbox2d": [195, 115, 445, 365], "bbox3d": [-1, -1, -6, 1, 1, -4]}']  # behind the camera
    gt = {"bbox2d": torch.tensor([[195.0, 115, 445, 365]], dtype=torch.float64),
          "bbox3d": torch.tensor([[-1.0, -1, 4, 1, 1, 6]], dtype=torch.float64)}
    out = vr.GroundingVerifier(schema)(texts, gt, camera=(K, R, T))
    assert out.rpc.tolist() == pytest.approx([1.0, 0.0])
    # normalized 2D frame: image_size scales the 2D box to pixels before RPC
    norm = vr.Schema((vr.Field("bbox2d", "box2d", frame="normalized"), vr.Field("bbox3d", "box3d", frame="raw")))
    t2 = ['{"bbox2d": [%.17g, %.17g, %.17g, %.17g], "bbox3d": [-1, -1, 4, 1, 1, 6]}' % (195 / 640, 115 / 480, 445 / 640, 365 / 480)]
    out2 = vr.GroundingVerifier(norm)(t2, {"bbox2d": gt["bbox2d"] / 640, "bbox3d": gt["bbox3d"]}, camera=(K, R, T),
                                      image_size=(640, 480))
    assert out2.rpc.tolist() == pytest.approx([1.0])


def test_pipeline_from_texts_to_routed_advantages():
    """parse -> rewards -> char spans -> token spans -> routed advantages, on a toy whitespace
    "tokenizer" whose offsets are exact by construction."""
    gt2 = torch.tensor([[0.2, 0.2, 0.6, 0.6]], dtype=torch.float64)
    gt3 = torch.tensor([[0.1, 0.1, 0.5, 0.4, 0.4, 0.9]], dtype=torch.float64)
    texts = [completion([0.2, 0.2, 0.6, 0.6], [0.1, 0.1, 0.5, 0.4, 0.4, 0.9], [[0.3, 0.3]], [[0.2, 0.2, 0.6]]),
             completion([0.5, 0.5, 0.9, 0.9], [0.1, 0.1, 0.5, 0.4, 0.4, 0.9], [[0.9, 0.9]], [[0.2, 0.2, 0.6]])]
    out = vr.GroundingVerifier()(texts, {"bbox2d": gt2, "bbox3d": gt3})
    L = max(len(t) for t in texts)  # one "token" per character
    offsets = torch.tensor([list(range(L + 1))] * 2)
    lengths = torch.tensor([len(t) for t in texts])
    geo = [out.fields.index(f) for f in out.reward_fields]
    spans = vr.char_to_token_spans(out.char_spans[:, geo], offsets, lengths)
    mask = torch.arange(L)[None, :] < lengths[:, None]
    adv = vr.routed_advantages(out.rewards, spans, mask, 2)
    b2 = out.reward_fields.index("bbox2d")
    s, e = spans[0, b2].tolist()
    assert texts[0][s:e] == "[200, 200, 600, 600]"
    assert torch.all(adv[0, s:e] > 0) and torch.all(adv[1, spans[1, b2, 0]:spans[1, b2, 1]] < 0)
    assert torch.all(adv[1, lengths[1]:] == 0)


def test_verifier_errors():
    v = vr.GroundingVerifier()
    with pytest.raises(TypeError, match=r"argument 'gt' must be a dict of arrays \(torch, numpy or lists\), got list"):
        v(["{}"], [1])
    with pytest.raises(ValueError, match=r"argument 'gt' needs the key 'bbox3d' \(for the schema's field\(s\) bbox3d, kpts3d\)"):
        v(["{}"], {"bbox2d": torch.zeros(1, 4)})
    with pytest.raises(ValueError, match="the schema has no geometric field to reward"):
        vr.GroundingVerifier(vr.Schema((vr.Field("answer", "text"),)))
