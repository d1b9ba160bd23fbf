"""Each outbox has an identity, and the relay's progress records carry it: a record written
for another outbox (a database dropped and created again under the same name, two services
whose relays share a name) never marks this outbox's rows published."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from saga.errors import ConfigError
from saga.postgres.connect import engine_for
from saga.postgres.tables import OUTBOX_LANES, upgrade_database
from saga.relay.relay import Relay
from saga.testing import eventually
from tests._saga_cli import assert_one_line_error, env_with_endpoints, run_saga
from tests.integration._kafka import new_topic
from tests.integration.outbox._support import (
    KeyWriter,
    assert_on_topic_exactly,
    outbox_counts,
    wait_until_published,
)

pytestmark = pytest.mark.xdist_group("outbox-identity")

ROWS = 60


@pytest.fixture
def fresh_topic(kafka_bootstrap: str) -> Iterator[str]:
    """A second new topic (the first is ``kafka_topic``), deleted afterwards."""
    with new_topic(kafka_bootstrap, f"test-{uuid.uuid4().hex[:12]}") as name:
        yield name


@contextmanager
def relay_running(url: str, bootstrap: str, name: str) -> Iterator[Relay]:
    relay = Relay(url, bootstrap, name=name, poll_interval=0.2)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield relay
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "relay did not stop"


def write_rows(url: str, topic: str) -> KeyWriter:
    engine = engine_for(url)
    writer = KeyWriter(engine, topic, pad=20)
    for start in range(0, ROWS, 10):
        writer.write([f"k{i % 7}" for i in range(start, start + 10)])
    engine.dispose()
    return writer


def recreate(url: str) -> None:
    """Drop the database and create it again under the same name, then migrate it."""
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database "{parsed.database}" with (force)')
        conn.execute(f'create database "{parsed.database}"')
    upgrade_database(url)


def test_a_recreated_database_gets_every_new_row_published(
    outbox_url: str, kafka_bootstrap: str, kafka_topic: str, fresh_topic: str
) -> None:
    name = f"identity-{uuid.uuid4().hex[:8]}"  # its own progress topic
    first = write_rows(outbox_url, kafka_topic)
    with relay_running(outbox_url, kafka_bootstrap, name):
        wait_until_published(outbox_url, ROWS, timeout=60)
    assert_on_topic_exactly(kafka_bootstrap, kafka_topic, first)

    # Same database name, same relay name, same outbox ids 1..60: another outbox.
    recreate(outbox_url)
    again = write_rows(outbox_url, fresh_topic)
    assert outbox_counts(outbox_url)[1] == 0
    with relay_running(outbox_url, kafka_bootstrap, name):
        wait_until_published(outbox_url, ROWS, timeout=60)
    # Marked rows must have been sent: each new event is on its topic, once, in order.
    assert_on_topic_exactly(kafka_bootstrap, fresh_topic, again)


def test_relays_of_another_name_are_refused_with_one_line(
    outbox_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    # The first relay names the outbox; one of another name would share the lanes' leases
    # without fencing the first one's producers (a hand-over between them duplicates).
    with relay_running(outbox_url, kafka_bootstrap, "first-name") as first:
        eventually(lambda: len(first.lanes) == OUTBOX_LANES, timeout=60, what="lanes held")
    other = Relay(outbox_url, kafka_bootstrap, name="second-name", poll_interval=0.2)
    with pytest.raises(ConfigError, match="relayed under the name 'first-name'"):
        other.run(threading.Event())
    env = env_with_endpoints(tmp_path / "stack", outbox_url, kafka_bootstrap)
    done = run_saga("relay", "--name", "second-name", env=env, timeout=60)
    assert_one_line_error(done, "relayed under the name 'first-name'", "--name first-name")
    # A worker's embedded relay goes by the database's name unless told otherwise.
    default = Relay(outbox_url, kafka_bootstrap, poll_interval=0.2)
    with pytest.raises(ConfigError, match="--relay-name"):
        default.run(threading.Event())
