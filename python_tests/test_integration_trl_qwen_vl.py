"""A Qwen2.5-VL user's real path in TRL: a tiny random-weight ``Qwen2_5_VLForConditionalGeneration``,
a real ``Qwen2_5_VLProcessor`` with a non-default ``max_pixels`` (python_tests/tiny_vl.py), a
dataset of images of different sizes with boxes and labels in original pixels and *no frame
columns*, and a real ``GRPOTrainer``. The model generates; then hand-written completions, in pixels
of the image the model saw, are put in place of its output. The rewards TRL logs and the
advantages that reach TRL's loss must equal hand IoU in the frame derived from the processor, as
transformers' own ``smart_resize`` computes it (and as the processor's ``image_grid_thw`` says)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

import verireward as vr

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")

trl = pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")
PIL = pytest.importorskip("PIL.Image")

from tiny_vl import qwen25vl_processor, qwen_tokenizer, tiny_qwen25vl  # noqa: E402

PIXELS = dict(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 30)  # Qwen's default max is 12845056
SIZES = [(640, 480), (200, 500), (1000, 300)]
TRUTH = [[100, 120, 400, 360], [20, 50, 150, 400], [300, 30, 900, 270]]
LABELS = ["cat", "cup", "bus"]
G = 4


def seen_size(w, h):
    """What the model saw, from transformers' own smart_resize under the processor's limits."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

    rh, rw = smart_resize(h, w, factor=28, min_pixels=PIXELS["min_pixels"], max_pixels=PIXELS["max_pixels"])
    return rw, rh


def hand_iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def answers_for(i):
    """Four distinct answers for picture i, in pixels of the resized image: exact, shifted, shrunk, wrong."""
    (w, h), (rw, rh) = SIZES[i], seen_size(*SIZES[i])
    sx, sy = rw / w, rh / h
    x1, y1, x2, y2 = TRUTH[i]
    boxes = [[x1 * sx, y1 * sy, x2 * sx, y2 * sy], [(x1 + 30) * sx, (y1 + 20) * sy, (x2 + 30) * sx, (y2 + 20) * sy],
             [(x1 + 40) * sx, (y1 + 40) * sy, (x2 - 40) * sx, (y2 - 40) * sy], [0, 0, 5 + i, 5]]
    boxes = [[int(round(v)) for v in b] for b in boxes]
    return [json.dumps([{"bbox_2d": b, "label": LABELS[i]}]) for b in boxes], boxes


def hand_reward(i, written):
    """IoU with the truth of the written box taken back to original pixels (single object: soft F1 = IoU)."""
    (w, h), (rw, rh) = SIZES[i], seen_size(*SIZES[i])
    b = [written[0] * w / rw, written[1] * h / rh, written[2] * w / rw, written[3] * h / rh]
    return hand_iou(b, TRUTH[i])


@pytest.fixture(scope="module")
def pipeline():
    corpus = [a for i in range(len(SIZES)) for a in answers_for(i)[0]] + [f"Locate the object in picture {i}." for i in
                                                                            range(len(SIZES))]
    tok = qwen_tokenizer(corpus)
    return tok, qwen25vl_processor(tok, **PIXELS)


def dataset():
    rows = [{"prompt": [{"role": "user", "content": f"Locate the object in picture {i}."}],
             "image": PIL.new("RGB", SIZES[i], (40 * i, 120, 200 - 40 * i)), "boxes": [TRUTH[i]], "labels": [LABELS[i]]}
            for i in range(len(SIZES))]
    return datasets.Dataset.from_list(rows)


def inject(trainer, tok):
    """After the model generates, put the hand-written answers of each prompt's picture in place of
    its completions (each answer once per group); record the image_grid_thw TRL computed."""
    inner = trainer._generate_single_turn
    grids = []

    def generate(prompt_ids, images, multimodal_fields, num_generations, **kw):
        completion_ids, logprobs = inner(prompt_ids, images, multimodal_fields, num_generations, **kw)
        grids.append(np.array(multimodal_fields["image_grid_thw"]))
        used = {}
        out = []
        for ids in prompt_ids:
            i = int(re.search(r"picture (\d)", tok.decode(ids)).group(1))
            k = used.get(i, 0)
            used[i] = k + 1
            out.append(tok(answers_for(i)[0][k % G])["input_ids"] + [tok.eos_token_id])
        return out, None

    trainer._generate_single_turn = generate
    return grids


