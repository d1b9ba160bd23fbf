"""Crash points: armed only by SAGA_CRASH_AT, counted per name."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from saga import _crashpoints

PROGRAM = """
from saga._crashpoints import crash_point
for i in range(5):
    crash_point("other")
    crash_point("here")
    print(i, flush=True)
"""


def run(spec: str | None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin"}
    if spec is not None:
        env["SAGA_CRASH_AT"] = spec
    return subprocess.run(
        [sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, timeout=60
    )


def test_without_the_variable_nothing_happens() -> None:
    result = run(None)
    assert result.returncode == 0
    assert result.stdout.split() == ["0", "1", "2", "3", "4"]


@pytest.mark.parametrize(("spec", "printed"), [("here", []), ("here:3", ["0", "1"])])
def test_the_named_point_kills_at_its_nth_hit(spec: str, printed: list[str]) -> None:
    result = run(spec)
    assert result.returncode == -signal.SIGKILL
    assert result.stdout.split() == printed


def test_parse_reads_count_and_action() -> None:
    assert _crashpoints._parse("relay.after_commit") == ("relay.after_commit", 1, signal.SIGKILL)
    assert _crashpoints._parse("a:4:stop") == ("a", 4, signal.SIGSTOP)
