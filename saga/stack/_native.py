"""The native stack: a real Kafka broker and PostgreSQL server as local processes."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import psycopg

from saga.errors import StackError
from saga.settings import Settings
from saga.stack._endpoints import (
    Endpoints,
    endpoints_from_state,
    read_state,
    remove_state,
    write_endpoints,
)
from saga.stack._kafka import KafkaNode, find_java, port_open, resolve_jars, round_trip
from saga.stack._postgres import PostgresNode, find_bindir
from saga.stack._process import choose_port, pid_alive, stop_process_group, wait_until

Progress = Callable[[str], None]


@dataclass
class UpResult:
    endpoints: Endpoints
    already_up: bool
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Health:
    kafka_pid: int | None
    kafka_ready: bool
    postgres_pid: int | None
    postgres_ready: bool

    @property
    def ready(self) -> bool:
        return self.kafka_ready and self.postgres_ready


def _database_ready(url: str) -> bool:
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        with psycopg.connect(plain, connect_timeout=3) as conn:
            return conn.execute("select 1").fetchone() == (1,)
    except psycopg.Error:
        return False


# Broker settings for a stack whose broker is frozen for outages (up to two minutes): its
# controller does not fence it when it thaws (see NativeStack.freeze_kafka).
FREEZABLE_BROKER: Mapping[str, str] = MappingProxyType({"broker.session.timeout.ms": "120000"})


class NativeStack:
    """Brings the local broker and database up and down; state lives in ``stack_dir``."""

    def __init__(
        self, settings: Settings, *, broker_properties: Mapping[str, str] | None = None
    ) -> None:
        """``broker_properties`` are added to (and override) the broker's server.properties."""
        self.settings = settings
        self.dir = settings.stack_dir
        self.kafka = KafkaNode(self.dir, broker_properties)
        self.postgres = PostgresNode(self.dir)

    def health(self) -> Health | None:
        state = read_state(self.dir)
        if state is None or state.get("backend") != "native":
            return None
        endpoints = endpoints_from_state(state)
        kafka_pid = state.get("kafka_pid")
        kafka_ready = False
        if pid_alive(kafka_pid) and port_open(int(state["kafka_port"])):
            try:
                round_trip(endpoints.kafka_bootstrap, {}, timeout=10)
                kafka_ready = True
            except StackError:
                kafka_ready = False
        pg_pid = self.postgres.running_pid()
        pg_ready = pid_alive(pg_pid) and _database_ready(endpoints.database_url)
        return Health(kafka_pid, kafka_ready, pg_pid, pg_ready)

    def up(self, *, timeout: float = 180.0, progress: Progress = lambda _: None) -> UpResult:
        state = read_state(self.dir)
        if state is not None and state.get("backend") == "native":
            health = self.health()
            if health is not None and health.ready:
                return UpResult(endpoints_from_state(state), already_up=True)
            progress("a previous stack is not healthy: restarting it (data is kept)")
            self.down()
        # Everything that can be missing is checked before anything starts.
        find_java()
        resolve_jars()
        find_bindir()
        try:
            return self._start(timeout, progress)
        except BaseException:
            self.down()  # never leave half a stack running
            raise

    def _start(self, timeout: float, progress: Progress) -> UpResult:
        timings: dict[str, float] = {}
        started = time.monotonic()
        taken: set[int] = set()
        s = self.settings
        pg_port = choose_port(
            s.stack_postgres_port or 5432,
            explicit=s.stack_postgres_port is not None,
            setting="SAGA_STACK_POSTGRES_PORT",
            taken=taken,
        )
        kafka_port = choose_port(
            s.stack_kafka_port or 9092,
            explicit=s.stack_kafka_port is not None,
            setting="SAGA_STACK_KAFKA_PORT",
            taken=taken,
        )
        controller_port = choose_port(
            kafka_port + 1, explicit=False, setting="SAGA_STACK_KAFKA_PORT", taken=taken
        )

        progress(f"starting PostgreSQL on 127.0.0.1:{pg_port}")
        self.postgres.start(pg_port)
        timings["postgres"] = time.monotonic() - started

        progress(f"starting Kafka on 127.0.0.1:{kafka_port} (jars resolved by Maven, cached)")
        kafka_pid = self.kafka.start(kafka_port, controller_port)
        endpoints = Endpoints(
            backend="native",
            kafka_bootstrap=f"127.0.0.1:{kafka_port}",
            database_url=self.postgres.url(pg_port),
        )
        # Written before waiting, so `down` can always find what was started.
        write_endpoints(
            self.dir,
            endpoints,
            {"kafka_pid": kafka_pid, "kafka_port": kafka_port, "postgres_port": pg_port},
        )
        self._wait_for_kafka(kafka_pid, kafka_port, deadline=started + timeout)
        timings["kafka"] = time.monotonic() - started - timings["postgres"]
        progress("checking readiness: produce/consume round trip, select 1")
        timings["round_trip"] = round_trip(endpoints.kafka_bootstrap, {}, timeout=60)
        if not _database_ready(endpoints.database_url):
            raise StackError("PostgreSQL started but `select 1` failed: see `saga stack logs`")
        timings["total"] = time.monotonic() - started
        return UpResult(endpoints, already_up=False, timings=timings)

    def _wait_for_kafka(self, pid: int, port: int, *, deadline: float) -> None:
        def up_or_dead() -> bool:
            return port_open(port) or not pid_alive(pid)

        if not wait_until(up_or_dead, timeout=max(deadline - time.monotonic(), 1.0)):
            raise StackError(
                "Kafka did not open its port in time: see `saga stack logs kafka`, "
                "then `saga stack down` and `up`"
            )
        if not pid_alive(pid):
            raise StackError(
                f"Kafka exited during start-up: see `saga stack logs kafka` ({self.kafka.log})"
            )

    def stop_kafka(self, *, crash: bool = False) -> None:
        """Stop the broker only (SIGTERM its process group); its data and ports are kept.

        ``crash`` kills it (SIGKILL) instead, as a power cut would.

        A single broker that stops or restarts while a transaction is being completed can
        lose that transaction's markers (seen with Kafka 4.4): during a shutdown, and after
        a restart until the broker has registered again, its partitions have no leader, and
        the transaction coordinator drops the markers it cannot deliver as if the partitions
        had been deleted ("Couldn't find leader endpoint ... can be skipped"). The
        transaction stays open in the partition: read_committed readers stop there, and the
        producer's next commit commits it late. Clusters whose partitions have replicas
        elsewhere are not affected. To take the broker away from clients without that,
        use :meth:`freeze_kafka`.
        """
        state = self._native_state()
        pid = state.get("kafka_pid")
        if pid and pid_alive(pid):
            stop_process_group(pid, kill=crash)

    def freeze_kafka(self) -> None:
        """Freeze the broker (SIGSTOP): clients find it unreachable until :meth:`thaw_kafka`.

        An outage as a network cut or a long pause shows it, without the restart that can
        lose transaction markers on a single broker (see :meth:`stop_kafka`). A broker frozen
        longer than its ``broker.session.timeout.ms`` (9 s by default) is fenced by its own
        controller when it thaws, and for that moment its partitions have no leader either:
        give the stack a longer session (``broker_properties``) for longer freezes.
        """
        self._signal_kafka(signal.SIGSTOP)

    def thaw_kafka(self) -> None:
        """Let a frozen broker run again (SIGCONT)."""
        self._signal_kafka(signal.SIGCONT)

    def _signal_kafka(self, sig: signal.Signals) -> None:
        pid = self._native_state().get("kafka_pid")
        if pid is None or not pid_alive(pid):
            raise StackError("Kafka is not running: start it with `saga stack up`")
        os.killpg(int(pid), sig)

    def start_kafka(self, *, timeout: float = 120.0) -> float:
        """Start the broker again on the ports it had; returns the seconds until it was ready.

        For outage tests and operators: the data folder is reused, so topics, committed
        offsets and transactions survive the restart.
        """
        started = time.monotonic()
        state = self._native_state()
        if pid_alive(state.get("kafka_pid")):
            raise StackError("Kafka is still running: stop it first (`NativeStack.stop_kafka`)")
        port = int(state["kafka_port"])
        controller_port = _controller_port(self.kafka.home / "server.properties")
        pid = self.kafka.start(port, controller_port)
        state["kafka_pid"] = pid
        write_endpoints(self.dir, endpoints_from_state(state), _bookkeeping(state))
        self._wait_for_kafka(pid, port, deadline=started + timeout)
        round_trip(
            str(state["kafka_bootstrap"]),
            {},
            timeout=max(timeout - (time.monotonic() - started), 1.0),
        )
        return time.monotonic() - started

    def _native_state(self) -> dict[str, Any]:
        state = read_state(self.dir)
        if state is None or state.get("backend") != "native":
            raise StackError(f"no native stack in {self.dir}: run `saga stack up` first")
        return state

    def down(self) -> list[str]:
        """Stop everything this stack started; returns what was stopped."""
        stopped: list[str] = []
        state = read_state(self.dir) or {}
        pids = {state.get("kafka_pid")} | set(_orphan_brokers(self.kafka.home))
        for pid in pids:
            if pid and pid_alive(pid):
                stop_process_group(pid)
                stopped.append(f"kafka (pid {pid})")
        pg_pid = self.postgres.running_pid()
        if pg_pid is not None:
            if pid_alive(pg_pid):
                self.postgres.stop()
                stopped.append(f"postgres (pid {pg_pid})")
            else:  # stale pid file after a crash; pg_ctl would complain
                with contextlib.suppress(FileNotFoundError):
                    (self.postgres.data / "postmaster.pid").unlink()
        remove_state(self.dir)
        return stopped


def _bookkeeping(state: dict[str, Any]) -> dict[str, Any]:
    """What the state file holds besides the endpoints themselves."""
    return {
        k: v for k, v in state.items() if k not in ("backend", "kafka_bootstrap", "database_url")
    }


def _controller_port(properties: Path) -> int:
    for line in properties.read_text().splitlines():
        if line.startswith("controller.quorum.voters="):
            return int(line.rsplit(":", 1)[1])
    raise StackError(f"{properties} names no controller port: run `saga stack down` then `up`")


def _orphan_brokers(kafka_home: Path) -> list[int]:
    """Brokers started from this stack folder whose pid we lost (e.g. state file removed)."""
    marker = str((kafka_home / "server.properties").resolve())
    found: list[int] = []
    proc = Path("/proc")
    if not proc.exists():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker.encode() in cmdline and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found
