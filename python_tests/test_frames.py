"""qwen_resized_size against transformers' own smart_resize (the Qwen2-VL PIL image processor's)
on real-world image sizes, and the answer_tag rule of parse: only the last complete
<answer>...</answer> counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import json

from hypothesis import given, settings
from hypothesis import strategies as st

import verireward as vr

# phones, cameras, screens, scans, panoramas, thumbnails, icons, posters
SIZES = [(4032, 3024), (3024, 4032), (1920, 1080), (1080, 1920), (1280, 720), (720, 1280), (640, 480), (480, 640),
         (512, 512), (224, 224), (28, 28), (14, 14), (1, 1), (56, 56), (100, 30), (30, 100), (6000, 4000), (8192, 8192),
         (12000, 200), (200, 12000), (7680, 4320), (3840, 2160), (2560, 1440), (1366, 768), (1440, 900), (800, 600),
         (1024, 768), (2048, 1536), (1600, 1200), (3000, 2000), (5472, 3648), (6720, 4480), (2480, 3508), (3508, 2480),
         (1240, 1754), (300, 300), (96, 96), (64, 48), (48, 64), (10000, 100), (100, 10000), (4096, 2048), (2048, 4096),
         (1081, 1919), (1919, 1081), (333, 777), (777, 333), (27, 29), (29, 27), (2000, 11), (11, 2000), (16384, 1024)]


def smart_resize():
    pytest.importorskip("PIL")
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize as peer

    return peer


@pytest.mark.parametrize("kw", [{}, {"min_pixels": 256 * 28 * 28, "max_pixels": 1280 * 28 * 28},
                                {"patch_size": 16, "merge_size": 2, "min_pixels": 64 * 64, "max_pixels": 16384 * 32 * 32}])
def test_equals_transformers_smart_resize_on_real_sizes(kw):
    peer = smart_resize()
    factor = kw.get("patch_size", 14) * kw.get("merge_size", 2)
    got = vr.qwen_resized_size(np.array(SIZES), **kw)
    for (w, h), (gw, gh) in zip(SIZES, got.tolist()):
        ph, pw = peer(h, w, factor=factor, min_pixels=kw.get("min_pixels", 56 * 56), max_pixels=kw.get("max_pixels", 28 * 28 * 1280))
        assert (gw, gh) == (pw, ph), (w, h)


@given(w=st.integers(1, 20000), h=st.integers(1, 20000))
def test_equals_transformers_on_any_size(w, h):
    peer = smart_resize()
    if max(w, h) / min(w, h) > 200:
        with pytest.raises(ValueError, match="aspect ratio over 200"):
            vr.qwen_resized_size((w, h))
        return
    ph, pw = peer(h, w)
    assert vr.qwen_resized_size((w, h)).tolist() == [[pw, ph]]


def test_kinds_and_misuse():
    t = vr.qwen_resized_size(torch.tensor([[640, 480], [1920, 1080]]))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.int64 and t.shape == (2, 2)
    for bad in ([[640, 0]], [[640.5, 480]], [640, 480, 3], [[float("nan"), 3]]):
        with pytest.raises(ValueError, match="qwen_resized_size: argument 'image_size'"):
            vr.qwen_resized_size(bad)
    with pytest.raises(ValueError, match="argument 'min_pixels' .* must not exceed 'max_pixels'"):
        vr.qwen_resized_size((10, 10), min_pixels=100, max_pixels=10)


def test_answer_tag_reads_only_the_last_complete_answer():
    s = vr.Schema((vr.Field("bbox_2d", "box2d", frame="raw"),))
    texts = ['<think>maybe {"bbox_2d": [1, 1, 2, 2]}</think><answer>{"bbox_2d": [10, 10, 20, 20]}</answer>',
             '<think>{"bbox_2d": [1, 1, 2, 2]}</think> no answer',
             '<answer>{"bbox_2d": [1, 1, 2, 2]}</answer> then <answer>{"bbox_2d": [3, 3, 4, 4]}</answer>',
             '<answer>{"bbox_2d": [5, 5, 6, 6]}',  # never closed
             '{"bbox_2d": [7, 7, 8, 8]}']
    out = vr.parse(texts, s, answer_tag="answer")
    assert out.valid[:, 0].tolist() == [True, False, True, False, False]
    assert out.values["bbox_2d"][0].tolist() == [10, 10, 20, 20] and out.values["bbox_2d"][2].tolist() == [3, 3, 4, 4]
    a, b = out.char_spans[0, 0].tolist()
    assert texts[0][a:b] == "[10, 10, 20, 20]"  # spans index the whole text
    plain = vr.parse(texts, s)
    assert plain.values["bbox_2d"][0].tolist() == [1, 1, 2, 2]  # without the tag, the first object wins
    with pytest.raises(ValueError, match="parse: argument 'answer_tag' must be a tag name"):
        vr.parse(texts, s, answer_tag="<answer>")
    ver = vr.GroundingVerifier(s, answer_tag="answer")(texts, {"bbox2d": [[10.0, 10.0, 20.0, 20.0]]})
    assert ver.rewards[:, 0].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4000), st.integers(1, 4000), st.lists(st.integers(0, 1000), min_size=4, max_size=4)),
                min_size=1, max_size=5), st.booleans())
def test_a_0_1000_schema_given_image_sizes_reads_original_pixels(rows, with_resized):
    """Qwen3-VL writes 0–1000 over the image whatever it was resized to: given the original sizes,
    box k becomes W·x/1000, H·y/1000 (resized_size, when given too, is not needed and changes
    nothing), so ground truth in original pixels compares as it is."""
    texts = [json.dumps([{"bbox_2d": b, "label": "x"}]) for _, _, b in rows]
    sizes = np.array([(w, h) for w, h, _ in rows], dtype=float)
    kw = dict(resized_size=sizes * 0.5) if with_resized else {}
    r = vr.parse_objects(texts, vr.Schema.qwen3vl_2d(), image_size=sizes, array="numpy", **kw)
    for i, (w, h, b) in enumerate(rows):
        want = [w * b[0] / 1000, h * b[1] / 1000, w * b[2] / 1000, h * b[3] / 1000]
        np.testing.assert_allclose(r.values["bbox_2d"][i, 0], want, rtol=1e-15)
    # and the set rewards of a perfect answer against original-pixel truth are 1
    truth = [np.array([[w * b[0] / 1000, h * b[1] / 1000, w * b[2] / 1000, h * b[3] / 1000]]) for w, h, b in rows]
    ok = [b[2] > b[0] and b[3] > b[1] for _, _, b in rows]
    got = vr.answer_set_rewards(texts, truth, schema=vr.Schema.qwen3vl_2d(), image_size=sizes).soft_f1
    assert [float(v) for v, k in zip(got, ok) if k] == pytest.approx([1.0] * sum(ok))


@pytest.mark.parametrize("kw", [{}, {"max_pixels": 512 * 28 * 28 // 4}, {"min_pixels": 640 * 28 * 28, "max_pixels": 2048 * 28 * 28},
                                {"max_pixels": 256 * 32 * 32, "patch_size": 16}])
def test_resized_size_under_a_real_processor_equals_its_image_grid_thw(kw):
    """transformers' Qwen2-VL PIL image processor built with its own settings: qwen_resized_size
    under it (processor=, or its image processor) equals image_grid_thw x patch size of what it
    actually returned for images of those sizes, and image_grid_thw itself converts exactly."""
    smart_resize()
    from PIL import Image
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    ip = Qwen2VLImageProcessorPil(**kw)
    proc = type("Processor", (), {"image_processor": ip})()
    sizes = [(1280, 960), (2000, 1500), (100, 70), (333, 777), (28, 28)]
    grid = ip(images=[Image.new("RGB", s) for s in sizes], return_tensors="np")["image_grid_thw"]
    seen = (grid[:, [2, 1]] * ip.patch_size).tolist()
    assert vr.qwen_resized_size(np.array(sizes), processor=proc).tolist() == seen
    assert vr.qwen_resized_size(np.array(sizes), processor=ip).tolist() == seen
    assert vr.qwen_resized_size(image_grid_thw=grid, processor=proc).tolist() == seen
    assert vr.qwen_resized_size(image_grid_thw=torch.from_numpy(grid), processor=ip).tolist() == seen
    if kw:  # the defaults are another frame: what the processor's own settings fix
        assert vr.qwen_resized_size(np.array(sizes)).tolist() != seen


def test_resized_size_misuse():
    assert vr.qwen_resized_size((1280, 960)).tolist() == [[1148, 840]]
    with pytest.raises(ValueError, match="image_grid_thw"):
        vr.qwen_resized_size(image_grid_thw=np.array([[1.0, 2.0, 3.0]]))
    with pytest.raises(ValueError, match="pass 'image_size'"):
        vr.qwen_resized_size()
