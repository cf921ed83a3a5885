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
    """Runs a README block line by line; an expression whose comment shows `tensor([...])` is
    evaluated and compared with what it shows. Returns how many were checked."""
    env: dict = {}
    checked = 0
    for line in code.splitlines():
        m = re.match(r"^(?P<code>[^#]*?)\s*#[^#]*?(?P<shown>tensor\(\[[^\]]*\]\))", line)
        if m and isinstance(ast.parse(m.group("code")).body[0], ast.Expr):
            got = eval(m.group("code"), env)  # noqa: S307 - our own README
            shown = [float(v) for v in re.findall(r"-?\d+\.\d+|-?\d+\.", m.group("shown"))]
            assert got.reshape(-1).tolist() == pytest.approx(shown, abs=1e-4), line
            checked += 1
        else:
            exec(line, env)  # noqa: S102
    return checked


@pytest.mark.parametrize("section, at_least", [("Example", 3), ("Oriented boxes", 2)])
def test_readme_examples_run_and_their_comments_are_true(section, at_least):
    text = README.read_text()
    code = re.search(rf"## {section}\n\n```python\n(.*?)```", text, re.S).group(1)
    if section == "Oriented boxes":
        code = "import math, torch\nimport verireward as vr\n" + code
    assert run_block(code) >= at_least
