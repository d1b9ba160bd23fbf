"""Size limits that agree: an event whose Kafka record the producer or its topic would
refuse is refused as it is written (in the business transaction, nothing written), never
accepted and then refused by the relay, where it would hold back every later event of its
key. The size counted is an upper bound: a record of exactly the limit reaches the topic."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from saga.contracts.envelope import Envelope
from saga.errors import PayloadTooLarge
from saga.kafka.admin import record_limits
from saga.postgres.outbox import Outbox, record_size
from saga.postgres.relay_store import read_pending
from saga.postgres.tables import OUTBOX_LANES
from saga.settings import Settings
from tests.integration._kafka import new_topic
from tests.integration.outbox._support import (
    KeyWriter,
    Ticked,
    outbox_counts,
    pg,
    read_topic,
    serializer,
    wait_until_published,
)
from tests.integration.outbox.conftest import RelayFactory

pytestmark = pytest.mark.integration

TOPIC_LIMIT = 4096


@pytest.fixture
def small_topic(kafka_bootstrap: str) -> Iterator[str]:
    """A topic that takes records of at most TOPIC_LIMIT bytes."""
    name = f"test-small-{uuid.uuid4().hex[:12]}"
    limit = {"max.message.bytes": str(TOPIC_LIMIT)}
    with new_topic(kafka_bootstrap, name, partitions=1, config=limit) as topic:
        yield topic


def ticked(pad: int, key: str = "k") -> tuple[Ticked, Envelope]:
    event = Ticked(key=key, n=0, pad="x" * pad)
    return event, Envelope.new(event, correlation_id=key, producer="test-writer")


def sized(outbox_topic: str, size: int) -> tuple[Ticked, Envelope]:
    """An event whose Kafka record counts exactly ``size`` bytes."""
    codec = serializer()
    event, envelope = ticked(0)
    pad = size - record_size(*_parts(codec.encode(event, envelope)))
    for _ in range(8):  # the pad's length prefix (a varint) may take a byte more
        event, envelope = ticked(pad)
        counted = record_size(*_parts(codec.encode(event, envelope)))
        if counted == size:
            return event, envelope
        pad -= counted - size
    raise AssertionError(f"no pad gives a {size}-byte record for {outbox_topic}")


def _parts(encoded: object) -> tuple[bytes, bytes, list[tuple[str, bytes | None]]]:
    return encoded.key, encoded.value, list(encoded.headers)  # type: ignore[attr-defined]


def test_an_event_over_the_producer_limit_is_refused_as_it_is_written(
    engine: Engine, outbox_url: str, kafka_topic: str
) -> None:
    # Under SAGA_MAX_PAYLOAD_BYTES (1,048,576), over librdkafka's message.max.bytes
    # (1,000,000) once the key and headers are counted.
    outbox = Outbox(serializer(), producer="test-writer", topic=kafka_topic)
    event, envelope = ticked(999_950)
    too_large = pytest.raises(PayloadTooLarge, match=r"over the producer's message\.max\.bytes")
    with too_large, Session(engine) as session, session.begin():
        outbox.add(session, event, envelope=envelope)
    assert outbox_counts(outbox_url) == (0, 0, 0)


def test_an_event_over_its_topic_s_limit_is_refused_and_one_at_it_is_published(
    engine: Engine,
    outbox_url: str,
    kafka_bootstrap: str,
    small_topic: str,
    running_relay: RelayFactory,
) -> None:
    limits = record_limits(Settings().kafka_config(kafka_bootstrap), [small_topic, "no-such"])
    assert limits == {small_topic: TOPIC_LIMIT}
    outbox = Outbox(serializer(), producer="test-writer", topic=small_topic, topic_limits=limits)
    over = sized(small_topic, TOPIC_LIMIT + 1)
    with (
        pytest.raises(
            PayloadTooLarge, match=f"over the topic's max.message.bytes of {TOPIC_LIMIT}"
        ),
        Session(engine) as session,
        session.begin(),
    ):
        outbox.add(session, over[0], envelope=over[1])
    assert outbox_counts(outbox_url) == (0, 0, 0)
    # The count is an upper bound: a record of exactly the limit is one Kafka takes.
    at = sized(small_topic, TOPIC_LIMIT)
    with Session(engine) as session, session.begin():
        outbox.add(session, at[0], envelope=at[1])
    running_relay(outbox_url, poll_interval=0.1)
    wait_until_published(outbox_url, 1, timeout=60)
    assert outbox_counts(outbox_url) == (1, 1, 0)  # published, not refused
    assert read_topic(kafka_bootstrap, small_topic, expect=1).event_ids == [str(at[1].event_id)]


def test_a_batch_stops_at_its_byte_budget(
    engine: Engine, outbox_url: str, kafka_topic: str
) -> None:
    # A backlog of large events is read (and published) a budget at a time, not whole.
    writer = KeyWriter(engine, kafka_topic, pad=3000)
    writer.write([f"k{i}" for i in range(10)])
    with pg(outbox_url) as conn:
        lanes = list(range(OUTBOX_LANES))
        every = read_pending(conn, lanes, 100, budget=10**9)
        sizes = [len(r.key) + len(r.value) for r in every]
        assert len(every) == 10
        assert min(sizes) > 3000
        cut = read_pending(conn, lanes, 100, budget=10_000)
        # Rows come while the bytes before them are under the budget.
        before = [sum(sizes[:i]) for i in range(10)]
        assert [r.id for r in cut] == [
            r.id for r, b in zip(every, before, strict=True) if b < 10_000
        ]
        assert 1 < len(cut) < 10
        assert len(read_pending(conn, lanes, 100, budget=1)) == 1  # never none
        assert len(read_pending(conn, lanes, 3, budget=10**9)) == 3  # rows still bound it
