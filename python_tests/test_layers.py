"""The package's layers (pyproject.toml, [tool.importlinter]) hold: import-linter's own check passes
on the checkout, fails when a module imports upwards, and every module of the package is in a
layer and in the README's layout section (so neither picture can drift)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"


def _layers() -> list:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    contract = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]
    assert contract["type"] == "layers" and contract["containers"] == ["verireward"]
    return [name.strip() for layer in contract["layers"] for name in re.split(r"[|:]", layer)]


def _modules() -> set:
    """Every module and subpackage directly under verireward/ (the facade __init__ and the compiled
    module aside)."""
    pkg = ROOT / "verireward"
    names = {p.stem for p in pkg.glob("*.py") if p.stem != "__init__"}
    names |= {p.name for p in pkg.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    return names


def _lint(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--config", str(folder / "pyproject.toml"), "--no-cache"], cwd=folder,
                          capture_output=True, text=True)


def test_the_layers_hold():
    out = _lint(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 kept, 0 broken" in out.stdout


def test_every_module_is_in_a_layer_and_in_the_readme():
    layers = _layers()
    assert len(layers) == len(set(layers)), "a module is named in two layers"
    assert set(layers) == _modules(), (sorted(_modules() - set(layers)), sorted(set(layers) - _modules()))
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout"):]
    missing = [m for m in layers if not re.search(rf"\b{re.escape(m)}(\.py|/)", layout)]
    assert not missing, f"the README's layout section does not name {missing}"


def test_an_upward_import_breaks_the_contract(tmp_path):
    copy = tmp_path / "tree"
    shutil.copytree(ROOT / "verireward", copy / "verireward", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    assert _lint(copy).returncode == 0
    with open(copy / "verireward" / "_backend.py", "a") as f:
        f.write("\nimport verireward.cli.score  # upwards: the validation layer importing the CLI's scorer\n")
    out = _lint(copy)
    assert out.returncode != 0 and "BROKEN" in out.stdout, out.stdout
