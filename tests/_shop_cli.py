"""Run the shop's programs (``python -m services.demo``, ``python -m services.soak``) as
``make demo`` and ``make soak`` do: a subprocess of this interpreter, its exit status what
the user sees."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests._saga_cli import ROOT


def run_shop(
    program: str, *args: str, env: dict[str, str], cwd: Path = ROOT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m services.<program> ARGS`` run to its end, its output captured."""
    # The checkout on the path, as the editable install has it, whatever the folder.
    env = {**env, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", f"services.{program}", *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
