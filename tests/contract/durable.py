"""The contract suite's durable runtime: a real worker on Kafka and PostgreSQL.

Each runtime gets a fresh database, its own topics (a prefix, one partition each, so that
events published one after the other are consumed in that order) and a worker on a thread
of the test process (participants' effects are counted in memory, as in the harness). Time
is the database's, shifted by the worker's clock offset: ``advance`` moves it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from saga.contracts.events import Event, contract_of, event_name, registered_events
from saga.contracts.schemas import contracts_of
from saga.contracts.serde import Serializer
from saga.contracts.topics import TopicMap
from saga.definition.participant import Participant
from saga.definition.saga import Saga, definition_of
from saga.engine.hosting import SagaVersions, Subscriptions, topic_uses
from saga.engine.instance import HistoryEntry, Instance
from saga.engine.messages import Message, Operation, new_id
from saga.errors import DefinitionError, SagaError, SignalRefused, UnknownInstanceError
from saga.kafka.admin import create_topics
from saga.kafka.dead_letters import DEAD_LETTER_ERROR
from saga.postgres.connect import psycopg_url
from saga.postgres.signals import queue_operation, send_signal
from saga.postgres.store import DatabaseClock
from saga.postgres.tables import history_table, instance_table, orphan_event_table, upgrade_database
from saga.runtime.worker import Worker
from saga.settings import Settings
from saga.testing import eventually
from saga.testing._memory import OrphanEvent


def serializer() -> Serializer:
    """Every event the test modules declare, with the schema it carries."""
    events = [cls for cls in registered_events().values() if contract_of(cls) is not None]
    return Serializer(Settings(), contracts=contracts_of(events))


class DurableRuntime:
    """The contract suite's ``SagaRuntime`` on a real worker (see the module docstring)."""

    def __init__(
        self,
        sagas: Sequence[type[Saga[Any]]],
        participants: Sequence[Participant],
        *,
        database_url: str,
        kafka_bootstrap: str,
    ) -> None:
        upgrade_database(database_url)
        self.url = psycopg_url(database_url)
        self.engine = create_engine(self.url)
        self.bootstrap = kafka_bootstrap
        self.topics = TopicMap(prefix=f"c{uuid.uuid4().hex[:10]}.")
        self.subscriptions = Subscriptions.of(sagas, participants)
        self.serializer = serializer()
        self.clock = DatabaseClock()
        self.errors: list[BaseException] = []
        self.worker = Worker(
            sagas=sagas,
            participants=participants,
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            topics=self.topics,
            serializer=self.serializer,
            clock=self.clock,
            poll_timeout=0.02,
            timer_interval=0.02,
            attempts=2,
            consumer_options={"fetch.wait.max.ms": 10},
        )
        names = [*topic_uses(self.subscriptions, self.topics), self.worker.dead_letter_topic]
        create_topics({"bootstrap.servers": kafka_bootstrap}, names, partitions=1)
        self.all_topics = names
        self._published_here = 0
        self._dead_seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="durable-worker", daemon=True)
        self._producer = Producer(
            {"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True}
        )
        self._thread.start()

    def _run(self) -> None:
        try:
            self.worker.run(self._stop)
        except BaseException as exc:  # surfaced by drain()
            self.errors.append(exc)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(60)
        assert not self._thread.is_alive(), "the worker did not stop"
        self.engine.dispose()

    # -- input ---------------------------------------------------------------------------

    def publish(
        self, event: Event, *, correlation_id: str | None = None, event_id: str | None = None
    ) -> Message:
        message = Message.new(
            event,
            event_id=event_id or new_id(),
            correlation_id=correlation_id or self._default_correlation(event),
            producer="contract-test",
        )
        encoded = self.serializer.encode(message.event, message.envelope)
        self._producer.produce(
            self.topics.topic_for(message.event_type),
            key=encoded.key,
            value=encoded.value,
            headers=encoded.headers,
        )
        assert self._producer.flush(30) == 0, "the broker did not take the event"
        if self.topics.topic_for(message.event_type) in self.worker.input_topics:
            self._published_here += 1
        return message

    def signal(self, saga: type[Saga[Any]], instance_id: str, name: str) -> bool:
        definition = definition_of(saga)
        if name not in definition.signals:
            raise DefinitionError(f"saga {definition.name} declares no signal {name!r}")
        self.drain()
        try:
            with Session(self.engine) as session, session.begin():
                signal_id = send_signal(session, definition.name, instance_id, name)
        except SignalRefused:
            return False
        self.drain()
        [entry] = [e for e in self.history(saga, instance_id) if e.input_id == signal_id]
        return not entry.note.startswith("ignored")

    def retry(
        self,
        saga: type[Saga[Any]],
        instance_id: str,
        *,
        reason: str,
        by: str = "contract-test",
        step: str | None = None,
    ) -> HistoryEntry:
        return self._operate(saga, instance_id, "retry", by=by, reason=reason, step=step)

    def compensate(
        self, saga: type[Saga[Any]], instance_id: str, *, reason: str, by: str = "contract-test"
    ) -> HistoryEntry:
        return self._operate(saga, instance_id, "compensate", by=by, reason=reason)

    def resume(
        self, saga: type[Saga[Any]], instance_id: str, *, reason: str, by: str = "contract-test"
    ) -> HistoryEntry:
        return self._operate(saga, instance_id, "resume", by=by, reason=reason)

    def _operate(
        self,
        saga: type[Saga[Any]],
        instance_id: str,
        operation: Operation,
        *,
        by: str,
        reason: str,
        step: str | None = None,
    ) -> HistoryEntry:
        """Queued as ``saga sagas ...`` queues it; the worker applies it like a signal."""
        name = definition_of(saga).name
        self.drain()
        with Session(self.engine) as session, session.begin():
            command_id = queue_operation(
                session, name, instance_id, operation, by=by, reason=reason, step=step
            )
        self.drain()
        [entry] = [e for e in self.history(saga, instance_id) if e.input_id == command_id]
        return entry

    def advance(self, delta: timedelta) -> None:
        self.drain()
        self.clock.offset += delta
        self.drain()

    def drain(self) -> int:
        """Wait until nothing is left: outbox published, every topic read by the worker to
        its end, no deadline due and no signal waiting, twice in a row."""
        calm = 0

        def quiet() -> bool:
            nonlocal calm
            if self.errors:
                raise self.errors[0]
            self._raise_dead_letters()
            calm = calm + 1 if self._nothing_left() else 0
            return calm >= 2

        eventually(quiet, timeout=60, interval=0.05, what="the durable runtime drained")
        return 0

    def _raise_dead_letters(self) -> None:
        """A dead letter is the durable form of an error out of the harness's ``drain()``:
        the worker gave up on an input. Raise what its handling raised."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT header_names, header_values FROM saga_outbox "
                    "WHERE topic = :topic ORDER BY id OFFSET :seen"
                ),
                {"topic": self.worker.dead_letter_topic, "seen": self._dead_seen},
            ).all()
        if not rows:
            return
        self._dead_seen += len(rows)
        headers = dict(zip(rows[0][0], rows[0][1], strict=True))
        kind, _, text_ = bytes(headers[DEAD_LETTER_ERROR]).decode().partition(": ")
        error = {"saga.errors.UnknownInstanceError": UnknownInstanceError}.get(kind, SagaError)
        raise error(text_)

    # -- inspection ----------------------------------------------------------------------

    def instance(self, saga: type[Saga[Any]], instance_id: str) -> Instance:
        name = definition_of(saga).name
        with self.engine.connect() as conn:
            snapshot = conn.execute(
                select(instance_table.c.snapshot).where(
                    instance_table.c.saga == name, instance_table.c.instance_id == instance_id
                )
            ).scalar()
        if snapshot is None:
            raise UnknownInstanceError(f"saga {name} has no instance {instance_id!r}")
        return Instance.from_json(snapshot)

    def history(self, saga: type[Saga[Any]], instance_id: str) -> list[HistoryEntry]:
        name = definition_of(saga).name
        self.instance(saga, instance_id)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(history_table.c.entry)
                .where(history_table.c.saga == name, history_table.c.instance_id == instance_id)
                .order_by(history_table.c.seq)
            ).scalars()
            return [HistoryEntry.from_json(raw) for raw in rows]

    def published(
        self, event_type: type[Event] | None = None, *, correlation_id: str | None = None
    ) -> list[Message]:
        self.drain()
        return [
            m
            for m in self._read_all()
            if (event_type is None or type(m.event) is event_type)
            and (correlation_id is None or m.correlation_id == correlation_id)
        ]

    @property
    def orphans(self) -> list[OrphanEvent]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    orphan_event_table.c.consumer,
                    orphan_event_table.c.instance_id,
                    orphan_event_table.c.value,
                    orphan_event_table.c.header_names,
                    orphan_event_table.c.header_values,
                    orphan_event_table.c.reason,
                ).order_by(orphan_event_table.c.id)
            ).all()
        return [
            OrphanEvent(
                r.consumer,
                Message(
                    *self.serializer.decode(
                        r.value, list(zip(r.header_names, r.header_values, strict=True))
                    )
                ),
                r.reason,
                r.instance_id,
            )
            for r in rows
        ]

    # -- internals -----------------------------------------------------------------------

    def _default_correlation(self, event: Event) -> str:
        key = event_name(event)
        for consumer in self.subscriptions.consumers(key):
            if isinstance(consumer, SagaVersions):
                field = consumer.correlation_definition(key).correlation.get(key)
                if field is not None:
                    return str(getattr(event, field))
        return new_id()

    def _nothing_left(self) -> bool:
        """Outbox published, no signal waiting, no deadline due, and the worker committed
        past every record published to the topics it reads (by the relay or by us)."""
        with self.engine.connect() as conn:
            waiting, relayed = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM saga_outbox WHERE published_at IS NULL"
                    "        AND refused_at IS NULL)"
                    " + (SELECT count(*) FROM saga_signal)"
                    " + (SELECT count(*) FROM saga_deadline WHERE due_at <= now() + :offset),"
                    " (SELECT count(*) FROM saga_outbox WHERE published_at IS NOT NULL"
                    "        AND topic = ANY(:topics))"
                ),
                {"offset": self.clock.offset, "topics": self.worker.input_topics},
            ).one()
        return waiting == 0 and self.worker.records_done >= relayed + self._published_here

    def _read_all(self) -> list[Message]:
        """Every committed record on the runtime's topics, from the start."""
        reader = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"contract-reader-{uuid.uuid4().hex}",
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
                "enable.auto.commit": False,
            }
        )
        found: list[tuple[int, int, Message]] = []
        try:
            topics = [t for t in self.all_topics if t != self.worker.dead_letter_topic]
            reader.assign([TopicPartition(t, 0, 0) for t in topics])
            open_topics = set(topics)
            deadline = time.monotonic() + 30
            while open_topics and time.monotonic() < deadline:
                record = reader.poll(0.2)
                if record is None:
                    continue
                error = record.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        open_topics.discard(record.topic())
                    continue
                decoded = self.serializer.decode(record.value(), record.headers())
                found.append((record.timestamp()[1], len(found), Message(*decoded)))
            assert not open_topics, f"could not read {open_topics} to the end"
        finally:
            reader.close()
        # The harness lists messages in the order they were put on its one bus; topics are
        # ordered each on its own, so merge them by broker time.
        return [m for _, _, m in sorted(found, key=lambda f: (f[0], f[1]))]
