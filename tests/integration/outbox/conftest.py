"""Fixtures of the outbox tests: a migrated database, a relay, a private stack to break."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from saga.postgres.tables import upgrade_database
from saga.relay.relay import Relay
from tests.integration.outbox._procs import Procs, processes
from tests.integration.outbox._support import engine_for


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
