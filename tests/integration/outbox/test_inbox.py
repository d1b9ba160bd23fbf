"""The inbox consumer against real Kafka and PostgreSQL: dead letters and retention."""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from saga import errors
from saga.contracts.envelope import Envelope, Headers
from saga.contracts.serde import Decoded
from saga.errors import ContractError, RegistryUnavailable
from saga.kafka.dead_letters import dead_letter_id
from saga.observability import tracing as _telemetry
from saga.runtime.inbox_consumer import InboxConsumer, consumer_config
from saga.runtime.loop import _CLEANUP_CHUNK, _CLEANUP_ROUNDS
from saga.testing import eventually
from tests.integration._kafka import new_topic, read_committed_messages
from tests.integration.outbox._apps import EFFECT_DDL, apply_tick
from tests.integration.outbox._support import Ticked, pg, serializer
from tests.integration.outbox._support import applied_by_key as applied
from tests.integration.outbox.conftest import RelayFactory

pytestmark = pytest.mark.integration

PAD = "payload-marker-" * 4
RawHeaders = list[tuple[str, bytes | None]]


@dataclass(frozen=True)
class Sent:
    """One record as produced, and where it landed."""

    key: bytes | None
    value: bytes | None
    headers: RawHeaders
    partition: int
    offset: int

    @property
    def source(self) -> str:
        return f"[{self.partition}]@{self.offset}"


def tick(key: str, n: int) -> tuple[bytes, bytes, RawHeaders, uuid.UUID]:
    """An encoded Ticked event: key, value, headers, event id."""
    event = Ticked(key=key, n=n, pad=PAD)
    envelope = Envelope.new(event, correlation_id=key, producer="test")
    encoded = serializer().encode(event, envelope)
    return encoded.key, encoded.value, list(encoded.headers), encoded.envelope.event_id