def loss_spy(trainer):
    seen = []
    inner = trainer._compute_loss

    def spy(model, inputs):
        seen.append((inputs["completion_ids"].clone(), inputs["completion_mask"].clone(),
                     inputs["advantages"].detach().clone()))
        return inner(model, inputs)

    trainer._compute_loss = spy
    return seen


def expected(tok):
    """{completion text: (hand reward, hand TRL advantage)} for every injected answer."""
    out = {}
    for i in range(len(SIZES)):
        texts, boxes = answers_for(i)
        r = np.array([hand_reward(i, b) for b in boxes])
        adv = (r - r.mean()) / (r.std(ddof=1) + 1e-4)  # TRL: group mean, unbiased std + 1e-4
        for t, ri, ai in zip(texts, r, adv):
            out[t] = (ri, ai)
    return out


def config(tmp_path):
    from trl import GRPOConfig

    return GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=G, num_generations=G, max_completion_length=8,
                      max_steps=3, learning_rate=1e-3, report_to=[], logging_steps=1, save_strategy="no", use_cpu=True,
                      bf16=False, beta=0.0, seed=0, shuffle_dataset=False)


def check_loss_inputs(tok, seen, want, per_token):
    assert len(seen) == 3
    for ids, mask, adv in seen:
        for row, m, a in zip(ids, mask.bool(), adv):
            text = tok.decode(row[m].tolist(), skip_special_tokens=True)
            r, a_hand = want[text]
            if per_token:  # one object per answer: every response token of it gets the answer's Â
                assert a.shape == m.shape
                assert a[m].double().numpy() == pytest.approx(np.full(int(m.sum()), a_hand), abs=1e-4)
            else:
                assert float(a) == pytest.approx(a_hand, abs=1e-4)


def test_the_frame_is_derived_so_hand_iou_is_right(pipeline):
    # the test's premise: the processor's limits and Qwen's defaults disagree on every picture, and
    # the hand rewards are not all 1 or 0
    assert all(seen_size(*s) != tuple(vr.qwen_resized_size(s)[0].tolist()) for s in SIZES)
    rs = [hand_reward(i, b) for i in range(len(SIZES)) for b in answers_for(i)[1]]
    assert 0 < min(r for r in rs if r > 0) < 0.9 and rs.count(0.0) == len(SIZES)


def test_plain_grpo_trainer_with_set_rewards_under_the_processor(tmp_path, pipeline):
    from trl import GRPOTrainer

    from verireward.integrations.trl import SetRewardFunctions

    tok, proc = pipeline
    trainer = GRPOTrainer(model=tiny_qwen25vl(tok), args=config(tmp_path),
                          reward_funcs=SetRewardFunctions(vr.Schema.qwen25vl_2d(), processor=proc).functions(),
                          train_dataset=dataset(), processing_class=proc)
    grids = inject(trainer, tok)
    seen = loss_spy(trainer)
    with _no_frame_warning():
        trainer.train()
    # the processor's own grid is the frame the hand rewards assumed
    for grid in grids:
        got = {tuple(s) for s in vr.qwen_resized_size(image_grid_thw=grid).tolist()}
        assert got <= {seen_size(*s) for s in SIZES}
    want = expected(tok)
    check_loss_inputs(tok, seen, want, per_token=False)
    logged = [row["rewards/verireward_soft_f1/mean"] for row in trainer.state.log_history if "rewards/verireward_soft_f1/mean" in row]
    means = {i: np.mean([hand_reward(i, b) for b in answers_for(i)[1]]) for i in range(len(SIZES))}
    assert len(logged) == 3 and all(any(v == pytest.approx(m, abs=1e-6) for m in means.values()) for v in logged)
    assert any("verireward/f1" in row for row in trainer.state.log_history)  # logged, not optimized


