"""Many-object data and scoring: detection scenes checked against an independent projection of
their yaw boxes, and `verireward score` on a many-object file against pycocotools' COCOeval (mAP)
and answer_set_rewards (set rewards), with per-image frames, object lists with scores, --render
pictures of every object, and clear failures."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import verireward as vr
from verireward import data
from verireward.cli import main
from test_detection import cocoeval
from test_score import read_png, write

BLUE, RED, GREEN = (30, 90, 230), (220, 30, 30), (0, 160, 0)


def projected_hull(box, K, R, t):
    """The pixel hull of a z-yaw box's eight corners, from the definition (every corner in front)."""
    c, s, yaw = np.array(box[:3]), np.array(box[3:6]), box[6]
    Rz = np.array([[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0], [0, 0, 1]])
    corners = [c + Rz @ (np.array([sx, sy, sz]) * s / 2) for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]
    cam = [R @ x + t for x in corners]
    assert all(p[2] > 0 for p in cam)
    px = np.array([(K @ p)[:2] / p[2] for p in cam])
    return np.concatenate([px.min(0), px.max(0)])


def test_detection_scenes_are_what_they_say():
    scenes = data.detection_scenes(60, seed=4, max_objects=5, negative_rate=0.2)
    again = data.detection_scenes(60, seed=4, max_objects=5, negative_rate=0.2)
    assert [s.target for s in scenes] == [s.target for s in again]
    counts = [len(s.labels) for s in scenes]
    assert min(counts) == 0 and max(counts) <= 5 and len(set(counts)) >= 4
    assert len({s.image_size for s in scenes}) >= 4  # several real-world sizes, portrait included
    for s in scenes:
        W, H = s.image_size
        assert tuple(vr.qwen_resized_size(s.image_size)[0].tolist()) == s.resized_size
        assert s.boxes3d.shape == (len(s.labels), 7) and s.boxes2d.shape == (len(s.labels), 4)
        for b3, b2 in zip(s.boxes3d, s.boxes2d):
            assert abs(b3[2] - b3[5] / 2) < 1e-12 and (np.abs(b3[:2]) <= 2).all()  # on the floor, within 2 m
            want = np.clip(projected_hull(b3, s.K, s.R, s.t), 0, [W, H, W, H])
            np.testing.assert_allclose(b2, want, atol=1e-6)
        # the target, read back in each scene's frame, is the ground truth to the written pixel
        got = vr.parse_objects([s.target], data.detection_schema(), array="numpy", image_size=[s.image_size],
                               resized_size=[s.resized_size])
        assert int(got.counts[0]) == len(s.labels) and got.labels[0] == s.labels
        step = np.array([W / s.resized_size[0], H / s.resized_size[1]] * 2)
        assert (np.abs(got.values["bbox_2d"][0, :len(s.labels)] - s.boxes2d) <= step / 2 + 1e-9).all()
    with pytest.raises(ValueError, match="max_objects"):
        data.detection_scenes(1, max_objects=0)
    with pytest.raises(ValueError, match="negative_rate"):
        data.detection_scenes(1, negative_rate=2)


def noisy_objects(scenes, seed):
    """Predictions a real model might write, in pixels of each resized image, with confidences:
    jittered boxes, some dropped, duplicated or mislabelled, and false positives."""
    rng = np.random.default_rng(seed)
    preds = []
    for s in scenes:
        sx, sy = s.resized_size[0] / s.image_size[0], s.resized_size[1] / s.image_size[1]
        objs = []
        for b, lab in zip(s.boxes2d, s.labels):
            if rng.uniform() < 0.15:
                continue
            jit = b * [sx, sy, sx, sy] + rng.normal(0, 0.06 * (b[2] - b[0]) * sx, 4)
            lab = lab if rng.uniform() > 0.1 else "sofa"
            objs.append({"bbox_2d": [round(float(v), 1) for v in jit], "label": lab, "score": float(rng.uniform())})
            if rng.uniform() < 0.1:
                objs.append(dict(objs[-1], score=float(rng.uniform())))  # a duplicate
        if rng.uniform() < 0.3:
            x, y = rng.uniform(0, s.resized_size[0] - 40), rng.uniform(0, s.resized_size[1] - 40)
            objs.append({"bbox_2d": [x, y, x + 30, y + 30], "label": "lamp", "score": float(rng.uniform())})
        preds.append({"id": s.id, "objects": objs})
    return preds


