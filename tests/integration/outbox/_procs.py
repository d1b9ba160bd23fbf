"""Running the relay and consumer processes of ``_apps`` from tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


class Procs:
    """Starts ``_apps`` processes; kills what is left at the end."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(
        self, *arguments: str, crash_at: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start an ``_apps`` command; ``env``: variables to add (e.g. SAGA_RELAY_DELIVERY)."""
        env = {k: v for k, v in os.environ.items() if k != "SAGA_CRASH_AT"} | (env or {})
        if crash_at:
            env["SAGA_CRASH_AT"] = crash_at
        log = (self.logs / f"{arguments[0]}-{len(self.started)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.outbox._apps", *arguments],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.started.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
        return proc.wait(timeout)

    def cleanup(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)

    def log_of(self, index: int) -> str:
        name = sorted(self.logs.glob(f"*-{index}.log"))
        return name[0].read_text(errors="replace") if name else ""


def is_stopped(pid: int) -> bool:
    """Whether the process is stopped (SIGSTOP, e.g. at a ``:stop`` crash point)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "T"
    except FileNotFoundError:
        return False


@contextmanager
def processes(logs: Path) -> Iterator[Procs]:
    procs = Procs(logs)
    try:
        yield procs
    finally:
        procs.cleanup()
