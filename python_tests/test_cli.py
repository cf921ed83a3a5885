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
                    "detection_map": {"python"}}.get(case["op"], {"torch", "python", "memcpy"})
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
