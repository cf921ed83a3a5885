"""The documentation is true: the docs site builds with warnings as errors, and every code block of
the README and of the docs pages runs, each page's blocks in order in one namespace.

A Python block runs statement by statement; an expression whose comment shows ``tensor([...])`` (or
numpy's ``array([...])``) is evaluated and compared with what it shows. A ``bash`` block in a guide
runs in a fresh folder with this interpreter's ``bin`` first on PATH (``.venv/bin/`` prefixes are
read as that folder). Blocks that a page hides in an HTML comment (``<!-- ... -->``: its setup, a
tiny model) run too, where they stand. A page that says ``<!-- needs: pkg -->`` is skipped, with the
reason, when ``pkg`` does not import (the verl page runs in CI's verl environment). The README's two set-up commands (and the install page's
copy of them) are what CI runs as written, so they are not run here again."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
SETUP_PAGES = {ROOT / "README.md", DOCS / "install.md"}  # their bash blocks are the set-up commands CI runs
BLOCK = re.compile(r"^```(?P<lang>python|bash)\n(?P<code>.*?)^```", re.S | re.M)
NEEDS = re.compile(r"<!-- needs: ([\w.]+) -->")


def blocks(page: Path):
    """(lang, code) for each block of the page, in order."""
    for m in BLOCK.finditer(page.read_text()):
        yield m.group("lang"), m.group("code")


def missing_packages(page: Path) -> list:
    return [pkg for pkg in NEEDS.findall(page.read_text()) if importlib.util.find_spec(pkg) is None]


def run_python(code: str, env: dict) -> int:
    """Runs a block statement by statement (a statement may span lines); returns how many shown
    values it checked."""
    checked = 0
    pending = ""
    for line in code.splitlines():
        pending += line + "\n"
        try:
            tree = ast.parse(pending)
        except SyntaxError:
            continue  # an unfinished statement: read on
        stmt, pending = pending, ""
        last = stmt.strip().splitlines()[-1] if stmt.strip() else ""
        m = re.match(r"^(?P<code>[^#]*?)\s*#[^#]*?(?P<shown>(?:tensor|array)\(\[[-\[\]\d.,\s\w]*?\]\))", last)
        if m and len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr) and "\n" not in stmt.strip():
            got = eval(m.group("code"), env)  # noqa: S307 - our own docs
            words = re.findall(r"-?\d+(?:\.\d*)?(?:e-?\d+)?|nan|True|False", m.group("shown"))
            shown = [{"True": 1.0, "False": 0.0}.get(v) if v in ("True", "False") else float(v) for v in words]
            values = got.reshape(-1).tolist()
            assert len(values) == len(shown), stmt
            for g, s in zip(values, shown):
                assert (g != g and s != s) or g == pytest.approx(s, abs=1e-4), stmt
            checked += 1
        else:
            exec(compile(stmt, "<docs>", "exec"), env)  # noqa: S102
    assert pending.strip() == "", pending
    return checked


def run_bash(code: str, cwd: Path) -> None:
    bindir = str(Path(sys.executable).parent)
    code = code.replace(".venv/bin/", bindir + "/")
    env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, f"{code}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_code_block_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    monkeypatch.syspath_prepend(str(Path(__file__).parent))  # hidden setup blocks may use the tests' tiny builders
    missing = missing_packages(page)
    if missing:
        why = f"{page.name} needs {', '.join(missing)}, which is not installed"
        if os.environ.get("VERIREWARD_REQUIRE_DOCS_PACKAGES"):  # CI's verl environment: the verl page must run
            pytest.fail(why)
        pytest.skip(why)
    env: dict = {"__name__": "__docs__"}
    with warnings.catch_warnings():
        if NEEDS.search(page.read_text()):  # a trainer's page: TRL and verl warn about their own deprecations
            for category in (FutureWarning, DeprecationWarning, UserWarning):
                warnings.filterwarnings("ignore", category=category)
        for lang, code in blocks(page):
            if lang == "python":
                run_python(code, env)
            elif page not in SETUP_PAGES:
                run_bash(code, tmp_path)


def test_the_readme_shows_values_that_are_checked():
    """The README's examples assert what they show: at least one shown value per example block."""
    env: dict = {}
    checked = sum(run_python(code, env) for lang, code in blocks(ROOT / "README.md") if lang == "python")
    assert checked >= 3, checked


def sphinx_build() -> Path:
    if sys.version_info < (3, 11):
        pytest.skip("the docs tools (Sphinx 8+, MyST) need Python >= 3.11")
    sphinx = Path(sys.executable).parent / "sphinx-build"
    assert sphinx.exists(), "sphinx is part of the [test] extra (and the [docs] extra): install it"
    return sphinx


def test_the_docs_build_with_warnings_as_errors(tmp_path):
    sphinx = sphinx_build()
    out = subprocess.run([str(sphinx), "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(tmp_path / "html")],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    index = (tmp_path / "html" / "index.html").read_text()
    assert "verireward" in index
    api = (tmp_path / "html" / "api.html").read_text()
    import verireward as vr

    missing = [n for n in vr.__all__ if n != "__version__" and f'id="verireward.{n}"' not in api]
    assert not missing, f"the API reference does not document {missing}"


def test_a_broken_reference_fails_the_build(tmp_path):
    """The build really runs with -W: a page linking to a missing document fails it."""
    copy = tmp_path / "docs"
    shutil.copytree(DOCS, copy, ignore=shutil.ignore_patterns("_build"))
    (tmp_path / "verireward").mkdir()
    shutil.copy(ROOT / "verireward" / "SEMANTICS.md", tmp_path / "verireward" / "SEMANTICS.md")  # the included pages
    shutil.copy(ROOT / "CHANGELOG.md", tmp_path / "CHANGELOG.md")
    (copy / "guides" / "trl.md").write_text((copy / "guides" / "trl.md").read_text() + "\n{doc}`no-such-page`\n")
    sphinx = sphinx_build()
    out = subprocess.run([str(sphinx), "-W", "--keep-going", "-q", "-b", "html", str(copy), str(tmp_path / "html")],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode != 0 and "no-such-page" in out.stderr