def gt_lines(scenes):
    return [{"id": s.id, "boxes": s.boxes2d.tolist(), "labels": s.labels, "image_size": list(s.image_size),
             "resized_size": list(s.resized_size)} for s in scenes]


def test_score_on_many_objects_equals_cocoeval_and_the_set_rewards(tmp_path, capsys):
    scenes = data.detection_scenes(80, seed=7)
    preds = noisy_objects(scenes, 1)
    p, g = write(tmp_path, preds, gt_lines(scenes))
    assert main(["score", p, "--gt", g, "--json", str(tmp_path / "m.json"), "--no-progress"]) == 0
    m = json.loads((tmp_path / "m.json").read_text())["metrics"]
    # COCOeval on the same detections: the written boxes scaled by image / resized size
    dets, gts = [], []
    for k, (s, pr) in enumerate(zip(scenes, preds)):
        scale = np.array([s.image_size[0] / s.resized_size[0], s.image_size[1] / s.resized_size[1]] * 2)
        dets += [((np.array(o["bbox_2d"]) * scale).tolist(), o["score"], o["label"], k) for o in pr["objects"]]
        gts += [(b.tolist(), lab, k) for b, lab in zip(s.boxes2d, s.labels)]
    classes, ap = cocoeval(dets, gts, (0.25, 0.5))
    want = np.nanmean(ap, 0)
    assert m["mAP@0.25"] == pytest.approx(want[0], abs=1e-9) and m["mAP@0.5"] == pytest.approx(want[1], abs=1e-9)
    assert 0.3 < m["mAP@0.5"] < 0.99  # the noise is visible
    texts = [json.dumps(pr["objects"]) for pr in preds]
    sets = vr.answer_set_rewards(texts, [s.boxes2d for s in scenes], [s.labels for s in scenes], data.detection_schema(),
                                 image_size=[s.image_size for s in scenes], resized_size=[s.resized_size for s in scenes])
    for key, name in (("soft_F1", "soft_f1"), ("precision", "precision"), ("recall", "recall"), ("F1", "f1")):
        assert m[key] == pytest.approx(float(getattr(sets, name).mean()), abs=1e-12)
    out = capsys.readouterr().out
    assert "80 images" in out and "mAP@0.5" in out and "soft_F1" in out


def test_perfect_completions_score_one_and_render_every_object(tmp_path, capsys):
    scenes = data.detection_scenes(40, seed=2)
    gt, pred = tmp_path / "gt.jsonl", tmp_path / "pred.jsonl"
    data.write_detection_jsonl(scenes, str(gt), str(pred))
    assert main(["score", str(pred), "--gt", str(gt), "--json", str(tmp_path / "m.json"), "--no-progress"]) == 0
    m = json.loads((tmp_path / "m.json").read_text())["metrics"]
    assert m["mAP@0.25"] == 1.0 and m["mAP@0.5"] == 1.0 and m["F1"] == 1.0 and m["soft_F1"] > 0.95
    # a false positive is drawn red, matched predictions blue, the truth green
    lines = [json.loads(x) for x in pred.read_text().splitlines()]
    k = next(i for i, s in enumerate(scenes) if len(s.labels) >= 2)
    objs = json.loads(lines[k]["text"].strip("`").removeprefix("json"))
    objs.append({"bbox_2d": [5, 5, 60, 60], "label": "lamp"})
    lines[k]["text"] = json.dumps(objs)
    pred.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    assert main(["score", str(pred), "--gt", str(gt), "--render", str(tmp_path / "r"), "--worst", "1", "--no-progress"]) == 0
    (png,) = sorted((tmp_path / "r").iterdir())
    assert f"line{k + 1}_" in png.name
    img = read_png(png)
    for colour in (BLUE, RED, GREEN):
        assert (img == colour).all(-1).sum() > 20, colour