def produce(
    bootstrap: str,
    topic: str,
    records: list[tuple[bytes | None, bytes | None, RawHeaders | None]],
    partition: int = 0,
) -> list[Sent]:
    """Produce ``records`` in order to one partition; returns them with their offsets."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    offsets: list[int] = []

    def delivered(error: KafkaError | None, message: Message) -> None:
        assert error is None, error
        offsets.append(message.offset() or 0)

    for key, value, headers in records:
        given = None if headers is None else list[tuple[str, str | bytes | None]](headers)
        producer.produce(
            topic, value, key, partition=partition, headers=given, on_delivery=delivered
        )
    assert producer.flush(30) == 0
    assert len(offsets) == len(records)
    return [
        Sent(key, value, list(headers or []), partition, offset)
        for (key, value, headers), offset in zip(records, offsets, strict=True)
    ]


def good(bootstrap: str, topic: str, key: str, ns: range, partition: int = 0) -> list[Sent]:
    return produce(bootstrap, topic, [tick(key, n)[:3] for n in ns], partition)


class Recorder:
    """A handler that applies ticks (``apply_tick``) and fails when ``fail`` says so."""

    def __init__(self, fail: Callable[[Ticked, int], bool] = lambda event, call: False) -> None:
        self.fail = fail
        self.calls: Counter[tuple[str, int]] = Counter()

    def __call__(self, session: Session, decoded: Decoded) -> None:
        event = decoded.event
        assert isinstance(event, Ticked)
        self.calls[event.key, event.n] += 1
        if self.fail(event, self.calls[event.key, event.n]):
            raise RuntimeError(f"poison {event.key}/{event.n}")
        apply_tick(session, decoded)


class CountingDecoder:
    """The test serializer, counting how often each value was decoded."""

    def __init__(self) -> None:
        self.inner = serializer()
        self.calls: Counter[bytes] = Counter()

    def decode(self, value: bytes, headers: Headers) -> Decoded:
        self.calls[value] += 1
        return self.inner.decode(value, headers)


@pytest.fixture
def group(kafka_topic: str) -> str:
    return f"inbox-{kafka_topic}"


@pytest.fixture
def dead_letter_topic(kafka_bootstrap: str) -> Iterator[str]:
    with new_topic(kafka_bootstrap, f"dlq-{uuid.uuid4().hex[:12]}") as name:
        yield name


@pytest.fixture
def consumers(kafka_bootstrap: str, kafka_topic: str, group: str) -> Iterator[list[Consumer]]:
    """Subscribed inbox consumers made by the test (append), closed at the end."""
    made: list[Consumer] = []
    yield made
    for consumer in made:
        consumer.close()


@pytest.fixture
def make_loop(
    kafka_bootstrap: str,
    kafka_topic: str,
    group: str,
    engine: Engine,
    outbox_url: str,
    consumers: list[Consumer],
) -> Callable[..., InboxConsumer]:
    with pg(outbox_url) as conn:
        conn.execute(EFFECT_DDL)

    def make(handler: Recorder, decoder: object = None, **options: object) -> InboxConsumer:
        consumer = Consumer(consumer_config({"bootstrap.servers": kafka_bootstrap}, group))
        consumer.subscribe([kafka_topic])
        consumers.append(consumer)
        return InboxConsumer(
            consumer,
            sessionmaker(engine),
            decoder or serializer(),  # type: ignore[arg-type]
            group,
            handler,
            poll_timeout=0.2,
            **options,  # type: ignore[arg-type]
        )

    return make


def drain(loop: InboxConsumer, done: Callable[[], bool], timeout: float = 60) -> None:
    """Poll batches until ``done()``."""

    def step() -> bool:
        loop.poll_once()
        return done()

    eventually(step, timeout=timeout, what="consumer caught up")


def applied_count(url: str) -> int:
    """Effects so far; fails as soon as an event was applied twice."""
    return sum(len(ns) for ns in applied(url).values())


@dataclass(frozen=True)
class DeadLetterRow:
    key: bytes
    value: bytes
    headers: RawHeaders
    event_id: uuid.UUID
    event_type: str
    published: bool

    def header(self, name: str) -> bytes | None:
        [value] = [v for n, v in self.headers if n == name]
        return value


def dead_letters(url: str, topic: str) -> list[DeadLetterRow]:
    with pg(url) as conn:
        rows = conn.execute(
            "SELECT key, value, header_names, header_values, event_id, event_type, "
            "published_at IS NOT NULL FROM saga_outbox WHERE topic = %s ORDER BY id",
            (topic,),
        ).fetchall()
    return [
        DeadLetterRow(
            bytes(r[0]),
            bytes(r[1]),
            [(n, None if v is None else bytes(v)) for n, v in zip(r[2], r[3], strict=True)],
            r[4],
            r[5],
            r[6],
        )
        for r in rows
    ]


def handled(url: str, dead_letter_topic: str, *, effects: int, dead: int) -> bool:
    """Whether exactly ``effects`` events were applied and ``dead`` dead-lettered."""
    return applied_count(url) == effects and len(dead_letters(url, dead_letter_topic)) == dead


def added_headers(headers: RawHeaders, original: Sent) -> RawHeaders:
    """The headers a dead letter carries beyond ``original``'s, which it keeps as they were."""
    assert headers[: len(original.headers)] == original.headers
    return headers[len(original.headers) :]


