"""The shop's processes, started the way a user starts them: one ``saga worker`` per service
and the orders API, each with its own database URL and a log file of its own.

Every child runs in its own session (a Ctrl-C in the terminal reaches the demo only, which
then stops them in order) and, on Linux, receives SIGTERM if the demo itself dies, so no
process outlives the run.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import ConsumerGroupState, KafkaException
from confluent_kafka.admin import AdminClient

from saga.errors import ConfigError
from services.common import SERVICES

ROOT = Path(__file__).resolve().parents[2]
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    # Without libc (not Linux), the demo's own clean-up still stops the child.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def saga_command() -> list[str]:
    """The ``saga`` executable installed next to this interpreter."""
    found = shutil.which("saga", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "saga"]


def worker_args(service: str) -> list[str]:
    """How a service's worker starts (here, in docker-compose.yml, in the docs)."""
    return ["worker", f"services.{service}", "--name", service]


def api_args() -> list[str]:
    """How the orders API starts (after the Python interpreter)."""
    return ["-m", "services.orders.api"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Child:
    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    pids: list[int] = field(default_factory=list)  # every process started, in order

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        self.pids.append(self.process.pid)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, lines: int = 5) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


@dataclass
class Shop:
    """The four workers and the API of one demo run."""

    urls: dict[str, str]
    bootstrap: str
    prefix: str
    logs: Path
    copies: int = 1  # processes per service (one consumer group each: they share the work)
    env: dict[str, str] = field(default_factory=dict)  # more variables for every process
    api_port: int = field(default_factory=free_port)
    children: dict[str, Child] = field(default_factory=dict)
    retired: list[Child] = field(default_factory=list)  # removed with remove()

    def __post_init__(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith("SAGA_")}
        base.update(
            SAGA_KAFKA_BOOTSTRAP=self.bootstrap,
            SAGA_SCHEMA_DIR=str(ROOT / "avro"),
            PYTHONUNBUFFERED="1",
        )
        base.update(self.env)
        for service in SERVICES:
            command = [*saga_command(), *worker_args(service), "--topic-prefix", self.prefix]
            env = {**base, "SAGA_DATABASE_URL": self.urls[service]}
            for n in range(1, self.copies + 1):
                name = service if n == 1 else f"{service}-{n}"
                self.children[name] = Child(name, command, env, self.logs / f"{name}.log")
        api = [sys.executable, *api_args(), "--port", str(self.api_port)]
        api += ["--topic-prefix", self.prefix]
        env = {**base, "SAGA_DATABASE_URL": self.urls["orders"]}
        self.children["api"] = Child("api", api, env, self.logs / "api.log")
        for child in self.children.values():
            child.log.write_bytes(b"")

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self) -> None:
        for child in self.children.values():
            child.start()

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the API answers and every worker's consumer group holds its partitions."""
        deadline = time.monotonic() + timeout
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        waiting = set(SERVICES) | {"api"}
        while waiting:
            self.check_alive()
            if "api" in waiting and self._api_answers():
                waiting.discard("api")
            groups = sorted(waiting - {"api"})
            if groups:
                described = admin.describe_consumer_groups(groups)
                for group, future in described.items():
                    try:
                        result = future.result(5)
                    except KafkaException:  # the group may not exist yet
                        continue
                    assigned = [
                        m
                        for m in result.members
                        if any(
                            tp.topic.startswith(self.prefix) for tp in m.assignment.topic_partitions
                        )
                    ]
                    if result.state == ConsumerGroupState.STABLE and len(assigned) >= self.copies:
                        waiting.discard(group)
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"{', '.join(sorted(waiting))} not ready after {timeout:.0f}s: see the logs "
                    f"in {self.logs}"
                )
            time.sleep(0.2)

    def _api_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api_url}/health", timeout=1) as answer:  # noqa: S310
                return bool(answer.status == 200)
        except OSError:
            return False

    def check_alive(self, *, expect_dead: Callable[[str], bool] = lambda _: False) -> None:
        """Raise when a process died that should be running (naming its log)."""
        for child in self.children.values():
            if not child.alive() and not expect_dead(child.name):
                code = child.process.returncode if child.process else None
                raise ConfigError(
                    f"the {child.name} process stopped (exit {code}): see {child.log}:\n"
                    f"{child.tail()}"
                )

    def kill(self, name: str) -> int:
        """SIGKILL one process (no clean-up at all); returns its pid."""
        child = self.children[name]
        pid = child.pid
        os.kill(pid, signal.SIGKILL)
        assert child.process is not None
        child.process.wait(10)
        return pid

    def restart(self, name: str) -> int:
        child = self.children[name]
        child.start()
        return child.pid

    def add_worker(self, service: str) -> str:
        """One more worker of ``service`` (same group: it takes a share of the partitions)."""
        first = self.children[service]
        n = 2
        while f"{service}-{n}" in self.children:
            n += 1
        name = f"{service}-{n}"
        child = Child(name, first.command, first.env, self.logs / f"{name}.log")
        self.children[name] = child
        child.start()
        return name

    def remove(self, name: str, timeout: float = 30) -> int | None:
        """SIGTERM one process and forget it (SIGKILL after ``timeout``); its exit code."""
        child = self.children.pop(name)
        self.retired.append(child)
        if child.process is None:
            return None
        if child.alive():
            child.process.send_signal(signal.SIGCONT)  # a paused process cannot hear SIGTERM
            child.process.send_signal(signal.SIGTERM)
        try:
            return child.process.wait(timeout)
        except subprocess.TimeoutExpired:
            child.process.kill()
            return child.process.wait(10)

    def stop(self, timeout: float = 30) -> dict[str, int | None]:
        """SIGTERM everything, wait; SIGKILL what is still there after ``timeout``."""
        for child in self.children.values():
            if child.alive():
                assert child.process is not None
                child.process.send_signal(signal.SIGCONT)  # harmless unless it was paused
                child.process.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        deadline = time.monotonic() + timeout
        for name, child in self.children.items():
            if child.process is None:
                continue
            try:
                codes[name] = child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                codes[name] = child.process.wait(10)
        return codes
