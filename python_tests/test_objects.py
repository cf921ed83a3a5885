"""parse_objects by exact construction: answers are built from generated objects (valid and
malformed boxes, labels, extra keys) written in every container a VLM uses (a list, a dict of a
list, several in prose, ```json fences, Qwen2-VL box tokens), and what is read must be exactly the
objects written, in order, with spans that slice back to what was written. Also: one object reads
as parse() reads it; the slot cap; hostile and random text; misuse; the set rewards end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import verireward as vr

SCHEMA = vr.Schema([vr.Field("bbox_2d", "box2d", frame="pixels"), vr.Field("label", "text")])
LABELS = st.text(alphabet=st.sampled_from(list("abcz é猫'\"\\")), min_size=0, max_size=6)


@st.composite
def an_object(draw):
    """(dict to write, expected box or None, expected label or None). A malformed box is still an
    object; the label key may be missing."""
    kind = draw(st.sampled_from(["ok", "ok", "ok", "short", "string", "nonfinite", "nested"]))
    nums = [draw(st.integers(-50, 2000)) for _ in range(4)]
    if draw(st.booleans()):
        nums = [n + 0.5 for n in nums]
    box = {"ok": nums, "short": nums[:3], "string": "no box", "nonfinite": nums[:3] + ["1e999"],
           "nested": [nums[:2], nums[2:]]}[kind]
    obj = {"bbox_2d": box}
    label = draw(st.one_of(st.none(), LABELS))
    if label is not None:
        obj["label"] = label
    if draw(st.booleans()):
        obj["score"] = 0.9
    expect = [float(v) for v in nums] if kind in ("ok", "nested") else None
    return obj, expect, label


def dump(obj):
    text = json.dumps(obj, ensure_ascii=False)
    return text.replace('"1e999"', "1e999")


@st.composite
def answer(draw):
    objs = draw(st.lists(an_object(), min_size=0, max_size=6))
    form = draw(st.sampled_from(["list", "dict", "prose", "fence", "tokens", "bare"]))
    if form == "bare":  # the box-token form decoded without its special tokens
        objs = [(o, e if e is not None and not isinstance(o["bbox_2d"][0], list) else None,
                 lab.strip() if lab is not None and lab.strip() and all(c not in lab for c in "<|'\"\\.;:,)>(") else None)
                for o, e, lab in objs]
        parts = []
        for o, e, lab in objs:
            b = o["bbox_2d"]
            body = f"({b[0]}, {b[1]}),({b[2]},{b[3]})" if e is not None else "(1,2,3),(4)"
            parts.append((lab or "") + body)
        text = "Boxes: " + "; ".join(parts) + "."
        kept, last = [], None  # a box without a label of its own takes the previous box's
        for _, e, lab in objs:
            if e is not None:
                last = lab if lab is not None else last
                kept.append((e, last))
        return text, kept, [p for (_, e, _), p in zip(objs, parts) if e is not None]
    if form == "tokens":
        objs = [(o, e if e is not None and not isinstance(o["bbox_2d"][0], list) else None,
                 lab if lab is not None and all(c not in lab for c in "<|'\"") else None) for o, e, lab in objs]
        parts = []
        for o, e, lab in objs:
            b = o["bbox_2d"]
            body = f"({b[0]},{b[1]}),({b[2]},{b[3]})" if e is not None else "(1,2)"
            ref = f"<|object_ref_start|>{lab}<|object_ref_end|>" if lab is not None else ""
            parts.append(ref + "<|box_start|>" + body + "<|box_end|>")
        text = "Found: " + " and ".join(parts) + "."
        expected, last = [], None  # a group without a reference takes the last reference's label
        for _, e, lab in objs:
            last = lab.strip() if lab is not None else last
            expected.append((e, last))
        return text, expected, parts
    pieces = [dump(o) for o, _, _ in objs]
    if form == "list":
        text = "Answer: [" + ", ".join(pieces) + "]"
    elif form == "dict":
        text = '{"objects": [' + ",".join(pieces) + '], "count": %d}' % len(objs)
    elif form == "prose":
        text = "".join(f"Object {k}: {p}\n" for k, p in enumerate(pieces))
    else:
        text = "```json\n[\n  " + ",\n  ".join(pieces) + "\n]\n```"
    return text, [(e, lab) for _, e, lab in objs], pieces


@settings(max_examples=300, deadline=None)
@given(st.lists(answer(), min_size=1, max_size=5), st.integers(1, 8))
def test_objects_are_exactly_what_was_written(answers, M):
    texts = [a[0] for a in answers]
    r = vr.parse_objects(texts, SCHEMA, max_objects=M, array="numpy")
    labels = r.labels
    for i, (text, expected, pieces) in enumerate(answers):
        assert r.n_objects[i] == len(expected)
        assert r.counts[i] == min(len(expected), M)
        for m, ((box, label), piece) in enumerate(list(zip(expected, pieces))[:M]):
            b, e = r.object_spans[i, m]
            assert text[b:e] == piece
            assert r.valid[i, m, 0] == (box is not None)
            if box is None:
                assert np.isnan(r.values["bbox_2d"][i, m]).all()
            else:
                assert r.values["bbox_2d"][i, m].tolist() == box
                bb, be = r.char_spans[i, m, 0]
                assert text[bb:be].replace(" ", "") in (json.dumps(box).replace(" ", "").replace(".0", ""),
                                                        json.dumps(box).replace(" ", ""),
                                                        f"({box[0]:g},{box[1]:g}),({box[2]:g},{box[3]:g})",
                                                        "({},{}),({},{})".format(*[int(v) if v == int(v) else v for v in box]),
                                                        json.dumps([box[:2], box[2:]]).replace(" ", "").replace(".0", ""),
                                                        json.dumps([box[:2], box[2:]]).replace(" ", ""))
            assert r.valid[i, m, 1] == (label is not None)
            assert labels[i][m] == label
        for m in range(int(r.counts[i]), M):  # slots past the objects are empty
            assert not r.valid[i, m].any() and np.isnan(r.values["bbox_2d"][i, m]).all()
            assert r.object_spans[i, m].tolist() == [0, 0]


@settings(max_examples=200, deadline=None)
@given(an_object(), st.sampled_from(["", "The box: ", "```json\n"]), st.booleans())
def test_one_object_reads_as_parse_reads_it(obj, prefix, tagged):
    text = prefix + dump(obj[0])
    if tagged:
        text = "<think>{\"bbox_2d\": [0, 0, 1, 1]}</think><answer>" + text + "</answer>"
    tag = "answer" if tagged else None
    one = vr.parse([text], SCHEMA, array="numpy", answer_tag=tag)
    many = vr.parse_objects([text], SCHEMA, max_objects=3, array="numpy", answer_tag=tag)
    assert many.n_objects[0] == 1
    assert (many.valid[0, 0] == one.valid[0]).all()
    assert (many.char_spans[0, 0] == one.char_spans[0]).all()
    np.testing.assert_array_equal(many.values["bbox_2d"][0, 0], one.values["bbox_2d"][0])
    assert many.values["label"][0][0] == one.values["label"][0]


def test_frames_and_oriented_fields_apply_per_object():
    schema = vr.Schema([vr.Field("bbox_2d", "box2d", frame="bins", bins=1000, aliases=("box",))])
    r = vr.parse_objects(['[{"box": [0, 500, 1000, 250]}, {"bbox_2d": [1, 2, 3, 1001]}, {"box": [1, 2, 3, 4.5]}]'],
                         schema, array="numpy")
    assert r.n_objects[0] == 3
    np.testing.assert_allclose(r.values["bbox_2d"][0, 0], [0, 0.5, 1.0, 0.25])
    assert not r.valid[0, 1:].any()  # out of the bins, then not a bin
    q = vr.Schema.qwen3vl_3d()
    text = '[{"bbox_3d": [0, 0, 5, 1, 2, 1, 0, 0, 90], "label": "car"}, {"bbox_3d": [1, 1, 6, 1, 1, 1, 0, 0, 0]}]'
    r = vr.parse_objects([text], q, array="numpy")
    assert r.n_objects[0] == 2 and r.valid[0, :2, 0].all()
    assert r.values["bbox_3d"][0, 1].tolist() == [1, 1, 6, 1, 1, 1, 0, 0, 0]


def test_objects_past_the_slots_are_counted_not_stored():
    text = json.dumps([{"bbox_2d": [k, k, k + 1, k + 1]} for k in range(10)])
    r = vr.parse_objects([text], SCHEMA, max_objects=4, array="numpy")
    assert r.n_objects[0] == 10 and r.counts[0] == 4
    assert r.values["bbox_2d"][0, :, 0].tolist() == [0, 1, 2, 3]


def test_an_object_is_not_searched_inside_and_containers_are():
    text = '{"result": {"a": [{"bbox_2d": [1, 2, 3, 4], "parts": [{"bbox_2d": [9, 9, 9, 9]}]}], "b": {"bbox_2d": [5, 6, 7, 8]}}}'
    r = vr.parse_objects([text], SCHEMA, array="numpy")
    assert r.n_objects[0] == 2
    assert r.values["bbox_2d"][0, :2].tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    # only what a numeric key marks is an object; a label-only dict is not one
    r = vr.parse_objects(['[{"label": "cat"}, {"bbox_2d": [1, 2, 3, 4]}]'], SCHEMA, array="numpy")
    assert r.n_objects[0] == 1


def test_hostile_texts_never_raise_nor_hang():
    hostile = ["<|object_ref_start|>" * 20000, "<|box_start|>" * 20000 + "<|box_end|>", "[" * 100000, "{" * 100000,
               '[{"bbox_2d": [1, 2, 3, 4]}' * 5000, "<|object_ref_start|>a<|object_ref_end|>" * 5000,
               '{"bbox_2d": [1e999, 1, 2, 3]}', "\ud800{\"bbox_2d\": [1, 2, 3, 4]}", "<|box_start|>(1,2),(3,4)",
               "<|box_start|>(1,2),(3,4),(5,6)<|box_end|>", "<|box_start|>(a,b),(c,d)<|box_end|>", ""]
    r = vr.parse_objects(hostile, SCHEMA, max_objects=2, array="numpy")
    # one group up to the first <|box_end|>; an unclosed group's corners read as the bare form
    assert r.n_objects.tolist() == [0, 1, 0, 0, 5000, 0, 1, 1, 1, 1, 1, 0]
    assert r.valid[8, 0, 0] and r.labels[8] == [None]
    assert not r.valid[1].any()
    assert r.valid[7, 0, 0] and not r.valid[6, 0, 0] and not r.valid[9, 0, 0] and not r.valid[10, 0, 0]
    for i, t in enumerate(hostile):
        assert (0 <= r.object_spans[i]).all() and (r.object_spans[i] <= len(t)).all()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(list('{}[](),:"\' 0123456789.e-<|>_abox') + ["<|box_start|>", "<|box_end|>", '"bbox_2d"', "<|object_ref_start|>", "<|object_ref_end|>"]), max_size=60).map("".join), min_size=1, max_size=4))
def test_random_texts(texts):
    r = vr.parse_objects(texts, SCHEMA, max_objects=3, array="numpy")
    for i, t in enumerate(texts):
        assert r.n_objects[i] >= 0
        assert (0 <= r.char_spans[i]).all() and (r.char_spans[i] <= len(t)).all()
        ok = r.valid[i, :, 0]
        assert np.isfinite(r.values["bbox_2d"][i][ok]).all() and np.isnan(r.values["bbox_2d"][i][~ok]).all()


def test_misuse_names_the_argument():
    with pytest.raises(TypeError, match="texts"):
        vr.parse_objects("one text", SCHEMA)
    for bad in (0, -1, 1.5, True, 2**21):
        with pytest.raises(ValueError, match="max_objects"):
            vr.parse_objects(["x"], SCHEMA, max_objects=bad)
    with pytest.raises(ValueError, match="array"):
        vr.parse_objects(["x"], SCHEMA, array="jax")
    with pytest.raises(ValueError, match="answer_tag"):
        vr.parse_objects(["x"], SCHEMA, answer_tag="<answer>")
    with pytest.raises(ValueError, match="name"):
        vr.parse_objects(["x"], SCHEMA).text("bbox_2d")
    r = vr.parse_objects([], SCHEMA)
    assert r.valid.shape == (0, 64, 2) and r.n_objects.shape == (0,)


def test_parsed_objects_into_set_rewards():
    gt = np.array([[[0, 0, 10, 10], [20, 20, 30, 30]]], dtype=np.float64)
    answers = ['[{"bbox_2d": [0, 0, 10, 10], "label": "cat"}, {"bbox_2d": [20, 20, 30, 30], "label": "dog"}]',
               '[{"bbox_2d": [0, 0, 10, 10], "label": "cat"}, {"bbox_2d": [0, 0, 10, 10], "label": "cat"}, {"bbox_2d": [20, 20, 30, 30], "label": "dog"}]',
               '[{"bbox_2d": [0, 0, 10, 10], "label": "cat"}, {"bbox_2d": [20, 20, 30], "label": "dog"}, {"bbox_2d": [20, 20, 30, 30], "label": "dog"}]',
               '<|object_ref_start|>cat<|object_ref_end|><|box_start|>(0,0),(10,10)<|box_end|><|object_ref_start|>dog<|object_ref_end|><|box_start|>(20,20),(30,30)<|box_end|>']
    r = vr.parse_objects(answers, SCHEMA, max_objects=4, array="numpy")
    n = len(answers)
    g = np.repeat(gt, n, 0)
    gl = [["cat", "dog"]] * n
    pl = [[lab or "" for lab in row] for row in r.labels]
    m = vr.match_boxes(r.values["bbox_2d"], r.counts, g, np.full(n, 2), pred_labels=pl, gt_labels=gl)
    sr = vr.set_rewards(m, r.counts, np.full(n, 2))
    np.testing.assert_allclose(sr.f1, [1.0, 0.8, 0.8, 1.0])  # a duplicate and a malformed box cost the same
    assert (m.assignment[2, 1] == -1) and (m.assignment[1].tolist().count(0) == 1)


def test_qwen_2d_presets_end_to_end():
    # Qwen2.5-VL writes absolute pixels of the resized image; the preset turns them into the
    # original image's pixels through the size the model saw
    image = (1000, 750)
    resized = tuple(int(v) for v in vr.qwen_resized_size(image).reshape(-1))
    sx, sy = resized[0] / image[0], resized[1] / image[1]
    gt = np.array([[100.0, 50.0, 400.0, 300.0], [500.0, 400.0, 900.0, 700.0]])
    written = [[round(b[0] * sx), round(b[1] * sy), round(b[2] * sx), round(b[3] * sy)] for b in gt]
    text = "```json\n" + json.dumps([{"bbox_2d": b, "label": lab} for b, lab in zip(written, ["cup", "box"])]) + "\n```"
    schema = vr.Schema.qwen25vl_2d(image_size=image, resized_size=resized)
    r = vr.parse_objects([text], schema, array="numpy")
    assert r.counts.tolist() == [2] and r.labels == [["cup", "box"]]
    back = np.array(written, dtype=np.float64) * [1 / sx, 1 / sy, 1 / sx, 1 / sy]
    np.testing.assert_allclose(r.values["bbox_2d"][0, :2], back, rtol=1e-12)
    m = vr.match_boxes(r.values["bbox_2d"][:, :2], r.counts, gt[None], np.array([2]), pred_labels=r.labels,
                       gt_labels=[["cup", "box"]])
    assert m.assignment.tolist() == [[0, 1]] and (m.iou > 0.98).all()
    assert vr.Schema.from_json(schema.to_json()) == schema
    # Qwen3-VL writes 0-1000 bins; a 2D-only schema needs only 2D ground truth
    q3 = vr.Schema.qwen3vl_2d()
    out = vr.GroundingVerifier(q3)(['{"bbox_2d": [100, 200, 500, 600], "label": "cup"}'], {"bbox2d": [[0.1, 0.2, 0.5, 0.6]]})
    assert out.rewards[0, q3.names.index("bbox_2d")] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="qwen3vl_2d"):
        vr.GroundingVerifier()(['{"bbox2d": [0, 0, 1, 1]}'], {"bbox2d": [[0, 0, 1, 1]]})


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(28, 4000), st.integers(28, 4000)), min_size=1, max_size=6), st.data())
def test_frames_per_text(sizes, data):
    """Each text's pixel boxes are scaled by its own image / resized size, exactly as one schema per
    image would scale them; parse and parse_objects agree."""
    resized = vr.qwen_resized_size(np.array(sizes)).reshape(-1, 2)
    boxes = [[data.draw(st.integers(0, int(r[0]))), data.draw(st.integers(0, int(r[1]))), data.draw(st.integers(0, int(r[0]))),
              data.draw(st.integers(0, int(r[1])))] for r in resized]
    texts = [json.dumps([{"bbox_2d": b, "label": "x"}]) for b in boxes]
    schema = vr.Schema.qwen25vl_2d()
    many = vr.parse_objects(texts, schema, array="numpy", image_size=sizes, resized_size=resized)
    one = vr.parse(texts, schema, array="numpy", image_size=sizes, resized_size=resized)
    for i, (size, r) in enumerate(zip(sizes, resized)):
        own = vr.Schema.qwen25vl_2d(image_size=size, resized_size=tuple(float(v) for v in r))
        want = vr.parse([texts[i]], own, array="numpy").values["bbox_2d"][0]
        np.testing.assert_array_equal(many.values["bbox_2d"][i, 0], want)
        np.testing.assert_array_equal(one.values["bbox_2d"][i], want)
    # one (W, H) for every text equals the schema's own frame
    same = vr.parse(texts, schema, array="numpy", image_size=(640, 480), resized_size=(644, 476))
    own = vr.parse(texts, vr.Schema.qwen25vl_2d((640, 480), (644, 476)), array="numpy")
    np.testing.assert_array_equal(same.values["bbox_2d"], own.values["bbox_2d"])


def test_frames_per_text_misuse():
    schema = vr.Schema.qwen25vl_2d()
    with pytest.raises(ValueError, match="both"):
        vr.parse(["{}"], schema, image_size=(10, 10))
    with pytest.raises(ValueError, match="resized_size"):
        vr.parse(["{}", "{}"], schema, image_size=(10, 10), resized_size=[[1, 1]])
    with pytest.raises(ValueError, match="image_size"):
        vr.parse_objects(["{}"], schema, image_size=(0, 10), resized_size=(1, 1))
    with pytest.raises(ValueError, match="pixels"):
        vr.parse(["{}"], vr.Schema([vr.Field("b", "box2d", frame="raw")]), image_size=(10, 10), resized_size=(10, 10))


def test_frames_per_text_rotated_boxes():
    f = lambda **kw: vr.Schema([vr.Field("rbox", "box2d", frame="pixels", layout="center_size_angles", seq="z", **kw)])
    texts = ['{"rbox": [100, 50, 40, 20, 0.5]}', '{"rbox": [10, 20, 30, 40, -1.0]}']
    sizes, resized = [(1000, 500), (300, 600)], [(500, 250), (600, 300)]
    got = vr.parse(texts, f(), array="numpy", image_size=sizes, resized_size=resized).values["rbox"]
    for i in range(2):
        want = vr.parse([texts[i]], f(image_size=sizes[i], resized_size=resized[i]), array="numpy").values["rbox"][0]
        np.testing.assert_array_equal(got[i], want)
    assert got[0].tolist() == [200, 100, 80, 40, 0.5] and got[1].tolist() == [5, 40, 15, 80, -1.0]
