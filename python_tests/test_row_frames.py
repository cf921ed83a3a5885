"""Per-image frames (image_size / resized_size per row) in the verifier and grca_advantages: each
row scored as if its own schema carried its own frame (the exact construction), RPC taking a
pixels-frame 2D box as original pixels, and the misuse errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import verireward as vr
from test_tokens import byte_bpe, token_batch

SIZES = np.array([[640, 480], [1920, 1080], [333, 777], [4000, 300]])


def pixel_schema(image_size=None, resized_size=None, with_3d=False):
    fields = [vr.Field("bbox_2d", "box2d", frame="pixels", image_size=image_size, resized_size=resized_size)]
    if with_3d:
        fields.append(vr.Field("bbox_3d", "box3d", frame="raw"))
    return vr.Schema(tuple(fields))


def texts_and_truth(rng):
    resized = vr.qwen_resized_size(SIZES)
    truth, texts = [], []
    for (W, H), (w, h) in zip(SIZES, resized):
        x1, y1 = rng.uniform(0, 0.5) * W, rng.uniform(0, 0.5) * H
        box = np.array([x1, y1, x1 + 0.3 * W, y1 + 0.4 * H])
        truth.append(box)
        seen = box * np.array([w / W, h / H, w / W, h / H]) + rng.uniform(-3, 3, 4)  # what the model wrote
        texts.append('{"bbox_2d": [%d, %d, %d, %d], "bbox_3d": [-0.2, -0.2, 2.0, 0.3, 0.3, 2.6]}' % tuple(np.round(seen)))
    return texts, np.stack(truth), resized


def test_verifier_per_row_frames_equal_per_row_schemas():
    texts, truth, resized = texts_and_truth(np.random.default_rng(0))
    got = vr.GroundingVerifier(pixel_schema())(texts, {"bbox2d": truth}, image_size=SIZES, resized_size=resized)
    for i in range(len(texts)):
        own = vr.GroundingVerifier(pixel_schema(tuple(SIZES[i]), tuple(resized[i].tolist())))
        want = own(texts[i:i + 1], {"bbox2d": truth[i:i + 1]})
        assert got.rewards[i].tolist() == pytest.approx(want.rewards[0].tolist(), abs=1e-12)
    assert (got.rewards > 0.5).all()  # the frames are right: reading the resized pixels as original ones is not
    plain = vr.GroundingVerifier(pixel_schema())(texts, {"bbox2d": truth})
    assert not torch.allclose(plain.rewards, got.rewards)


def test_rpc_with_per_row_frames_uses_original_pixels():
    texts, truth, resized = texts_and_truth(np.random.default_rng(1))
    K = torch.tensor([[[500.0, 0, W / 2], [0, 500.0, H / 2], [0, 0, 1]] for W, H in SIZES.tolist()], dtype=torch.float64)
    R, t = torch.eye(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    gt = {"bbox2d": truth, "bbox3d": np.array([[-0.2, -0.2, 2.0, 0.3, 0.3, 2.6]])}
    got = vr.GroundingVerifier(pixel_schema(with_3d=True))(texts, gt, camera=(K, R, t), image_size=SIZES,
                                                          resized_size=resized)
    for i in range(len(texts)):
        own = vr.GroundingVerifier(pixel_schema(tuple(SIZES[i]), tuple(resized[i].tolist()), with_3d=True))
        want = own(texts[i:i + 1], {"bbox2d": truth[i:i + 1], "bbox3d": gt["bbox3d"]}, camera=(K[i:i + 1], R, t))
        assert float(got.rpc[i]) == pytest.approx(float(want.rpc[0]), abs=1e-12)
    # the independent value: IoU of the converted 2D box with the projection of the 3D box
    parsed = vr.parse(texts, pixel_schema(with_3d=True), image_size=SIZES, resized_size=resized)
    proj, ok = vr.project_box_3d(torch.tensor(gt["bbox3d"]).expand(4, 6), K, R, t)
    want = vr.iou_2d(parsed.values["bbox_2d"].double(), proj)
    assert got.rpc.tolist() == pytest.approx(torch.where(ok, want, 0).tolist(), abs=1e-12)


def test_grca_advantages_takes_per_row_frames():
    tok = byte_bpe()
    texts, truth, resized = texts_and_truth(np.random.default_rng(2))
    texts, ids, mask = token_batch(tok, texts)
    out = vr.grca_advantages(texts, ids, mask, {"bbox2d": truth}, 2, tokenizer=tok, schema=pixel_schema(),
                             image_size=SIZES, resized_size=resized)
    want = vr.GroundingVerifier(pixel_schema())(texts, {"bbox2d": truth}, image_size=SIZES, resized_size=resized)
    assert out.rewards.tolist() == want.rewards.tolist()


def test_per_row_frame_misuse_names_the_argument():
    v = vr.GroundingVerifier(pixel_schema())
    texts = ['{"bbox_2d": [1, 2, 3, 4]}'] * 2
    with pytest.raises(ValueError, match="image_size"):
        v(texts, {"bbox2d": [[0, 0, 1, 1]]}, resized_size=(10, 10))
    with pytest.raises(ValueError, match="resized_size"):
        v(texts, {"bbox2d": [[0, 0, 1, 1]]}, image_size=[[5, 5]] * 2, resized_size=[[1, 1]] * 3)
    with pytest.raises(ValueError, match="pixels-frame fields or 2D fields over the image"):
        raw = vr.Schema([vr.Field("bbox_2d", "box2d", frame="raw")])
        vr.GroundingVerifier(raw)(texts, {"bbox2d": [[0, 0, 1, 1]]}, image_size=(5, 5), resized_size=(5, 5))


def test_trl_and_verl_grounding_adapters_take_per_row_frames():
    from verireward.integrations import trl as vtrl
    from verireward.integrations import verl as vverl

    texts, truth, resized = texts_and_truth(np.random.default_rng(3))
    want = vr.GroundingVerifier(pixel_schema())(texts, {"bbox2d": truth}, image_size=SIZES, resized_size=resized)
    rewards = vtrl.GroundingRewards(pixel_schema(), rpc=False)
    (fn,) = rewards.functions()
    cols = dict(bbox2d=truth.tolist(), image_size=SIZES.tolist(), resized_size=resized.tolist())
    assert fn(prompts=None, completions=texts, **cols) == pytest.approx(want.rewards[:, 0].tolist(), abs=1e-12)
    # the frame columns are part of the batch cache's key
    other = dict(cols, resized_size=(resized * 2).tolist())
    assert fn(prompts=None, completions=texts, **other) != fn(prompts=None, completions=texts, **cols)
    with pytest.raises(ValueError, match="image_size"):
        fn(prompts=None, completions=texts, bbox2d=cols["bbox2d"], resized_size=cols["resized_size"])
    vverl.configure(schema=pixel_schema())
    try:
        for i, text in enumerate(texts):
            got = vverl.compute_score("d", text, {"bbox2d": truth[i].tolist()},
                                      {"image_size": SIZES[i].tolist(), "resized_size": resized[i].tolist()})
            assert got["score"] == pytest.approx(float(want.rewards[i, 0]), abs=1e-12)
        with pytest.raises(ValueError, match="image_size"):
            vverl.compute_score("d", texts[0], {"bbox2d": truth[0].tolist()}, {"resized_size": [10, 10]})
    finally:
        vverl.configure()
