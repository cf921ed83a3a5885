"""Trust: the package as a user meets it. A documented command run from the clone's root works
(the source tree shadows the installed package), the CLI reports its version, the package is
typed, and no install pins torch. Each test failed before its fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import verireward as vr

ROOT = Path(__file__).resolve().parents[1]


def run(args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_a_documented_module_runs_from_the_clones_root():
    out = run(["-c", "import verireward as vr, numpy as np; print(float(vr.iou_2d(np.array([0., 0, 2, 2]), np.array([1., 1, 3, 3]))))"], ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.strip()) == pytest.approx(1 / 7)
    out = run(["-m", "verireward.examples.trl_grca", "--help"], ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "usage" in out.stdout


def test_cli_version():
    out = run(["-m", "verireward.cli", "--version"], "/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"verireward {vr.__version__} (")
    assert "CPU path" in out.stdout


def test_the_package_is_typed():
    assert (Path(vr.__file__).parent / "py.typed").exists()


def test_torch_is_required_without_an_upper_bound():
    from importlib import metadata

    reqs = [r for r in metadata.requires("verireward") if r.split(";")[0].strip().startswith("torch")]
    assert reqs and all("<" not in r.split(";")[0] for r in reqs), reqs