def expected_dead_letter_headers(
    original: Sent, *, error: bytes, topic: str, group: str
) -> RawHeaders:
    """The headers the consumer in ``group`` adds, in order, when it dead-letters
    ``original`` (read from ``topic``) after ``error``."""
    return [
        ("dead-letter-error", error),
        ("dead-letter-source", f"{topic}{original.source}".encode()),
        ("dead-letter-group", group.encode()),
    ]


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offsets (partitions without a commit are left out)."""
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        parts = reader.committed([TopicPartition(topic, p) for p in range(3)], timeout=30)
    finally:
        reader.close()
    return {tp.partition: tp.offset for tp in parts if tp.offset >= 0}


def in_inbox(url: str, group: str, event_id: uuid.UUID) -> bool:
    with pg(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM saga_inbox WHERE consumer_group = %s AND event_id = %s",
            (group, event_id),
        ).fetchone()
    return row is not None and row[0] == 1


@pytest.mark.parametrize("attempts", [1, 3])
def test_a_poison_event_is_dead_lettered_and_the_partition_goes_on(
    attempts: int,
    outbox_url: str,
    kafka_bootstrap: str,
    kafka_topic: str,
    dead_letter_topic: str,
    group: str,
    make_loop: Callable[..., InboxConsumer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="saga.inbox")
    sent = good(kafka_bootstrap, kafka_topic, "order-1", range(6))
    good(kafka_bootstrap, kafka_topic, "order-2", range(3), partition=1)
    poison = sent[3]
    handler = Recorder(lambda event, _: (event.key, event.n) == ("order-1", 3))
    loop = make_loop(handler, dead_letter_topic=dead_letter_topic, attempts=attempts)

    drain(loop, lambda: handled(outbox_url, dead_letter_topic, effects=8, dead=1))
    assert applied(outbox_url) == {"order-1": [0, 1, 2, 4, 5], "order-2": [0, 1, 2]}
    assert handler.calls["order-1", 3] == attempts

    [row] = dead_letters(outbox_url, dead_letter_topic)
    poison_id = Envelope.from_headers(poison.headers).event_id
    assert (row.key, row.value, row.event_id) == (poison.key, poison.value, poison_id)
    assert row.event_type == "test.outbox.Ticked"
    assert added_headers(row.headers, poison) == expected_dead_letter_headers(
        poison, error=b"RuntimeError: poison order-1/3", topic=kafka_topic, group=group
    )
    assert in_inbox(outbox_url, group, poison_id), "a redelivery would not be skipped"
    # The offsets are past every event: a new consumer of the group gets nothing more.
    assert committed(kafka_bootstrap, group, kafka_topic) == {0: 6, 1: 3}

    lines = [r for r in caplog.records if "dead-lettered" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].levelno == logging.ERROR
    assert f"{kafka_topic}{poison.source}" in lines[0].getMessage()
    assert all(PAD[:15] not in r.getMessage() for r in caplog.records), "payload in the logs"


def test_undecodable_messages_are_dead_lettered_at_once(
    outbox_url: str,
    kafka_bootstrap: str,
    kafka_topic: str,
    dead_letter_topic: str,
    group: str,
    make_loop: Callable[..., InboxConsumer],
) -> None:
    key, value, headers, event_id = tick("a", 1)
    garbled = [(n, b"not-a-uuid" if n == "event-id" else v) for n, v in headers]
    sent = produce(
        kafka_bootstrap,
        kafka_topic,
        [
            tick("a", 0)[:3],
            (key, b"\x00garbage", [*headers, ("note", None)]),  # envelope fine, value not
            (key, value, garbled),  # value fine, envelope not
            (None, None, None),  # no key, no value, no headers
            tick("a", 2)[:3],
        ],
    )
    decoder = CountingDecoder()
    handler = Recorder()
    loop = make_loop(handler, decoder, dead_letter_topic=dead_letter_topic, attempts=5)

    drain(loop, lambda: handled(outbox_url, dead_letter_topic, effects=2, dead=3))
    assert applied(outbox_url) == {"a": [0, 2]}
    assert set(decoder.calls.values()) == {1}, "an undecodable message was tried again"
    assert set(handler.calls) == {("a", 0), ("a", 2)}

    rows = dead_letters(outbox_url, dead_letter_topic)
    assert [r.event_id for r in rows] == [
        event_id,
        dead_letter_id(kafka_topic, 0, sent[2].offset),
        dead_letter_id(kafka_topic, 0, sent[3].offset),
    ]
    assert [(r.key, r.value) for r in rows] == [(key, b"\x00garbage"), (key, value), (b"", b"")]
    assert [r.event_type for r in rows] == ["test.outbox.Ticked", "test.outbox.Ticked", ""]
    for row, original in zip(rows, sent[1:4], strict=True):
        assert [n for n, _ in added_headers(row.headers, original)] == [
            "dead-letter-error",
            "dead-letter-source",
            "dead-letter-group",
        ]
        assert row.header("dead-letter-source") == f"{kafka_topic}{original.source}".encode()
        error = row.header("dead-letter-error")
        assert error is not None
        kind, _, _ = error.decode().partition(":")
        assert kind.startswith("saga.errors."), error
        assert issubclass(getattr(errors, kind.removeprefix("saga.errors.")), ContractError)
    for row in rows:
        assert in_inbox(outbox_url, group, row.event_id)
    assert committed(kafka_bootstrap, group, kafka_topic) == {0: 5}


def test_a_handler_that_fails_once_is_applied_not_dead_lettered(
    outbox_url: str,
    kafka_bootstrap: str,
    kafka_topic: str,
    dead_letter_topic: str,
    group: str,
    make_loop: Callable[..., InboxConsumer],
) -> None:
    good(kafka_bootstrap, kafka_topic, "a", range(4))
    handler = Recorder(lambda event, call: event.n == 1 and call == 1)
    loop = make_loop(handler, dead_letter_topic=dead_letter_topic, attempts=3)

    drain(loop, lambda: applied_count(outbox_url) == 4)
    assert applied(outbox_url) == {"a": [0, 1, 2, 3]}
    assert handler.calls["a", 1] == 2
    assert dead_letters(outbox_url, dead_letter_topic) == []
    assert committed(kafka_bootstrap, group, kafka_topic) == {0: 4}


def test_without_a_dead_letter_topic_a_failing_event_stops_the_consumer(
    outbox_url: str,
    kafka_bootstrap: str,
    kafka_topic: str,
    group: str,
    make_loop: Callable[..., InboxConsumer],
) -> None:
    good(kafka_bootstrap, kafka_topic, "a", range(4))
    handler = Recorder(lambda event, _: event.n == 2)
    loop = make_loop(handler)

    with pytest.raises(RuntimeError, match="poison a/2"):
        drain(loop, lambda: False)
    assert applied(outbox_url) == {"a": [0, 1]}
    assert committed(kafka_bootstrap, group, kafka_topic) == {0: 2}
    with pg(outbox_url) as conn:
        assert conn.execute("SELECT count(*) FROM saga_outbox").fetchone() == (0,)


def test_the_relay_publishes_a_dead_letter_exactly_once(
    outbox_url: str,
    kafka_bootstrap: str,
    kafka_topic: str,
    dead_letter_topic: str,
    group: str,
    make_loop: Callable[..., InboxConsumer],
    running_relay: RelayFactory,
) -> None:
    running_relay(outbox_url, poll_interval=0.2)
    sent = good(kafka_bootstrap, kafka_topic, "a", range(3))
    handler = Recorder(lambda event, _: event.n == 1)
    loop = make_loop(handler, dead_letter_topic=dead_letter_topic, attempts=2)

    drain(loop, lambda: applied_count(outbox_url) == 2)
    eventually(
        lambda: [r.published for r in dead_letters(outbox_url, dead_letter_topic)] == [True],
        what="dead letter published",
    )
    [record] = read_committed_messages(kafka_bootstrap, dead_letter_topic, expect=1)
    assert record.key() == sent[1].key
    assert record.value() == sent[1].value
    headers = record.headers() or []
    assert isinstance(headers, list)
    assert dict(added_headers(headers, sent[1])) == dict(
        expected_dead_letter_headers(
            sent[1], error=b"RuntimeError: poison a/1", topic=kafka_topic, group=group
        )
    )


def inbox_rows(url: str) -> Counter[tuple[str, bool]]:
    """(group, older than an hour) -> rows."""
    with pg(url) as conn:
        rows = conn.execute(
            "SELECT consumer_group, processed_at < now() - interval '1 hour', count(*) "
            "FROM saga_inbox GROUP BY 1, 2"
        ).fetchall()
    return Counter({(g, old): n for g, old, n in rows})


def add_inbox_rows(url: str, group: str, count: int, *, age: str) -> None:
    with pg(url) as conn:
        conn.execute(
            "INSERT INTO saga_inbox (consumer_group, event_id, processed_at) "
            "SELECT %s, gen_random_uuid(), now() - %s::interval FROM generate_series(1, %s)",
            (group, age, count),
        )


@pytest.fixture
def running(consumers: list[Consumer]) -> Iterator[Callable[[InboxConsumer], None]]:
    """Runs consumers' ``run`` on threads; stops them at the end of the test."""
    started: list[tuple[threading.Event, threading.Thread]] = []
    failures: list[BaseException] = []

    def start(loop: InboxConsumer) -> None:
        stop = threading.Event()

        def body() -> None:
            try:
                loop.run(stop)
            except BaseException as exc:  # reported by the fixture
                failures.append(exc)

        thread = threading.Thread(target=body, daemon=True)
        thread.start()
        started.append((stop, thread))

    yield start
    for stop, thread in started:
        stop.set()
        thread.join(30)
        assert not thread.is_alive(), "consumer did not stop"
    assert failures == []


