"""The package's layers (pyproject.toml, [tool.importlinter]) hold: import-linter's own check passes
on the checkout and fails when a module imports upwards; every module of the package is in a layer
and on the architecture page (so neither picture can drift); no module imports another's private
name, and no function imports a verireward module (the graph is what the module headers say)."""

from __future__ import annotations

import ast
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


def test_every_module_is_in_a_layer_and_on_the_architecture_page():
    layers = _layers()
    assert len(layers) == len(set(layers)), "a module is named in two layers"
    assert set(layers) == _modules(), (sorted(_modules() - set(layers)), sorted(set(layers) - _modules()))
    page = (ROOT / "docs" / "architecture.md").read_text()
    missing = [m for m in layers if not re.search(rf"`{re.escape(m)}(\.py|/)", page)]
    assert not missing, f"docs/architecture.md does not name the layers {missing}"
    inner = [p for p in (ROOT / "verireward").glob("*/*.py") if p.stem != "__init__"]
    missing = sorted(str(p.relative_to(ROOT)) for p in inner if f"`{p.name}`" not in page)
    assert not missing, f"docs/architecture.md does not name the modules {missing}"


def _sources():
    return sorted(p for p in (ROOT / "verireward").rglob("*.py"))


def test_no_module_imports_a_private_name_of_another():
    """``from verireward.x import _name``: a private helper reached across modules (the compiled
    module ``_C`` and the private modules themselves, ``from verireward import _tiny``, excepted)."""
    found = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("verireward"):
                for alias in node.names:
                    is_module = node.module == "verireward" or alias.name == "_C"
                    if alias.name.startswith("_") and not is_module:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.module}.{alias.name}")
    assert not found, found


def test_no_function_imports_a_verireward_module():
    """Imports inside functions only for optional packages: the package's own graph is at the top."""
    found = []
    for path in _sources():
        for fn in ast.walk(ast.parse(path.read_text())):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                        [a.name for a in node.names] if isinstance(node, ast.Import) else []
                    if any(n == "verireward" or n.startswith("verireward.") for n in names):
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, found


def test_an_upward_import_breaks_the_contract(tmp_path):
    copy = tmp_path / "tree"
    shutil.copytree(ROOT / "verireward", copy / "verireward", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    assert _lint(copy).returncode == 0
    with open(copy / "verireward" / "_backend.py", "a") as f:
        f.write("\nimport verireward.cli.score  # upwards: the validation layer importing the CLI's scorer\n")
    out = _lint(copy)
    assert out.returncode != 0 and "BROKEN" in out.stdout, out.stdout
