"""Fixtures of the outbox tests: a migrated database, a relay, a private stack to break."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from sqlalchemy.engine import Engine, make_url

from saga.outbox.relay import Relay
from saga.settings import Settings
from saga.stack import NativeStack
from saga.tables import upgrade_database
from tests.integration.outbox._procs import Procs, processes
from tests.integration.outbox._support import engine_for, plain


@pytest.fixture
def outbox_url(fresh_database_url: str) -> str:
    """A new database with the framework's tables, created by the Alembic history."""
    upgrade_database(fresh_database_url)
    return fresh_database_url


RelayFactory = Callable[..., Relay]


@pytest.fixture
def running_relay(kafka_bootstrap: str) -> Iterator[RelayFactory]:
    """Starts in-process relays on a thread; stops them at the end of the test."""
    started: list[tuple[threading.Event, threading.Thread]] = []

    def start(url: str, **options: object) -> Relay:
        relay = Relay(url, kafka_bootstrap, **options)  # type: ignore[arg-type]
        stop = threading.Event()
        thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
        thread.start()
        started.append((stop, thread))
        return relay

    yield start
    for stop, _thread in started:
        stop.set()
    for _, thread in started:
        thread.join(timeout=30)
        assert not thread.is_alive(), "relay did not stop"


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    """Relay and consumer processes of ``_apps``; whatever is left is killed afterwards."""
    with processes(tmp_path) as running:
        yield running


@pytest.fixture
def engine(outbox_url: str) -> Iterator[Engine]:
    """A SQLAlchemy engine on the test database, disposed afterwards."""
    made = engine_for(outbox_url)
    yield made
    made.dispose()


@dataclass
class PrivateStack:
    """A broker and a database server of this module's own, to stop and start at will."""

    stack: NativeStack
    bootstrap: str
    admin_url: str

    def new_database(self) -> str:
        """A new database with the framework's tables on the private server."""
        url = make_url(self.admin_url)
        name = f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(plain(self.admin_url), autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        made = url.set(database=name).render_as_string(hide_password=False)
        upgrade_database(made)
        return made

    def new_topic(self) -> str:
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        name = f"test-{uuid.uuid4().hex[:12]}"
        admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])[name].result(
            30
        )
        return name

    def watermarks(self, topic: str) -> list[tuple[int, int]]:
        """(low, high) offsets of each partition of ``topic``, as a read_committed reader sees."""
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"watermarks-{uuid.uuid4().hex}",
                "isolation.level": "read_committed",
            }
        )
        try:
            return [
                consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)
                for p in range(3)
            ]
        finally:
            consumer.close()

    def restart_postgres(self) -> None:
        """``pg_ctl stop -m immediate`` (a crash: no checkpoint), then start on the same port."""
        port = int(json.loads((self.stack.dir / "endpoints.json").read_text())["postgres_port"])
        self.stack.postgres.stop(mode="immediate")
        self.stack.postgres.start(port)


@pytest.fixture(scope="module")
def private_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateStack]:
    """A Kafka broker and PostgreSQL of this module only: tests may stop them."""
    settings = Settings(
        stack_dir=tmp_path_factory.mktemp("private") / "stack", stack_backend="native"
    )
    stack = NativeStack(settings)
    try:
        endpoints = stack.up().endpoints
        yield PrivateStack(stack, endpoints.kafka_bootstrap, endpoints.database_url)
    finally:
        stack.down()