def test_the_running_consumer_removes_its_own_old_inbox_rows_only(
    outbox_url: str,
    group: str,
    make_loop: Callable[..., InboxConsumer],
    running: Callable[[InboxConsumer], None],
) -> None:
    add_inbox_rows(outbox_url, "other", 5, age="3 hours")
    add_inbox_rows(outbox_url, group, 7, age="10 minutes")
    running(make_loop(Recorder(), retention=timedelta(hours=1), cleanup_interval=0.1))
    add_inbox_rows(outbox_url, group, 50, age="2 hours")  # after its first cleanup, maybe

    eventually(lambda: inbox_rows(outbox_url)[group, True] == 0, what="old rows removed")
    assert inbox_rows(outbox_url) == {("other", True): 5, (group, False): 7}


def test_a_long_backlog_is_removed_in_bounded_rounds(
    outbox_url: str,
    group: str,
    make_loop: Callable[..., InboxConsumer],
    running: Callable[[InboxConsumer], None],
) -> None:
    per_call = _CLEANUP_CHUNK * _CLEANUP_ROUNDS
    add_inbox_rows(outbox_url, group, per_call + 123, age="2 days")
    loop = make_loop(Recorder(), retention=timedelta(days=1))
    assert loop.cleanup() == per_call
    assert loop.cleanup() == 123
    assert loop.cleanup() == 0

    # run() goes on after the next batch while a round was full, not a whole interval later.
    add_inbox_rows(outbox_url, group, per_call + 5, age="2 days")
    running(loop)  # interval: the default minute, longer than the wait below
    eventually(lambda: inbox_rows(outbox_url)[group, True] == 0, what="backlog removed")


