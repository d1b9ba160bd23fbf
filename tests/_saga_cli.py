"""Run the installed ``saga`` executable as a user does: its exit status is what CI sees.

``CliRunner`` sees the code a command raises, not the one the console script passes to the
process; only a subprocess of the real executable shows both.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from saga.testing import eventually

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


def env_with_endpoints(
    stack_dir: Path, database_url: str, kafka_bootstrap: str, **settings: str
) -> dict[str, str]:
    """``clean_env`` naming the database and the broker, as an operator's environment does."""
    return clean_env(
        stack_dir,
        SAGA_DATABASE_URL=database_url,
        SAGA_KAFKA_BOOTSTRAP=kafka_bootstrap,
        **settings,
    )


# Starts the executable with SIGINT at its default, as a terminal's foreground job has it:
# a test session started in the background (``cmd &``) passes SIGINT on as ignored.
_SIGINT_DEFAULT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


@contextmanager
def saga_process(
    *args: str,
    env: dict[str, str],
    cwd: Path = ROOT,
    log: Path | None = None,
    ctrl_c: bool = False,
) -> Iterator[subprocess.Popen[str]]:
    """The executable started for the block, e.g. a command that runs until it is stopped.

    Its output is piped, or written to ``log`` (stderr with stdout) when one is given; a
    process still running at the end of the block is killed. ``ctrl_c``: SIGINT reaches it
    as in a terminal, whatever the test session's own disposition.
    """
    with ExitStack() as files:
        if log is None:
            stdout, stderr = subprocess.PIPE, subprocess.PIPE
        else:
            stdout, stderr = files.enter_context(log.open("wb")), subprocess.STDOUT
        command = [saga_executable(), *args]
        if ctrl_c:
            command = [sys.executable, "-c", _SIGINT_DEFAULT, *command]
        process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            text=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def run_saga(
    *args: str, env: dict[str, str], cwd: Path = ROOT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """One command run to its end, its output captured."""
    with saga_process(*args, env=env, cwd=cwd) as process:
        stdout, stderr = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def first_line(process: subprocess.Popen[str]) -> str:
    """The first line a piped process prints (it waits for it)."""
    assert process.stdout is not None
    return process.stdout.readline()


def assert_exits_on(process: subprocess.Popen[str], sig: signal.Signals, code: int) -> None:
    """A piped process sent ``sig`` exits with ``code`` and prints no traceback."""
    process.send_signal(sig)
    eventually(lambda: process.poll() is not None, timeout=60, what=f"saga exits on {sig.name}")
    assert process.returncode == code
    assert process.stderr is not None
    assert "Traceback" not in process.stderr.read()


def wait_until_logged(process: subprocess.Popen[str], log: Path, needle: str, what: str) -> None:
    """Until ``needle`` is in the log of a process that must still be running then."""
    eventually(
        lambda: needle in log.read_text() or process.poll() is not None, timeout=90, what=what
    )
    assert process.poll() is None, log.read_text()[-3000:]


def assert_sigterm_exits_0(process: subprocess.Popen[str], log: Path) -> None:
    """A long-running command stops cleanly on SIGTERM (its log says why if not)."""
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0, log.read_text()[-3000:]


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


def closed_port() -> int:
    """A local port nothing listens on (the socket that found it is closed again)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
