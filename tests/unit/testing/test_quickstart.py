"""The README's quick start runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).parents[3] / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)


def test_the_quick_start_runs_and_its_tests_pass(capsys: pytest.CaptureFixture[str]) -> None:
    section = README.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = python_blocks(section)
    assert len(blocks) == 3
    namespace: dict[str, object] = {"__name__": "quickstart"}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    tests = [obj for name, obj in namespace.items() if name.startswith("test_")]
    assert len(tests) == 2
    for test in tests:
        assert callable(test)
        test()
    assert "refunding ch-o-1" in capsys.readouterr().out