def test_retention_none_keeps_every_row(
    outbox_url: str,
    kafka_bootstrap: str,
    kafka_topic: str,
    group: str,
    make_loop: Callable[..., InboxConsumer],
    running: Callable[[InboxConsumer], None],
) -> None:
    add_inbox_rows(outbox_url, group, 3, age="400 days")
    running(make_loop(Recorder(), retention=None, cleanup_interval=0.1))
    good(kafka_bootstrap, kafka_topic, "a", range(2))
    # Once it applied events it has looped past several cleanup intervals.
    eventually(lambda: applied_count(outbox_url) == 2, what="events applied")
    assert inbox_rows(outbox_url)[group, True] == 3


class RegistryAwayFor:
    """The test serializer behind a schema registry that is away for the first ``calls``."""

    def __init__(self, calls: int) -> None:
        self.inner = serializer()
        self.left = calls

    def decode(self, value: bytes, headers: Headers) -> Decoded:
        if self.left > 0:
            self.left -= 1
            raise RegistryUnavailable("schema registry at http://registry:8081 is not answering")
        return self.inner.decode(value, headers)


def test_a_statement_timeout_is_the_handler_s_failure_not_an_outage(
    outbox_url: str,
    kafka_bootstrap: str,
    kafka_topic: str,
    dead_letter_topic: str,
    make_loop: Callable[..., InboxConsumer],
) -> None:
    # SQLSTATE 57014 from a handler's slow statement: tried, then dead-lettered, while the
    # partition goes on; waited out as an outage, it would hold the partition for good.
    good(kafka_bootstrap, kafka_topic, "a", range(4))
    calls: Counter[int] = Counter()

    def handler(session: Session, decoded: Decoded) -> None:
        event = decoded.event
        assert isinstance(event, Ticked)
        calls[event.n] += 1
        if event.n == 2:
            session.execute(text("SET LOCAL statement_timeout = '20ms'"))
            session.execute(text("SELECT pg_sleep(2)"))
        apply_tick(session, decoded)

    loop = make_loop(handler, dead_letter_topic=dead_letter_topic, attempts=2)
    drain(loop, lambda: handled(outbox_url, dead_letter_topic, effects=3, dead=1))
    assert applied(outbox_url) == {"a": [0, 1, 3]}
    assert calls[2] == 2
    [row] = dead_letters(outbox_url, dead_letter_topic)
    assert b"QueryCanceled" in (row.header("dead-letter-error") or b"")


