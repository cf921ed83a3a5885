"""The README's example runs, and every value it shows in a `# tensor([...])` comment is what the
code returns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_runs_and_its_comments_are_true():
    text = README.read_text()
    code = re.search(r"## Example\n\n```python\n(.*?)```", text, re.S).group(1)
    env: dict = {}
    checked = 0
    for line in code.splitlines():
        m = re.match(r"^(?P<expr>vr\.\S.*?)\s*#[^#]*?(?P<shown>tensor\(\[[^\]]*\]\))", line)
        if m:
            got = eval(m.group("expr"), env)  # noqa: S307 - our own README
            shown = [float(v) for v in re.findall(r"-?\d+\.\d+|-?\d+\.", m.group("shown"))]
            assert got.tolist() == pytest.approx(shown, abs=1e-4), line
            checked += 1
        else:
            exec(line, env)  # noqa: S102
    assert checked >= 2
