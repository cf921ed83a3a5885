"""What models write, read by one rule each (SEMANTICS.md, "Parsing", "The answer region", "Many
objects per answer"): a Qwen2-VL reference followed by several boxes labels them all; only a schema
with a 2D box reads box forms, and the bare form only as a fallback; quoted text decodes as JSON and
Python decode it; the final <answer> (never one inside <think>, never an earlier one when the final
is cut off); spans stay right on long non-ASCII text; literals and non-numeric boxes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import verireward as vr

SCHEMA = vr.Schema([vr.Field("bbox_2d", "box2d", frame="pixels"), vr.Field("label", "text")])
REF = "<|object_ref_start|>{}<|object_ref_end|>"
BOX = "<|box_start|>({},{}),({},{})<|box_end|>"


def test_one_reference_labels_every_box_after_it_until_the_next():
    text = (REF.format("birch tree") + BOX.format(530, 351, 602, 516) + BOX.format(176, 106, 232, 160)
            + REF.format("car") + BOX.format(1, 2, 3, 4) + " and " + BOX.format(5, 6, 7, 8))
    r = vr.parse_objects([text], SCHEMA, array="numpy")
    assert r.labels == [["birch tree", "birch tree", "car", "car"]]
    assert r.valid[0, :4, 1].all()
    b, e = r.char_spans[0, 1, 1]  # the inherited label's span is the reference's
    assert text[b:e] == "birch tree"
    b, e = r.object_spans[0, 1]
    assert text[b:e] == BOX.format(176, 106, 232, 160)
    # a correct answer in this form now scores F1 1 (it scored 0.5 when the second box had no label)
    gt = [[[530, 351, 602, 516], [176, 106, 232, 160]]]
    m = vr.match_boxes(r.values["bbox_2d"][:, :2], r.counts.clip(max=2), np.array(gt, dtype=float), [2],
                       pred_labels=[r.labels[0][:2]], gt_labels=[["birch tree", "birch tree"]])
    assert (m.iou[0] == 1).all()


def test_the_bare_form_labels_boxes_after_a_label_alike():
    text = "birch tree(530,351),(602,516)(176,106),(232,160); car(1,2),(3,4), (5,6),(7,8)"
    r = vr.parse_objects([text], SCHEMA, array="numpy")
    assert r.labels == [["birch tree", "birch tree", "car", "car"]]


def test_a_schema_without_a_2d_box_reads_no_box_forms():
    answer = json.dumps([{"bbox_3d": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.0, 0.0, 0.0], "label": "chair"}])
    for prose in ["the chair spans (0.1, 0.2), (0.5, 0.6) ", "<|box_start|>(1,2),(3,4)<|box_end|> "]:
        r = vr.parse_objects([prose + answer], vr.Schema.qwen3vl_3d(), array="numpy")
        assert int(r.n_objects[0]) == 1
        assert r.labels == [["chair"]]


def test_the_bare_form_is_a_fallback_only():
    answer = json.dumps([{"bbox_2d": [10, 20, 30, 40], "label": "cat"}])
    prose = "The cat spans (10, 20), (30, 40). "
    r = vr.parse_objects([prose + answer, prose, prose + "<|box_start|>(1,2),(3,4)<|box_end|>"], SCHEMA, array="numpy")
    assert r.n_objects.tolist() == [1, 1, 1]
    assert r.labels == [["cat"], ["The cat spans"], [None]]
    assert r.values["bbox_2d"][2, 0].tolist() == [1, 2, 3, 4]


# printable text that Python's repr() escapes only as JSON does (\\, \', \n, \t)
LABEL = st.text(alphabet=st.sampled_from(list("ab z.é猫'\"\\\n\t{}[](),:")), max_size=12)


@settings(max_examples=300, deadline=None)
@given(LABEL, st.sampled_from(["json", "python"]))
def test_quoted_labels_decode_as_json_and_python_decode_them(label, quoting):
    written = json.dumps(label, ensure_ascii=False) if quoting == "json" else repr(label)
    assert (json.loads(written) if quoting == "json" else eval(written)) == label  # the peers' decode
    text = "{'bbox_2d': [1, 2, 3, 4], 'label': " + written + "}"
    r = vr.parse_objects([text], SCHEMA, array="numpy")
    assert r.labels == [[label]] and r.text("label") == [[label]]


def test_escaped_double_quotes_in_single_quotes():
    r = vr.parse_objects(["{'bbox_2d': [1, 2, 3, 4], 'label': 'say \\\"hi\\\"'}"], SCHEMA, array="numpy")
    assert r.labels == [['say "hi"']]


def test_a_quoted_label_that_does_not_decode_is_its_inside():
    # a reference's label is not JSON: quoted, it is decoded when it decodes, else kept as written
    r = vr.parse_objects([REF.format('"bad \\q"') + BOX.format(1, 2, 3, 4) + REF.format("'ok \\n'") + BOX.format(1, 2, 3, 4)],
                         SCHEMA, array="numpy")
    assert r.labels == [["bad \\q", "ok \n"]]
    # inside JSON an invalid escape is a grammar error: the object does not parse, so it is not read
    r = vr.parse_objects(['{"bbox_2d": [1, 2, 3, 4], "label": "bad \\q escape"}'], SCHEMA, array="numpy")
    assert r.n_objects.tolist() == [0]


OBJ = '{"bbox_2d": [1, 2, 3, 4], "label": "x"}'
PIECES = ["<think>", "</think>", "<answer>", "</answer>", OBJ, " so ", "\n"]


def answer_region(text):
    """The definition (SEMANTICS.md, "The answer region"), written independently of the scanner."""
    after_think = text.rsplit("</think>", 1)[1] if "</think>" in text else text
    start = len(text) - len(after_think)
    if "<think>" in after_think:
        return None
    if "<answer>" not in after_think:
        return None
    inside = after_think.rsplit("<answer>", 1)[1]
    if "</answer>" not in inside:
        return None  # the final answer was cut off
    b = start + len(after_think) - len(inside)
    return b, b + inside.index("</answer>")


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12))
def test_answer_tag_reads_the_final_answer_only(pieces):
    text = "".join(pieces)
    region = answer_region(text)
    expect = region is not None and OBJ in text[region[0]:region[1]]
    one = vr.parse([text], SCHEMA, array="numpy", answer_tag="answer")
    many = vr.parse_objects([text], SCHEMA, array="numpy", answer_tag="answer")
    assert bool(one.valid[0, 0]) == expect
    assert int(many.n_objects[0]) == (text[region[0]:region[1]].count(OBJ) if region else 0)
    if expect:
        first = text.index(OBJ, region[0])
        assert one.char_spans[0, 0].tolist() == [first + OBJ.index("["), first + OBJ.index("]") + 1]


def test_a_truncated_final_answer_never_falls_back_to_an_earlier_one():
    cases = {
        "<think><answer>" + OBJ + "</answer></think><answer>" + OBJ[:20]: False,  # the docstring's promise
        "<answer>" + OBJ + "</answer> wait, <answer>" + OBJ[:20]: False,
        "<answer>" + OBJ + "</answer><think>more": False,  # reasoning reopened, never closed
        "<think>a</think><answer>" + OBJ + "</answer>": True,
        "<answer>" + OBJ + "</answer>": True,
    }
    got = vr.parse(list(cases), SCHEMA, array="numpy", answer_tag="answer").valid[:, 0].tolist()
    assert got == list(cases.values())


def test_spans_stay_exact_on_long_non_ascii_text():
    objs = [{"bbox_2d": [k, k + 1, k + 2, k + 3], "label": "猫" * (k % 3) + "cat"} for k in range(16_000)]
    text = "答案：" + json.dumps(objs, ensure_ascii=False)
    r = vr.parse_objects([text], SCHEMA, max_objects=16_000, array="numpy")
    assert int(r.n_objects[0]) == 16_000
    for m in (0, 1, 2, 7_999, 15_999):
        b, e = r.object_spans[0, m]
        assert json.loads(text[b:e]) == objs[m]
        b, e = r.char_spans[0, m, 1]
        assert json.loads(text[b:e]) == objs[m]["label"]
    assert r.labels[0] == [o["label"] for o in objs]


@pytest.mark.parametrize("box, box_valid", [("[1, 2, 3, 4]", True), ("[NaN, 2, 3, 4]", False), ("None", False),
                                            ("[1, 2, 3, Infinity]", False), ("[1, 2, 3, -Infinity]", False),
                                            ('"[1, 2, 3, 4]"', False), ("True", False), ("null", False)])
@pytest.mark.parametrize("extra", ["", ', "ok": True', ', "ok": None', ", 'score': NaN", ', "f": false'])
def test_literals_parse_and_non_numeric_boxes_are_invalid_fields(box, box_valid, extra):
    text = 'Found: [{"bbox_2d": ' + box + ', "label": "cat"' + extra + "}]"
    r = vr.parse_objects([text], SCHEMA, array="numpy")
    assert int(r.n_objects[0]) == 1  # the object counts (a false positive when its box is invalid)
    assert bool(r.valid[0, 0, 0]) == box_valid and r.labels == [["cat"]]
    one = vr.parse([text], SCHEMA, array="numpy")
    assert bool(one.valid[0, 0]) == box_valid and bool(one.valid[0, 1])
