"""Processes and ports of the native stack: start detached, check, stop without leftovers."""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from saga.errors import StackError


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def any_free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def choose_port(preferred: int, *, explicit: bool, setting: str, taken: set[int]) -> int:
    """The preferred port if free, else another free one unless the user asked for this one;
    the port chosen is added to ``taken``."""
    port = preferred
    if port in taken or not port_is_free(port):
        if explicit:
            raise StackError(f"port {port} is busy: free it or choose another one with {setting}")
        while port in taken or not port_is_free(port):
            port = any_free_port()
    taken.add(port)
    return port


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def stop_process_group(pid: int, *, timeout: float = 30.0, kill: bool = False) -> None:
    """SIGTERM the process group led by ``pid``, then SIGKILL what is left after ``timeout``
    (``kill``: SIGKILL at once)."""
    steps = [] if kill else [(signal.SIGTERM, timeout)]
    for sig, wait in [*steps, (signal.SIGKILL, 10.0)]:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
            if sig == signal.SIGTERM:
                os.killpg(pid, signal.SIGCONT)  # a stopped (frozen) group must run to exit
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.1)
    if pid_alive(pid):
        raise StackError(f"process {pid} survived SIGKILL: stop it by hand (kill -9 {pid})")


def start_detached(argv: Sequence[str], *, log: Path, env: dict[str, str] | None = None) -> int:
    """Start ``argv`` in a session of its own (so `down` can stop the whole group); its pid.

    posix_spawn rather than Popen: the server outlives this call, and a Popen object
    dropped while its child runs would warn.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    return os.posix_spawn(
        argv[0],
        list(argv),
        dict(os.environ if env is None else env),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log), flags, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )


def _drop_privileges(user: pwd.struct_passwd) -> Callable[[], None]:
    def drop() -> None:
        os.setgid(user.pw_gid)
        os.initgroups(user.pw_name, user.pw_gid)
        os.setuid(user.pw_uid)

    return drop


def run_checked(
    argv: Sequence[str],
    *,
    what: str,
    fix: str,
    user: pwd.struct_passwd | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600.0,
) -> str:
    """Run a set-up command; on failure raise one StackError naming ``what`` failed and the fix."""
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
            preexec_fn=_drop_privileges(user) if user else None,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise StackError(f"{what} did not finish in {timeout:.0f}s: {fix}") from None
    except OSError as exc:
        raise StackError(f"{what} could not start ({exc.strerror}): {fix}") from None
    if done.returncode != 0:
        lines = [ln for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
        detail = lines[-1].strip() if lines else f"exit code {done.returncode}"
        raise StackError(f"{what} failed ({detail}): {fix}")
    return done.stdout


def cannot_run(argv: Sequence[str], user: pwd.struct_passwd) -> str | None:
    """Why ``user`` cannot run ``argv`` (e.g. a 0700 folder on the way), or None if it can."""
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            preexec_fn=_drop_privileges(user),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "it did not answer within 60s"
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    if done.returncode != 0:
        lines = [ln for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
        return lines[-1].strip() if lines else f"exit code {done.returncode}"
    return None


def wait_until(check: Callable[[], bool], *, timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def unprivileged_user() -> pwd.struct_passwd | None:
    """The user servers run as when we are root (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise StackError(
        "running as root and no 'postgres' or 'nobody' user exists: create one (useradd postgres)"
    )