def test_a_registry_outage_is_waited_out_never_dead_lettered(
    outbox_url: str,
    kafka_bootstrap: str,
    kafka_topic: str,
    dead_letter_topic: str,
    group: str,
    make_loop: Callable[..., InboxConsumer],
    running: Callable[[InboxConsumer], None],
) -> None:
    good(kafka_bootstrap, kafka_topic, "a", range(6))
    decoder = RegistryAwayFor(calls=5)  # more failures than attempts: no dead letter either way
    running(make_loop(Recorder(), decoder, dead_letter_topic=dead_letter_topic, attempts=2))

    eventually(lambda: applied_count(outbox_url) == 6, timeout=60, what="applied after outage")
    assert decoder.left == 0
    assert applied(outbox_url) == {"a": [0, 1, 2, 3, 4, 5]}
    assert dead_letters(outbox_url, dead_letter_topic) == []
    eventually(
        lambda: committed(kafka_bootstrap, group, kafka_topic) == {0: 6}, what="offsets committed"
    )


def test_the_handler_runs_in_a_process_span_continuing_the_record_s_trace(
    outbox_url: str,
    kafka_bootstrap: str,
    kafka_topic: str,
    make_loop: Callable[..., InboxConsumer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An SDK tracer for the runtime alone: the process's global provider stays the no-op.
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(_telemetry, "tracer", provider.get_tracer("saga"))
    monkeypatch.setattr(_telemetry, "enabled", lambda: True)
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    key, value, headers, _ = tick("a", 0)
    headers = [(k, v) for k, v in headers if k != "traceparent"]
    headers.append(("traceparent", f"00-{trace_id}-{parent}-01".encode()))
    produce(kafka_bootstrap, kafka_topic, [(key, value, headers)])
    seen: list[str | None] = []
    decoded_ids: list[str] = []

    def handler(session: Session, decoded: Decoded) -> None:
        seen.append(_telemetry.current_traceparent())  # what Outbox.add would store
        decoded_ids.append(str(decoded.envelope.event_id))
        apply_tick(session, decoded)

    drain(make_loop(handler), lambda: applied_count(outbox_url) == 1)
    (span,) = exporter.get_finished_spans()
    assert span.name == f"process {kafka_topic}"
    assert span.kind is SpanKind.CONSUMER
    assert span.parent is not None
    assert (span.context.trace_id, span.parent.span_id) == (int(trace_id, 16), int(parent, 16))
    assert dict(span.attributes or {}) == {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": kafka_topic,
        "messaging.destination.partition.id": "0",
        "messaging.kafka.offset": 0,
        "messaging.consumer.group.name": f"inbox-{kafka_topic}",
        # The one consumer loop describes a record alike for workers and inbox consumers.
        "messaging.message.id": decoded_ids[0],
        "saga.event_type": "test.outbox.Ticked",
        "saga.instance_id": "a",
    }
    assert seen == [f"00-{trace_id}-{span.context.span_id:016x}-01"]
