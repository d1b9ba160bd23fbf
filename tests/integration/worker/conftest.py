"""A shop scene for the worker's process tests: a fresh database, topics of its own, the
test app's contracts on disk, and workers started as a user starts them (``saga worker``)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from saga.contracts.topics import TopicMap
from saga.engine.hosting import Subscriptions, topic_uses
from saga.kafka.admin import create_topics
from saga.testing import eventually
from tests._saga_cli import saga_executable
from tests.integration.worker import app
from tests.integration.worker._support import (
    ROOT,
    Orders,
    effects_twice,
    follow_instance,
    follow_order,
    group_report,
    illegal_moves,
    prepare_database,
    query,
    statuses,
    stuck_report,
    unique_prefix,
    write_contracts,
)
from tests.sagas.shop import placed

APP = "tests.integration.worker.app"


def order_id_of(i: int) -> str:
    """Order ``i``'s id; every tenth from 3 is fragile (it cannot ship)."""
    return f"o{i}" + ("-fragile" if i % 10 == 3 else "")


def outcome_of(i: int) -> str:
    """Order ``i``'s expected end: every tenth from 3 cannot ship, from 5 is declined."""
    return "compensated" if i % 10 in (3, 5) else "completed"


def _told(report: Callable[..., str], *args: object) -> str:
    """A report for a failure message; its own failure must not hide the first one."""
    try:
        return report(*args)
    except Exception as exc:
        return f"{report.__name__} failed: {exc!r}"


@dataclass
class Scene:
    url: str
    bootstrap: str
    prefix: str
    contracts: Path
    logs: Path
    orders: Orders
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    placed_count: int = 0

    def env(
        self, crash_at: str | None = None, extra: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAGA_")}
        env.update(
            SAGA_DATABASE_URL=self.url,
            SAGA_KAFKA_BOOTSTRAP=self.bootstrap,
            SAGA_SCHEMA_DIR=str(self.contracts),
        )
        if crash_at:
            env["SAGA_CRASH_AT"] = crash_at
        env.update(extra or {})
        return env

    def start(
        self,
        *targets: str,
        name: str = "shop",
        crash_at: str | None = None,
        batch: int = 100,
        env: Mapping[str, str] | None = None,
        options: tuple[str, ...] = (),
    ) -> subprocess.Popen[bytes]:
        """``saga worker`` on the scene's topics, logging to a file of its own (``env``: more
        variables, ``options``: more command-line options)."""
        command = [saga_executable(), "worker", *(targets or (APP,)), "--name", name]
        command += ["--topic-prefix", self.prefix, "--batch-size", str(batch), *options]
        with (self.logs / f"worker-{len(self.workers)}.log").open("wb") as log:
            worker = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env(crash_at, env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.workers.append(worker)
        return worker

    def log(self, worker: subprocess.Popen[bytes], *, whole: bool = False) -> str:
        index = self.workers.index(worker)
        text = (self.logs / f"worker-{index}.log").read_text(errors="replace")
        return text if whole else text[-4000:]

    def stop(self, worker: subprocess.Popen[bytes], timeout: float = 30) -> int:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        return worker.wait(timeout)

    def died(self, worker: subprocess.Popen[bytes], how: signal.Signals) -> None:
        code = eventually(worker.poll, timeout=90, what="the worker reached its crash point")
        assert code == -how, self.log(worker)

    def place(self, count: int, *, flush: bool = True) -> None:
        """``count`` more orders, outcomes mixed as :func:`outcome_of` says (``flush``: wait
        until the broker has them; without, they wait in the producer, e.g. in an outage)."""
        for i in range(self.placed_count, self.placed_count + count):
            order_id = order_id_of(i)
            amount = 2_000_000 if i % 10 == 5 else 500
            self.orders.publish(placed(order_id, amount_cents=amount), order_id)
        self.placed_count += count
        if flush:
            self.orders.flush()

    def ended(self) -> int:
        done = statuses(self.url)
        return done["completed"] + done["compensated"] + done["failed"]

    def wait_all_ended(self, timeout: float = 120, *, exits: tuple[int, ...] = ()) -> None:
        """Every saga placed ended; each worker runs, stopped, was killed or exited ``exits``."""
        for worker in self.workers:
            code = worker.poll()
            assert code in (None, 0, -9, *exits), self.log(worker)
        self.wait_ended(self.placed_count, timeout=timeout)

    def wait_ended(self, count: int, *, timeout: float = 120) -> None:
        """At least ``count`` sagas ended; if not in time, the failure says where they wait."""
        try:
            eventually(
                lambda: self.ended() >= count,
                timeout=timeout,
                interval=0.25,
                what=f"{count} of {self.placed_count} sagas ended",
            )
        except AssertionError as failed:
            # Which part stopped: the sagas' states, the outbox, each worker's last lines.
            logs = "\n".join(f"--- worker {i}:\n{self.log(w)}" for i, w in enumerate(self.workers))
            topics = [self.prefix + "test.shop", self.prefix + "test.tickets"]
            reports = [
                _told(self.missing),
                _told(stuck_report, self.url),
                _told(group_report, self.bootstrap, "shop", topics),
                _told(follow_instance, self.url, self.bootstrap, topics),
            ]
            raise AssertionError(
                f"{failed}; {self.ended()} ended; {'; '.join(reports)}\n{logs}"
            ) from None

    def missing(self) -> str:
        """Orders placed without a saga instance, and what the producer could not deliver."""
        ids = {str(r[0]) for r in query(self.url, "SELECT instance_id FROM saga_instance")}
        placed = {order_id_of(i) for i in range(self.placed_count)}
        lost = sorted(placed - ids)
        told = f"orders without an instance: {lost[:5]} ({len(lost)}); undelivered: " + str(
            self.orders.undelivered[:5]
        )
        if lost:
            topics = [self.prefix + "test.shop", self.prefix + "test.tickets"]
            told += "; " + follow_order(self.url, self.bootstrap, topics, lost[0])
        return told

    def check(self) -> None:
        """Every saga ended as its order says, no effect twice, every history legal."""
        expected = {"completed": 0, "compensated": 0}
        for i in range(self.placed_count):
            expected[outcome_of(i)] += 1
        assert statuses(self.url) == expected
        assert effects_twice(self.url) == []
        assert illegal_moves(self.url, app.OrderSaga.__saga__) == []


def make_scene(url: str, bootstrap: str, folder: Path) -> Scene:
    """A scene on this database and broker: the effect table, topics, contracts on disk."""
    prepare_database(url)
    prefix = unique_prefix()
    subscriptions = Subscriptions.of(
        [app.OrderSaga, app.TicketSaga], [app.inventory, app.payments, app.shipping]
    )
    topics = [*topic_uses(subscriptions, TopicMap(prefix=prefix))]
    topics += [f"{prefix}{name}.dead-letters" for name in ("shop", "tickets", "shipping", "orders")]
    create_topics({"bootstrap.servers": bootstrap}, topics, partitions=3)
    contracts = write_contracts(folder / "avro")
    return Scene(url, bootstrap, prefix, contracts, folder, Orders(bootstrap, prefix, contracts))


@contextmanager
def running(made: Scene) -> Iterator[Scene]:
    """The scene; its workers still running at the end are killed."""
    try:
        yield made
    finally:
        for worker in made.workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait(30)


@pytest.fixture
def scene(fresh_database_url: str, kafka_bootstrap: str, tmp_path: Path) -> Iterator[Scene]:
    with running(make_scene(fresh_database_url, kafka_bootstrap, tmp_path)) as made:
        yield made
