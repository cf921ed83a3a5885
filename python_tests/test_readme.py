"""The README's example runs, and every value it shows in a `# tensor([...])` comment is what the
code returns."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import torch

README = Path(__file__).resolve().parent.parent / "README.md"


def run_block(code: str) -> int:
    """Runs a README block statement by statement (a statement may span lines); an expression
    whose comment shows `tensor([...])` (or numpy's `array([...])`) is evaluated and compared with what it shows. Returns how
    many were checked."""
    env: dict = {}
    checked = 0
    pending = ""
    for line in code.splitlines():
        pending += line + "\n"
        try:
            tree = ast.parse(pending)
        except SyntaxError:
            continue  # an unfinished statement: read on
        stmt, pending = pending, ""
        m = re.match(r"^(?P<code>[^#]*?)\s*#[^#]*?(?P<shown>(?:tensor|array)\(\[[^\]]*\]\))", stmt.strip().splitlines()[-1] if stmt.strip() else "")
        if m and len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr) and "\n" not in stmt.strip():
            got = eval(m.group("code"), env)  # noqa: S307 - our own README
            shown = [float(v) for v in re.findall(r"-?\d+(?:\.\d*)?|True|False", m.group("shown"))
                     if v not in ("True", "False")] or [float(v == "True") for v in re.findall(r"True|False", m.group("shown"))]
            assert got.reshape(-1).tolist() == pytest.approx(shown, abs=1e-4), stmt
            checked += 1
        else:
            exec(stmt, env)  # noqa: S102
    assert pending.strip() == "", pending
    return checked


@pytest.mark.parametrize("section, at_least", [("Example", 3), ("Many objects per answer", 2), ("Oriented boxes", 4)])
def test_readme_examples_run_and_their_comments_are_true(section, at_least):
    text = README.read_text()
    body = re.search(rf"\n## {section}\n(.*?)\n## ", text, re.S).group(1)
    blocks = re.findall(r"```python\n(.*?)```", body, re.S)  # every block of the section, in order
    code = "\n".join(blocks)
    if section in ("Oriented boxes", "Many objects per answer"):
        code = "import math, torch\nimport verireward as vr\n" + code
    assert run_block(code) >= at_least
