"""Run the installed ``saga`` executable as a user does: its exit status is what CI sees.

``CliRunner`` sees the code a command raises, not the one the console script passes to the
process; only a subprocess of the real executable shows both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def saga_executable() -> str:
    """The ``saga`` console script installed next to this interpreter."""
    found = shutil.which("saga", path=str(Path(sys.executable).parent))
    assert found is not None, f"no `saga` next to {sys.executable}: run `make .venv/.installed`"
    return found


def clean_env(stack_dir: Path, **settings: str) -> dict[str, str]:
    """The environment without the caller's SAGA_* settings, with a private stack folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAGA_")}
    env["SAGA_STACK_DIR"] = str(stack_dir)
    env["SAGA_STACK_BACKEND"] = "native"  # never probe a Docker engine here
    env.update(settings)
    return env


def run_saga(
    *args: str, env: dict[str, str], cwd: Path = ROOT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [saga_executable(), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    """A framework error: exit 2, one ``error:`` line on stderr, no traceback."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def assert_usage_error(done: subprocess.CompletedProcess[str], needle: str) -> None:
    """A command-line mistake: click's usual exit 2 with its message, no traceback."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr
    assert needle in done.stderr, done.stderr