def test_set_grca_trainer_takes_the_frame_from_image_grid_thw(tmp_path, pipeline):
    from verireward.integrations.trl import SetGRCAGRPOTrainer, SetRewardFunctions

    tok, proc = pipeline
    sets = SetRewardFunctions(vr.Schema.qwen25vl_2d())  # no processor: the trainer's processing_class is used
    trainer = SetGRCAGRPOTrainer(model=tiny_qwen25vl(tok), args=config(tmp_path), train_dataset=dataset(),
                                 processing_class=proc, sets=sets)
    assert sets.processor is proc
    inject(trainer, tok)
    seen = loss_spy(trainer)
    calls = []
    frames = sets.frames
    sets.frames = lambda columns, n, image_grid_thw=None: calls.append(image_grid_thw) or frames(columns, n, image_grid_thw)
    with _no_frame_warning():
        trainer.train()
    assert any(g is not None for g in calls)  # the advantages' frame came from TRL's image_grid_thw
    check_loss_inputs(tok, seen, expected(tok), per_token=True)


def test_without_a_processor_the_default_frame_warns_and_is_wrong(pipeline):
    """What the user is told when the frame cannot be known: Qwen's defaults, with a warning naming
    ``processor=``; the rewards then differ from the hand ones (the failure the warning is for)."""
    from verireward.integrations.trl import SetRewardFunctions

    tok, _ = pipeline
    (fn,) = SetRewardFunctions(vr.Schema.qwen25vl_2d()).functions()
    ds = dataset()
    texts, boxes = answers_for(0)
    with pytest.warns(UserWarning, match="processor"):
        got = fn(prompts=None, completions=texts, image=[ds[0]["image"]] * G, boxes=[[TRUTH[0]]] * G,
                 labels=[[LABELS[0]]] * G)
    hand = [hand_reward(0, b) for b in boxes]
    assert got != pytest.approx(hand, abs=1e-3)


class _no_frame_warning:
    """Fails if verireward warns that the frame is unknown or assumed."""

    def __enter__(self):
        import warnings

        self._cm = warnings.catch_warnings(record=True)
        self._rec = self._cm.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)
        bad = [str(w.message) for w in self._rec if "verireward" in str(w.message) or "processor=" in str(w.message)]
        assert not bad, bad
        return False


def test_qwen3vl_0_1000_answers_against_pixel_truth_in_a_real_trainer(tmp_path, pipeline):
    """Qwen3-VL writes 0–1000 over the image; the truth stays in original pixels and the rows carry
    their images: the comparison is in pixels (it scored 0.0 before), with no frame column."""
    from trl import GRPOTrainer

    from verireward.integrations.trl import SetRewardFunctions

    tok, proc = pipeline
    want = {}
    for i in range(len(SIZES)):
        (w, h), (rw, rh) = SIZES[i], seen_size(*SIZES[i])
        texts, boxes = answers_for(i)
        r = np.array([hand_reward(i, b) for b in boxes])
        for t, b, ri in zip(texts, boxes, r):  # the same boxes, written in 0–1000
            q = [round(b[0] / rw * 1000), round(b[1] / rh * 1000), round(b[2] / rw * 1000), round(b[3] / rh * 1000)]
            want[t] = json.dumps([{"bbox_2d": q, "label": LABELS[i]}]), q
    trainer = GRPOTrainer(model=tiny_qwen25vl(tok), args=config(tmp_path),
                          reward_funcs=SetRewardFunctions(vr.Schema.qwen3vl_2d(), processor=proc).functions(),
                          train_dataset=dataset(), processing_class=proc)
    inject(trainer, tok)
    inner = trainer._generate_single_turn
    trainer._generate_single_turn = lambda *a, **k: ([tok(want[tok.decode(c[:-1])][0])["input_ids"] + [tok.eos_token_id]
                                                      for c in inner(*a, **k)[0]], None)
    seen = loss_spy(trainer)
    with _no_frame_warning():
        trainer.train()
    for ids, mask, adv in seen:
        texts = [tok.decode(row[m].tolist(), skip_special_tokens=True) for row, m in zip(ids, mask.bool())]
        i = next(k for k in range(len(SIZES)) if f'"{LABELS[k]}"' in texts[0])
        (w, h) = SIZES[i]
        r = np.array([hand_iou([q[0] * w / 1000, q[1] * h / 1000, q[2] * w / 1000, q[3] * h / 1000], TRUTH[i])
                      for q in (json.loads(t)[0]["bbox_2d"] for t in texts)])
        assert r.max() > 0.9  # compared in pixels: the exact answer scores (about) 1, not 0
        hand = (r - r.mean()) / (r.std(ddof=1) + 1e-4)
        assert adv.double().numpy() == pytest.approx(hand, abs=1e-4)