def test_negatives_and_misuse(tmp_path, capsys):
    # nothing to find and nothing written: every set reward 1; something written: 0
    p, g = write(tmp_path, [{"id": 1, "text": "There is none: []"}, {"id": 2, "text": '[{"bbox_2d": [1, 2, 30, 40]}]'}],
                 [{"id": 1, "boxes": []}, {"id": 2, "boxes": []}])
    assert main(["score", p, "--gt", g, "--json", str(tmp_path / "m.json"), "--no-progress"]) == 0
    m = json.loads((tmp_path / "m.json").read_text())["metrics"]
    assert m["F1"] == 0.5 and m["soft_F1"] == 0.5 and math.isnan(m["mAP@0.5"])
    bad = [
        ([{"id": 1, "objects": "no"}], [{"id": 1, "boxes": []}], "objects"),
        ([{"id": 1, "objects": [{"bbox_2d": [1, 2, 3, 4], "score": "high"}]}], [{"id": 1, "boxes": []}], "score"),
        ([{"id": 1, "text": ""}, {"id": 2, "text": ""}],
         [{"id": 1, "boxes": [], "image_size": [9, 9], "resized_size": [28, 28]}, {"id": 2, "boxes": []}], "resized_size"),
        ([{"id": 1, "text": ""}], [{"id": 1, "boxes": [[1, 2, 3]]}], "gt_boxes"),
    ]
    for preds, gts, word in bad:
        p, g = write(tmp_path, preds, gts)
        assert main(["score", p, "--gt", g, "--no-progress"]) == 2
        assert word in capsys.readouterr().err


def test_a_perfect_100_object_answer_scores_one_and_max_objects_is_an_option(tmp_path, capsys):
    boxes = [[10 * k, 5, 10 * k + 8, 15] for k in range(100)]
    objs = [{"bbox_2d": b, "label": "dot"} for b in boxes]
    p, g = write(tmp_path, [{"id": 1, "text": json.dumps(objs)}], [{"id": 1, "boxes": boxes, "labels": ["dot"] * 100,
                                                                   "image_size": [1008, 28], "resized_size": [1008, 28]}])
    assert main(["score", p, "--gt", g, "--json", str(tmp_path / "m.json"), "--no-progress"]) == 0
    m = json.loads((tmp_path / "m.json").read_text())["metrics"]
    assert m["mAP@0.5"] == 1.0 and m["F1"] == 1.0 and m["soft_F1"] == 1.0
    # --max-objects 40: 40 detections; all 100 objects count as predictions in the set rewards
    assert main(["score", p, "--gt", g, "--json", str(tmp_path / "m.json"), "--max-objects", "40", "--no-progress"]) == 0
    m = json.loads((tmp_path / "m.json").read_text())["metrics"]
    assert m["precision"] == 0.4 and m["recall"] == 0.4
    assert main(["score", p, "--gt", g, "--max-objects", "0", "--no-progress"]) == 2
    assert "--max-objects" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_object_score_is_kept_and_ranked_last(tmp_path, bad):
    # one truth; the object that misses it is written first and scored `bad`, the hit scored 0.1:
    # kept and ranked as detection_map ranks it, the hit ranks first (AP 1) except for +inf
    objs = [{"bbox_2d": [50, 50, 60, 60], "score": bad}, {"bbox_2d": [0, 0, 10, 10], "score": 0.1}]
    p, g = write(tmp_path, [{"id": 1, "objects": objs}],
                 [{"id": 1, "boxes": [[0, 0, 10, 10]], "image_size": [112, 112], "resized_size": [112, 112]}])
    assert main(["score", p, "--gt", g, "--json", str(tmp_path / "m.json"), "--no-progress"]) == 0
    out = json.loads((tmp_path / "m.json").read_text())
    assert out["objects"]["predicted"] == 2
    assert out["metrics"]["mAP@0.5"] == (0.5 if bad == math.inf else 1.0)


