"""`verireward bench`: a small run agrees, reports every op and writes its JSON; bad arguments fail
clearly. (Timings are never asserted.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from verireward.cli import main
from verireward._bench.runner import DEFAULT_SIZES


def test_bench_quick_run_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(["bench", "--quick", "--repeat", "1", "--python-limit", "300", "--no-progress", "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "agreement check: all implementations agree" in text
    data = json.loads(out.read_text())
    assert data["agreement_errors"] == []
    assert [c["op"] for c in data["cases"]] == list(DEFAULT_SIZES)
    for case in data["cases"]:
        impls = [r["impl"] for r in case["results"]]
        expected = {"grca_pipeline": {"python", "py-prefix"}, "mask_point_patches": {"torch", "memcpy"},
                    "ap_grpo_advantages": {"torch", "memcpy"}, "iou_2d_rotated": {"shapely"}, "iou_3d_oriented": {"shapely"},
                    "pairwise_iou_3d_oriented": {"shapely"}, "iou_3d_oriented_9dof": {"shapely-bev"}, "rpc_oriented": {"torch"}, "match_boxes": {"scipy"},
                    "detection_map": {"python"}, "parse_objects": {"json", "vr-1thread"},
                    "match_boxes_crowded": {"scipy", "vr-1thread"}, "match_boxes_crowded_labels": {"scipy", "vr-1thread"},
                    "detection_map_coco": {"vr-1thread"}}.get(case["op"], {"torch", "python", "memcpy"})
        assert impls[0] == "verireward" and expected <= set(impls)
        for r in case["results"]:
            assert r["seconds"] > 0
    assert "shapely" in [r["impl"] for r in data["cases"][0]["results"]]
    assert data["machine"]["verireward"]["version"]


def test_bench_size_override_and_op_subset(capsys):
    assert main(["bench", "--ops", "iou_3d", "--size", "iou_3d=1000", "--repeat", "1", "--no-progress"]) == 0
    assert "n=1,000" in capsys.readouterr().out


def test_bench_rejects_bad_arguments(capsys):
    assert main(["bench", "--ops", "nonsense", "--no-progress"]) == 2
    assert "unknown op 'nonsense'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--size", "iou_3d=zero"])


def test_console_script_help():
    script = Path(sys.executable).parent / "verireward"  # installed beside the interpreter
    out = subprocess.run([str(script), "bench", "--help"], capture_output=True, text=True, check=True)
    assert "--json FILE" in out.stdout


def test_bench_skips_a_baseline_or_case_whose_package_is_missing(monkeypatch, capsys, tmp_path):
    import verireward._bench.cases as cases

    missing = {"scipy", "tokenizers", "shapely", "orjson", "pycocotools", "faster_coco_eval"}
    monkeypatch.setattr(cases, "_installed", lambda module: module not in missing)
    out = tmp_path / "b.json"
    code = main(["bench", "--ops", "match_boxes,grca_pipeline,iou_2d,parse_objects,detection_map_coco", "--size",
                 "match_boxes=50", "--size", "iou_2d=500", "--size", "parse_objects=20", "--size", "detection_map_coco=20",
                 "--repeat", "1", "--no-progress", "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "skipped baseline scipy of match_boxes: scipy is not installed" in text
    assert "skipped baseline shapely of iou_2d: shapely is not installed" in text
    assert "skipped case grca_pipeline: it needs tokenizers" in text
    assert "skipped baseline orjson of parse_objects: orjson is not installed" in text
    assert "skipped baseline pycocotools of detection_map_coco: pycocotools is not installed" in text
    assert "skipped baseline faster-coco-eval of detection_map_coco: faster_coco_eval is not installed" in text
    data = json.loads(out.read_text())
    assert [c["op"] for c in data["cases"]] == ["match_boxes", "iou_2d", "parse_objects", "detection_map_coco"]
    assert len(data["skipped"]) == 6
    assert [r["impl"] for r in data["cases"][0]["results"]] == ["verireward"]
    assert [r["impl"] for r in data["cases"][2]["results"]] == ["verireward", "vr-1thread", "json"]  # json is stdlib
    assert [r["impl"] for r in data["cases"][3]["results"]] == ["verireward", "vr-1thread"]


def _third_party_imports(path: Path) -> set:
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in {"numpy", "torch", "verireward"}}


def test_bench_extra_installs_every_package_the_bench_imports():
    """`pip install ".[bench]"` must hold every third-party package the bench imports (the README's
    first command died on scipy once), except the peers, which `[peers]` holds; each such import
    must also be guarded by the skip tables."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        pytest.skip("tomllib needs Python 3.11")
    import re

    import verireward._bench.cases as cases

    # the checkout's files (the tests run from a clone; the installed package has no pyproject.toml)
    root = Path(__file__).resolve().parents[1] / "verireward"
    pyproject = root.parent / "pyproject.toml"
    assert pyproject.exists() and (root / "_bench").is_dir(), "the tests run from a checkout"
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    name = lambda req: re.split(r"[<>=!;\[ ]", req, maxsplit=1)[0].lower().replace("-", "_")
    declared = {name(req) for req in extras["bench"]}
    peers = {name(req) for req in extras["peers"]}
    assert peers == {name(p) for p in cases.PEERS}, "[peers] and the bench's PEERS differ"
    declared |= peers
    imported = set().union(*(_third_party_imports(f) for f in (root / "_bench").glob("*.py")))
    imported |= set(cases.CASE_NEEDS.values())  # imported through verireward._tiny
    guarded = set(cases.BASELINE_NEEDS.values()) | set(cases.CASE_NEEDS.values())
    assert imported, "the scan found no third-party import: it is broken"
    assert imported <= declared, f"imported by the bench but not in [bench]: {sorted(imported - declared)}"
    assert imported <= guarded, f"imported by the bench but never skipped when missing: {sorted(imported - guarded)}"
