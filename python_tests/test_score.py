"""`verireward score`: metrics equal grounding_metrics on the same data, --json and --render
(PNGs decoded here and checked pixel by pixel), and clear failures on bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import verireward as vr
from verireward.cli import main
from verireward.cli.score import load_schema

K = [[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]]
I3 = [[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]


def read_png(path):
    """An RGB PNG as a [H, W, 3] uint8 array (read with pillow, which verireward draws with)."""
    from PIL import Image

    with Image.open(path) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


def write(tmp_path, preds, gts):
    p, g = tmp_path / "pred.jsonl", tmp_path / "gt.jsonl"
    p.write_text("\n".join(json.dumps(x) for x in preds) + "\n")
    g.write_text("\n".join(json.dumps(x) for x in gts) + "\n")
    return str(p), str(g)


def test_score_metrics_json_and_render(tmp_path, capsys):
    # 2D ground truth normalized (image_size given); 3D in metres through a raw-frame schema
    schema = [{"name": "bbox2d", "kind": "box2d", "frame": "normalized"}, {"name": "bbox3d", "kind": "box3d", "frame": "raw"},
              {"name": "kpts2d", "kind": "points2d", "frame": "normalized"}]
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    gt_line = {"bbox2d": [195 / 640, 115 / 480, 445 / 640, 365 / 480], "bbox3d": [-1, -1, 4, 1, 1, 6], "K": K, "R": I3,
               "t": [0, 0, 0], "image_size": [640, 480]}
    gts = [dict(gt_line, id=k) for k in ("a", "b", "c")]
    preds = [{"id": "c", "text": "I do not know"},
             {"id": "a", "text": json.dumps({"bbox2d": gt_line["bbox2d"], "bbox3d": gt_line["bbox3d"], "kpts2d": [[0.5, 0.5]]})},
             {"id": "b", "text": '{"bbox2d": [0.3, 0.24, 0.5, 0.76], "bbox3d": [-1, -1, 4, 0, 1, 6], "kpts2d": [[0.9, 0.9]]}'}]
    pred, gt = write(tmp_path, preds, gts)
    out_json, render = tmp_path / "m.json", tmp_path / "png"
    code = main(["score", pred, "--gt", gt, "--schema", str(tmp_path / "schema.json"), "--json", str(out_json),
                 "--render", str(render), "--worst", "2", "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "IoU2D" in printed and "Acc@0.5" in printed
    m = json.loads(out_json.read_text())["metrics"]
    # the same numbers straight from the library
    s = load_schema(str(tmp_path / "schema.json"))
    texts = [preds[1]["text"], preds[2]["text"], preds[0]["text"]]
    t = lambda key: torch.tensor([gt_line[key]] * 3, dtype=torch.float64)
    direct = vr.grounding_metrics(vr.GroundingVerifier(s)(texts, {"bbox2d": t("bbox2d"), "bbox3d": t("bbox3d")},
                                                          camera=(t("K"), t("R"), t("t")), image_size=t("image_size")))
    assert m == pytest.approx(direct)
    # RPC by hand: "a" 1 (its 2D box is the projection); "b" projects to [195, 115, 320, 365] against
    # [192, 115.2, 320, 364.8]: 125 * 249.6 / (128 * 249.6 + 125 * 250 - 125 * 249.6); "c" 0
    assert m["RPC"] == pytest.approx((1.0 + 31200 / 31998.8 + 0.0) / 3)
    assert m["IoU3D"] == pytest.approx((1 + 0.5 + 0) / 3)
    pngs = sorted(render.iterdir())
    assert len(pngs) == 2
    from verireward.cli.render import CAPTION_H, GLYPH_H

    full = read_png(str(pngs[0]))  # the worst sample: "c", no prediction: only ground truth is drawn
    assert full.shape == (480 + CAPTION_H, 640, 3)
    img, caption = full[CAPTION_H:], full[:CAPTION_H]
    assert tuple(img[115, 300]) == (0, 160, 0)  # top edge of the ground-truth 2D box, green
    blue, red, green = ((img == c).all(-1) for c in ((30, 90, 230), (220, 30, 30), (0, 160, 0)))
    assert not blue.any()  # no predicted box
    assert red[200:280, 200:440].sum() > 100  # "PARSE FAILED" written across the middle, in red
    legend = caption[2 + 2 * GLYPH_H:2 + 3 * GLYPH_H]
    for color in ((0, 160, 0), (30, 90, 230), (220, 30, 30)):  # the legend's three swatches and labels
        assert (legend == color).all(-1).sum() > 49
    assert ((caption[2:2 + 2 * GLYPH_H] == (20, 20, 20)).all(-1)).sum() > 100  # title and values
    full2 = read_png(str(pngs[1]))  # "b": predicted box in blue, its 3D wireframe in red, its keypoint
    img2 = full2[CAPTION_H:]
    assert tuple(img2[300, 192]) == (30, 90, 230)  # left edge x = 0.3 * 640
    assert np.any(np.all(img2 == (220, 30, 30), axis=-1))
    assert tuple(img2[432, 576]) == (30, 90, 230)  # the centre of the keypoint's cross at (0.9, 0.9)


def test_score_by_position_and_bad_files(tmp_path, capsys):
    gts = [{"bbox2d": [0, 0, 1, 1], "bbox3d": [0, 0, 0, 1, 1, 1]}]
    pred, gt = write(tmp_path, [{"text": '{"bbox2d": [0, 0, 1000, 1000], "bbox3d": [0, 0, 0, 1000, 1000, 1000]}'}], gts)
    assert main(["score", pred, "--gt", gt, "--no-progress"]) == 0
    assert "1.0000" in capsys.readouterr().out
    pred2, gt2 = write(tmp_path, [{"text": "x"}, {"text": "y"}], gts)
    assert main(["score", pred2, "--gt", gt2, "--no-progress"]) == 2
    assert "pred.jsonl has 2 lines but GT" in capsys.readouterr().err
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    assert main(["score", str(tmp_path / "bad.jsonl"), "--gt", gt, "--no-progress"]) == 2
    assert "bad.jsonl:1: not JSON" in capsys.readouterr().err
    pred3, gt3 = write(tmp_path, [{"id": 1, "text": "x"}], [dict(gts[0], id=2)])
    assert main(["score", pred3, "--gt", gt3, "--no-progress"]) == 2
    assert "gt.jsonl has no line for id 1" in capsys.readouterr().err


def test_scoring_in_chunks_gives_the_same_metrics_and_pictures(tmp_path):
    from verireward.cli.score import score

    rng = np.random.default_rng(0)
    gts, preds = [], []
    for k in range(7):
        lo = rng.uniform(0, 0.4, 2)
        gts.append({"id": k, "bbox2d": [*lo, *(lo + 0.3)], "bbox3d": [0.1, 0.1, 0.1, 0.5, 0.5, 0.5], "K": K, "R": I3,
                    "t": [0, 0, 2], "image_size": [640, 480]})
        b = [int(v) for v in rng.integers(0, 1000, 4)]
        preds.append({"id": k, "text": json.dumps({"bbox2d": b, "bbox3d": [100, 100, 100, 400, 500, 600]}) if k != 3 else "?"})
    pred, gt = write(tmp_path, preds, gts)
    one = score(pred, gt, render_dir=str(tmp_path / "one"), worst=3, progress=False)
    many = score(pred, gt, render_dir=str(tmp_path / "many"), worst=3, progress=False, chunk=2)
    assert many["metrics"] == one["metrics"] and one["n"] == 7
    for a, b in zip(one["rendered"], many["rendered"]):
        np.testing.assert_array_equal(read_png(a), read_png(b))


def synthetic_files(tmp_path, n=6, seed=1):
    from verireward import data

    samples = data.grounding_samples(n, seed=seed)
    gt, pred = tmp_path / "gt.jsonl", tmp_path / "pred.jsonl"
    schema_path = data.write_jsonl(samples, str(gt), str(pred))
    return str(pred), str(gt), schema_path


def test_score_finds_the_schema_written_beside_synthetic_data(tmp_path, capsys):
    pred, gt, schema_path = synthetic_files(tmp_path)
    assert schema_path == str(tmp_path / "gt.schema.json")
    assert vr.Schema.from_json(json.loads(Path(schema_path).read_text())) == vr.data.grounding_schema()
    assert main(["score", pred, "--gt", gt, "--no-progress", "--json", str(tmp_path / "m.json")]) == 0
    captured = capsys.readouterr()
    assert "schema from" in captured.err and "warning" not in captured.err
    m = json.loads((tmp_path / "m.json").read_text())["metrics"]
    assert m["IoU3D"] > 0.98 and m["IoU2D"] > 0.99  # its own perfect targets (quantized to bins)


def test_score_warns_when_predictions_are_out_of_the_ground_truths_frame(tmp_path, capsys):
    pred, gt, schema_path = synthetic_files(tmp_path)
    Path(schema_path).unlink()  # the default schema: 3D bins over [0, 1], but the truth is in metres
    assert main(["score", pred, "--gt", gt, "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "warning: GT bbox3d has coordinates outside field 'bbox3d''s range [0, 1]" in err
    # raw predictions 1000x the truth: a magnitude warning
    raw = tmp_path / "raw.json"
    raw.write_text(json.dumps([{"name": "bbox2d", "kind": "box2d", "frame": "raw"}]))
    p2, g2 = write(tmp_path, [{"text": '{"bbox2d": [200, 200, 600, 600]}'}], [{"bbox2d": [0.2, 0.2, 0.6, 0.6], "bbox3d": [0] * 6}])
    assert main(["score", p2, "--gt", g2, "--schema", str(raw), "--no-progress"]) == 0
    assert "predicted coordinates are about 400 but GT bbox2d's about 0.4 (1e+03x)" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    ("{not json", "--schema {path}: not JSON"),
    ('{"name": "b"}', "--schema {path}: a schema must be a non-empty JSON list of field objects, got dict"),
    ('[{"name": "b", "kind": "box2d", "bins": 0}]', "--schema {path}: entry 0: Field 'b': bins must be an int"),
    ('[{"name": "b", "kind": "box2d", "frmae": "raw"}]', "--schema {path}: entry 0: unknown option 'frmae'"),
    ('[{"kind": "box2d"}]', "--schema {path}: entry 0: needs 'name' and 'kind'"),
])
def test_a_malformed_schema_names_the_option_and_the_file(tmp_path, capsys, content, message):
    pred, gt = write(tmp_path, [{"text": "x"}], [{"bbox2d": [0, 0, 1, 1], "bbox3d": [0] * 6}])
    path = tmp_path / "schema.json"
    path.write_text(content)
    assert main(["score", pred, "--gt", gt, "--schema", str(path), "--no-progress"]) == 2
    assert message.format(path=path) in capsys.readouterr().err


def test_score_refuses_empty_and_mismatched_files(tmp_path, capsys):
    gts = [{"id": k, "bbox2d": [0, 0, 1, 1], "bbox3d": [0] * 6} for k in range(3)]
    pred, gt = write(tmp_path, [], gts)
    Path(pred).write_text("\n")
    assert main(["score", pred, "--gt", gt, "--no-progress"]) == 2
    assert "has no lines: nothing to score" in capsys.readouterr().err
    pred, gt = write(tmp_path, [{"id": 0, "text": "x"}, {"id": 1, "text": "y"}], gts)  # one GT line left unscored
    assert main(["score", pred, "--gt", gt, "--no-progress"]) == 2
    assert "has 2 lines but GT" in capsys.readouterr().err
    pred, gt = write(tmp_path, [{"id": 0, "text": "x"}, {"id": 0, "text": "y"}, {"id": 1, "text": "z"}], gts)
    assert main(["score", pred, "--gt", gt, "--no-progress"]) == 2
    assert "id 0 on lines 1 and 2" in capsys.readouterr().err


def test_the_table_fits_in_100_columns(tmp_path, capsys):
    pred, gt, _ = synthetic_files(tmp_path, n=2)
    assert main(["score", pred, "--gt", gt, "--no-progress"]) == 0
    assert max(len(line) for line in capsys.readouterr().out.splitlines()) <= 100


def test_score_with_per_image_frames(tmp_path, capsys):
    """GT lines with image_size and resized_size: a pixels-frame field is read in each line's
    resized pixels; the metrics are the verifier's with those frames, and the pictures draw the
    original pixels as they are."""
    schema = [{"name": "bbox_2d", "kind": "box2d", "frame": "pixels"}, {"name": "bbox3d", "kind": "box3d", "frame": "raw"}]
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    sizes, resized = [[640, 480], [1280, 960]], [[644, 476], [1148, 840]]
    truth = [[195.0, 115.0, 445.0, 365.0], [390.0, 230.0, 890.0, 730.0]]
    gts = [{"id": k, "bbox2d": b, "bbox3d": [-1, -1, 4, 1, 1, 6], "K": K, "R": I3, "t": [0, 0, 0], "image_size": s,
            "resized_size": r} for k, (b, s, r) in enumerate(zip(truth, sizes, resized))]
    seen = [[round(v * r[k % 2] / s[k % 2]) for k, v in enumerate(b)] for b, s, r in zip(truth, sizes, resized)]
    preds = [{"id": k, "text": json.dumps({"bbox_2d": b, "bbox3d": [-1, -1, 4, 1, 1, 6]})} for k, b in enumerate(seen)]
    pred, gt = write(tmp_path, preds, gts)
    out_json = tmp_path / "m.json"
    assert main(["score", pred, "--gt", gt, "--schema", str(tmp_path / "schema.json"), "--json", str(out_json),
                 "--render", str(tmp_path / "png"), "--worst", "1", "--no-progress"]) == 0
    m = json.loads(out_json.read_text())["metrics"]
    v = vr.GroundingVerifier(load_schema(str(tmp_path / "schema.json")))
    f = lambda key: torch.tensor([g[key] for g in gts], dtype=torch.float64)
    direct = vr.grounding_metrics(v([p["text"] for p in preds], {"bbox2d": f("bbox2d"), "bbox3d": f("bbox3d")},
                                    camera=(f("K"), f("R"), f("t")), image_size=f("image_size"),
                                    resized_size=f("resized_size")))
    assert m == pytest.approx(direct)
    assert m["IoU2D"] > 0.98  # the frames are applied (read as original pixels it would be far lower)
    (png,) = sorted((tmp_path / "png").iterdir())
    img = read_png(str(png))
    assert img.shape[1] in (640, 1280)
    gts[1].pop("resized_size")
    pred, gt = write(tmp_path, preds, gts)
    assert main(["score", pred, "--gt", gt, "--schema", str(tmp_path / "schema.json"), "--no-progress"]) == 2
    assert "resized_size" in capsys.readouterr().err