@pytest.mark.parametrize("size", [[640], [640, 480, 1], [math.nan, 480], [0, 480], [640, -1], "640x480", [True, 480], None])
@pytest.mark.parametrize("key", ["image_size", "resized_size"])
def test_a_malformed_frame_names_the_file_and_the_line(tmp_path, capsys, size, key):
    gts = [{"id": 1, "boxes": [[0, 0, 10, 10]], "image_size": [640, 480], "resized_size": [644, 476]},
           {"id": 2, "boxes": [[0, 0, 10, 10]], "image_size": [640, 480], "resized_size": [644, 476]}]
    gts[1][key] = size
    p, g = write(tmp_path, [{"id": 1, "text": ""}, {"id": 2, "text": ""}], gts)
    assert main(["score", p, "--gt", g, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{g}:2: '{key}' must be [W, H]" in err and "Traceback" not in err


def test_bytes_that_are_not_utf8_name_the_file_and_the_line(tmp_path, capsys):
    p, g = write(tmp_path, [{"id": 1, "text": "ok"}, {"id": 2, "text": "x"}], [{"id": 1, "boxes": []}, {"id": 2, "boxes": []}])
    with open(p, "ab") as f:
        f.write(b'{"id": 3, "text": "\xff\xfe"}\n')
    assert main(["score", p, "--gt", g, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"PRED {p}:3: not UTF-8" in err and "Traceback" not in err


def test_render_draws_on_the_ground_truths_image_with_legible_labels(tmp_path):
    """A GT line naming an image: the picture is that image (its pixels kept where nothing is
    drawn), every box drawn on it in its exact colour at its place, each label a tag of its box's
    colour with white text; a missing image falls back to a blank canvas with a note, never an
    error. Read back pixel by pixel."""
    from PIL import Image

    from verireward.cli.render import CAPTION_H

    ochre = (200, 180, 40)
    Image.new("RGB", (320, 240), ochre).save(tmp_path / "scene.png")
    gts = [{"id": 1, "boxes": [[40, 50, 140, 150]], "labels": ["chair"], "image": "scene.png", "image_size": [320, 240],
            "resized_size": [320, 240]},
           {"id": 2, "boxes": [[10, 10, 60, 60]], "labels": ["lamp"], "image": "missing.png", "image_size": [100, 80],
            "resized_size": [100, 80]}]
    preds = [{"id": 1, "objects": [{"bbox_2d": [42, 52, 140, 150], "label": "chair"}, {"bbox_2d": [200, 100, 300, 200], "label": "sofa"}]},
             {"id": 2, "objects": []}]
    p, g = write(tmp_path, preds, gts)
    assert main(["score", p, "--gt", g, "--render", str(tmp_path / "r"), "--worst", "2", "--no-progress"]) == 0
    pngs = {x.name.split("_")[1]: read_png(x) for x in (tmp_path / "r").iterdir()}
    full = pngs["line1"]
    img = full[CAPTION_H:, :320]  # the picture is at least 480 wide, for its caption: white beside the image
    assert full.shape[0] == CAPTION_H + 240 and (full[CAPTION_H:, 320:] == 255).all()
    assert tuple(img[230, 10]) == ochre and tuple(img[5, 300]) == ochre  # the image's own pixels
    assert tuple(img[100, 40]) == GREEN  # the truth's left edge
    assert tuple(img[100, 42]) == BLUE  # the matched prediction's left edge (drawn over the truth where they meet)
    assert tuple(img[200, 250]) == RED and tuple(img[150, 300]) == RED  # the false positive's edges
    # tags: the truth's inside its box's top-left corner, the false positive's above its box
    for (y0, y1, x0, x1), colour in (((51, 68, 41, 90), GREEN), ((82, 100, 200, 250), RED)):
        tag = img[y0:y1, x0:x1]
        assert (tag == colour).all(-1).sum() > 150, colour
        assert (tag == (255, 255, 255)).all(-1).sum() > 15, "white text on the tag"
    blank = pngs["line2"]
    assert blank.shape[0] - CAPTION_H == 80 and tuple(blank[CAPTION_H + 5, 90]) == (255, 255, 255)
    assert tuple(blank[CAPTION_H + 10, 30]) == GREEN
    caption = blank[:CAPTION_H]
    assert ((caption == (20, 20, 20)).all(-1)).sum() > 100  # the note "image not read: missing.png" among the text

