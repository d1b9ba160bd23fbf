"""The durable runtime: sagas and participants on Kafka and PostgreSQL, in one process.

::

    worker = Worker(sagas=[OrderSaga], participants=[payments])
    worker.run(stop)  # or on the command line: saga worker shop.sagas shop.payments

Per poll batch: decode every record, claim each input in its consumer's inbox, load the
batch's instances with one query, decide, and write instances (optimistic versions),
history, outbox rows and deadlines in bulk; commit the database, then the Kafka offsets.
So a crash anywhere leaves either nothing (the batch comes again) or everything (the inbox
turns the redelivery into a no-op). Events that reach the outbox are published by the relay,
run on a thread of the worker unless ``relay=False`` (then run ``saga relay`` elsewhere).

Failures never block a partition: a handler that raises rolls the batch back, the batch
is replayed one record per transaction, the failing record is tried ``attempts`` times with
backoff and then sent to the dead-letter topic through the outbox (for that consumer only:
the others handle it), exactly once. A record that cannot be decoded goes there at once.
Outages (database, broker, schema registry) and lost races (:class:`~saga.errors.ConcurrencyError`)
are never dead-lettered: the worker rewinds and tries again until they pass.

Deadlines and signals are rows in PostgreSQL, due by the database clock: any worker hosting
the saga claims them (``FOR UPDATE SKIP LOCKED``) in the unit of work that handles them, so
each fires once, also after every worker was down past its due time.

Scaling: start more workers with the same ``name`` (the Kafka consumer group); they share the
partitions. Partitions are assigned by range, so a worker owns the same partition number of
every topic it reads, and with topics of equal partition counts one saga instance's events
(keyed by its id) reach one worker; the optimistic version settles the rare overlap during a
rebalance. SIGTERM (``stop``) finishes the batch in hand, commits and leaves the group.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple
from uuid import UUID

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka import Message as KafkaMessage
from opentelemetry.trace import Span
from sqlalchemy import create_engine, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import ProgrammingError

from saga import _metrics, _telemetry
from saga._backoff import backoff
from saga._crashpoints import crash_point
from saga._kafka_log import kafka_logger
from saga.contracts.serde import Serializer
from saga.definition.model import SagaDefinition, signal_key
from saga.definition.participant import Participant
from saga.engine.hosting import Consumer as Host
from saga.engine.hosting import SagaRef, SagaVersions, Subscriptions
from saga.engine.instance import HistoryEntry
from saga.engine.messages import Message, OperatorCommand
from saga.engine.operations import SagaShape
from saga.engine.processing import handle_inputs, handle_saga_input, skip_input
from saga.errors import (
    ConfigError,
    ContractError,
    DecodeError,
    SagaError,
    TransportError,
    UnknownInstanceError,
)
from saga.outbox.consuming import (
    Where,
    commit_offsets,
    consumer_config,
    dead_letter_row,
    error_text,
    event_id_of,
    headers_of,
    is_outage,
    rewind,
    source,
    where,
)
from saga.outbox.relay import Relay
from saga.outbox.writer import insert_rows
from saga.settings import Settings, check_database_url, redact_error
from saga.tables import definition_table
from saga.worker._observe import count_records, firing, measure_delays, measure_ends
from saga.worker.store import DatabaseClock, PgStore
from saga.worker.topics import TopicMap, existing_topics, topic_uses

__all__ = ["Worker"]

_log = logging.getLogger("saga.worker")
_DUE_BATCH = 200  # deadlines and signals handled per transaction
_NONE: Mapping[tuple[Where, str], Exception] = MappingProxyType({})


class _Item(NamedTuple):
    """A polled record: its message, or why it cannot be one."""

    record: KafkaMessage
    at: Where
    message: Message | None
    event_id: UUID | None  # None: not for us, skipped
    undecodable: Exception | None
    span: Span | None = None  # ``process <topic>``, when tracing


class _HandlerFailed(Exception):
    """A consumer's handling raised (not an outage): retried, then dead-lettered."""

    def __init__(self, consumer: str, error: Exception) -> None:
        super().__init__(f"{consumer}: {error}")
        self.consumer = consumer
        self.error = error


@dataclass(frozen=True)
class _Options:
    batch_size: int
    poll_timeout: float
    timer_interval: float
    attempts: int


class Worker:
    """Hosts sagas and participants on Kafka and PostgreSQL (see the module docstring).

    ``name`` is the Kafka consumer group (workers with one name share the work) and names
    the worker in dead letters; it defaults to the hosted names joined with ``-``. The
    endpoints default to ``SAGA_DATABASE_URL`` and ``SAGA_KAFKA_BOOTSTRAP``.
    """

    def __init__(
        self,
        *,
        sagas: Sequence[SagaRef] = (),
        participants: Sequence[Participant] = (),
        database_url: str | None = None,
        kafka_bootstrap: str | None = None,
        settings: Settings | None = None,
        name: str | None = None,
        topics: TopicMap | None = None,
        serializer: Serializer | None = None,
        relay: bool = True,
        batch_size: int = 500,
        poll_timeout: float = 0.05,
        timer_interval: float = 0.2,
        attempts: int = 3,
        dead_letter_topic: str | None = None,
        clock: DatabaseClock | None = None,
        consumer_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.subscriptions = Subscriptions.of(sagas, participants)
        hosted = [h.name for h in self.subscriptions.all()]
        if not hosted:
            raise ConfigError("a worker needs at least one saga or participant to host")
        if batch_size < 1 or poll_timeout <= 0 or timer_interval <= 0 or attempts < 1:
            raise ConfigError(
                "Worker needs batch_size >= 1, attempts >= 1 and positive poll_timeout and "
                "timer_interval"
            )
        self.settings = settings or Settings()
        self.database_url = database_url or self.settings.require_database_url()
        check_database_url(self.database_url)
        bootstrap = kafka_bootstrap or self.settings.kafka_bootstrap
        if not bootstrap:
            raise ConfigError(
                "no Kafka configured: set SAGA_KAFKA_BOOTSTRAP or run `saga stack up`"
            )
        self.kafka_bootstrap = bootstrap
        self.name = name or "-".join(sorted(hosted))
        self.topics = topics or TopicMap()
        self.dead_letter_topic = (
            dead_letter_topic or self.topics.prefix + f"{self.name}.dead-letters"
        )
        uses = topic_uses(self.subscriptions, self.topics)
        self.input_topics = sorted(t for t, use in uses.items() if use.consumers)
        self.output_topics = sorted(t for t, use in uses.items() if use.producers)
        self._serializer = serializer or Serializer(self.settings)
        self._clock = clock or DatabaseClock()
        self._options = _Options(batch_size, poll_timeout, timer_interval, attempts)
        self._kafka: dict[str, Any] = {
            **self.settings.kafka_config(bootstrap),
            "logger": kafka_logger(),
        }
        self._consumer_options = dict(consumer_options or {})
        self._with_relay = relay
        self._secrets = (self.database_url, *self.settings.secret_values())
        self._engine = create_engine(
            self.database_url.replace("postgresql://", "postgresql+psycopg://", 1),
            pool_pre_ping=True,
        )
        self.store = PgStore(
            self._engine,
            serializer=self._serializer,
            topics=self.topics,
            sagas=list(self.subscriptions.sagas),
            clock=self._clock,
        )
        self._consumer: Consumer | None = None
        self._relay_stop = threading.Event()
        self._relay_thread: threading.Thread | None = None
        self._relay_failure: BaseException | None = None
        self._stop = threading.Event()
        self._timers_due = 0.0
        self._kafka_warned = 0.0
        self.records_done = 0
        """Records whose offsets this worker committed (handled, skipped or dead-lettered)."""

    # -- running -------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Work until ``stop`` is set; outages are waited out. Raises ConfigError at start
        when tables or topics are missing."""
        self._stop = stop or threading.Event()
        self.start()
        attempt = 0
        try:
            while not self._stop.is_set():
                try:
                    self.poll_once()
                    self.fire_due()
                    self._check_relay()
                    attempt = 0
                except Exception as exc:
                    if not is_outage(exc):
                        raise
                    attempt += 1
                    _log.warning(
                        "worker %s: %s; trying again", self.name, redact_error(exc, *self._secrets)
                    )
                    self._stop.wait(backoff(attempt))
        finally:
            self.close()

    def start(self) -> None:
        """Check tables and topics, register the hosted sagas, join the group, start the relay."""
        self._check_tables()
        self._register_definitions()
        self._check_topics()
        config = {
            # A dead worker's partitions move on after 10 s (librdkafka waits 45 s); the
            # heartbeats come from librdkafka's own thread, so a long batch does not count.
            "session.timeout.ms": 10_000,
            "heartbeat.interval.ms": 1_000,
            **consumer_config(self._kafka, self.name),
            # A worker owns the same partition number of every topic: one instance's events
            # (same key, equal partition counts) meet in one process.
            "partition.assignment.strategy": "range",
            **self._consumer_options,
        }
        self._consumer = Consumer(config)
        self._consumer.subscribe(
            self.input_topics, on_assign=self._assigned, on_revoke=self._revoked, on_lost=self._lost
        )
        if self._with_relay:
            relay = Relay(self.database_url, self.kafka_bootstrap, settings=self.settings)
            self._relay_thread = threading.Thread(
                target=self._run_relay, args=(relay,), name="saga-relay", daemon=True
            )
            self._relay_thread.start()
        _log.info(
            "worker %s hosts %s; reads %s; dead letters to %s; relay %s",
            self.name,
            ", ".join(self._describe_hosts()),
            ", ".join(self.input_topics),
            self.dead_letter_topic,
            "in this process" if self._with_relay else "elsewhere (relay=False)",
        )

    # Rebalances, told in the log: which partitions this worker reads is what an operator
    # asks first when a saga waits.
    def _assigned(self, _: Consumer, partitions: list[TopicPartition]) -> None:
        _log.info("worker %s reads %s", self.name, _partitions(partitions) or "no partition")

    def _revoked(self, _: Consumer, partitions: list[TopicPartition]) -> None:
        _log.info("worker %s gives back %s", self.name, _partitions(partitions) or "nothing")

    def _lost(self, _: Consumer, partitions: list[TopicPartition]) -> None:
        _log.warning(
            "worker %s lost %s (no heartbeat answered in time); rejoining",
            self.name,
            _partitions(partitions) or "nothing",
        )

    def _run_relay(self, relay: Relay) -> None:
        try:
            relay.run(self._relay_stop)
        except BaseException as exc:
            self._relay_failure = exc
            # Where it broke, and its message with secrets masked.
            _log.error(
                "worker %s: the relay stopped: %s: %s\n%s",
                self.name,
                type(exc).__name__,
                redact_error(exc, *self._secrets),
                "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
            )

    def _check_relay(self) -> None:
        """A worker whose relay died would go on consuming while nothing it writes is
        published: it stops instead, so that a supervisor restarts it."""
        thread = self._relay_thread
        if thread is None or thread.is_alive() or self._relay_stop.is_set():
            return
        why = redact_error(self._relay_failure, *self._secrets) if self._relay_failure else "?"
        raise SagaError(
            f"the worker's relay stopped ({why}); restart the worker: the outbox keeps "
            "every unpublished event"
        )

    def close(self) -> None:
        """Leave the consumer group, stop the relay, close connections (safe twice)."""
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        if self._relay_thread is not None:
            self._relay_stop.set()
            self._relay_thread.join(60)
            self._relay_thread = None
        self._engine.dispose()

    # -- records -------------------------------------------------------------------------

    def poll_once(self) -> int:
        """One poll batch, applied and its offsets committed; returns how many records."""
        assert self._consumer is not None, "start() first"
        records = self._consumer.consume(self._options.batch_size, self._options.poll_timeout)
        batch = [r for r in records if self._usable(r)]
        if not batch:
            return 0
        tracing = _telemetry.enabled()
        items: list[_Item] = []
        error: str | None = None
        try:
            items = [self._prepare(record, tracing) for record in batch]
            self._apply(items)
        except Exception as exc:
            if is_outage(exc) or not isinstance(exc, _HandlerFailed):
                error = type(exc).__qualname__
                rewind(self._consumer, batch, _log, f"worker {self.name}")
                raise
            self._replay(batch, items)
            return len(batch)
        finally:
            if tracing:
                _telemetry.end_spans([i.span for i in items if i.span is not None], error)
        commit_offsets(self._consumer, batch, _log, f"worker {self.name}")
        self.records_done += len(batch)
        if _metrics.enabled():
            count_records(batch, self.name)
        return len(batch)

    def _usable(self, record: KafkaMessage) -> bool:
        error = record.error()
        if error is None:
            return True
        if error.code() == KafkaError._PARTITION_EOF:
            return False
        if error.fatal():
            raise TransportError(f"Kafka consumer failed: {error.str()}")
        now = time.monotonic()
        if now - self._kafka_warned > 10:  # the client retries by itself; say so now and then
            self._kafka_warned = now
            _log.warning("worker %s: Kafka: %s", self.name, error.str())
        return False

    def _prepare(self, record: KafkaMessage, tracing: bool = False) -> _Item:
        """The record's message, or why it cannot be one, or nothing: an event no hosted
        consumer takes is skipped undecoded (topics are shared; this process may not even
        know that event)."""
        at = where(record)
        headers = headers_of(record)
        named = next((v for k, v in headers if k == "event-type"), None)
        if isinstance(named, bytes) and not self.subscriptions.consumers(
            named.decode(errors="replace")
        ):
            return _Item(record, at, None, None, None)
        span = None
        traceparent = _telemetry.traceparent_of(headers) if tracing else None
        if tracing and not _telemetry.sampled_out(traceparent):
            # Child of the producer's context the record carries (W3C ``traceparent``).
            span = _telemetry.consumer_span(at[0], at[1], at[2], traceparent, self.name)
        value = record.value()
        try:
            if value is None:
                raise DecodeError(f"{source(record)} has no value: saga topics carry events only")
            decoded = self._serializer.decode(value, headers)
        except ContractError as exc:
            if exc.retriable:
                raise
            if span is not None:
                _telemetry.end_spans([span], type(exc).__qualname__)
            return _Item(record, at, None, event_id_of(record), exc)
        message = Message(*decoded)
        if span is not None and span.is_recording():
            span.set_attributes(
                {
                    "messaging.message.id": message.event_id,
                    "saga.event_type": message.event_type,
                    # The saga the record belongs to: its retries' log lines name it.
                    "saga.instance_id": message.correlation_id,
                }
            )
        return _Item(record, at, message, message.envelope.event_id, None, span)

    def _apply(
        self, items: Sequence[_Item], exhausted: Mapping[tuple[Where, str], Exception] = _NONE
    ) -> None:
        """One unit of work for ``items``; what is in ``exhausted`` is dead-lettered."""
        dead: list[dict[str, Any]] = []
        dead_by: list[str] = []  # the consumer that gave each dead letter up
        ended: list[tuple[str, str, str]] = []  # saga, instance, final status
        with self.store.unit_of_work() as uow:
            now = uow.now()
            groups: dict[str, tuple[Host, list[Message], list[Span | None]]] = {}
            for item in items:
                if item.message is None:
                    if item.undecodable is None:
                        continue  # an event no hosted consumer takes
                    # Undecodable: no consumer can be named; the worker's own inbox.
                    if skip_input(uow, self.name, str(item.event_id)):
                        dead.append(self._dead_letter(item, self.name, item.undecodable))
                        dead_by.append(self.name)
                    continue
                for host in self.subscriptions.consumers(item.message.event_type):
                    failed = exhausted.get((item.at, host.name))
                    if failed is not None:
                        if skip_input(uow, host.name, item.message.input_id):
                            dead.append(self._dead_letter(item, host.name, failed))
                            dead_by.append(host.name)
                        continue
                    group = groups.setdefault(host.name, (host, [], []))
                    group[1].append(item.message)
                    group[2].append(item.span)
            for name, (host, inputs, spans) in groups.items():
                crash_point("worker.in_batch")
                try:
                    results = handle_inputs(uow, host, inputs, now, spans=spans)
                except Exception as exc:
                    if is_outage(exc):
                        raise
                    raise _HandlerFailed(name, exc) from exc
                ended += [
                    (name, r.decision.instance.instance_id, r.ended)
                    for r in results
                    if r.ended is not None and r.decision and r.decision.instance
                ]
            insert_rows(uow.session, dead)
        crash_point("worker.after_db_commit")
        if dead_by or ended:
            measure_ends(self._engine, self.name, dead_by, ended)

    def _replay(self, batch: Sequence[KafkaMessage], items: Sequence[_Item]) -> None:
        """One record per transaction; a failing consumer is retried, then dead-lettered."""
        assert self._consumer is not None
        who = f"worker {self.name}"
        tries: dict[tuple[Where, str], int] = {}
        exhausted: dict[tuple[Where, str], Exception] = {}
        for index, item in enumerate(items):
            # In the record's span: its retries and its dead letter log its trace id.
            with _telemetry.in_span(item.span):
                while True:
                    try:
                        self._apply([item], exhausted)
                        break
                    except _HandlerFailed as failed:
                        key = (item.at, failed.consumer)
                        tries[key] = tries.get(key, 0) + 1
                        if tries[key] >= self._options.attempts:
                            exhausted[key] = failed.error
                            _log.error(
                                "%s: %s failed %d times for %s; dead-lettering it to %s: %s",
                                who,
                                failed.consumer,
                                tries[key],
                                source(item.record),
                                self.dead_letter_topic,
                                error_text(failed.error).decode(),
                            )
                            continue
                        _log.warning(
                            "%s: %s failed for %s (try %d of %d): %s",
                            who,
                            failed.consumer,
                            source(item.record),
                            tries[key],
                            self._options.attempts,
                            error_text(failed.error).decode(),
                        )
                        if self._stop.wait(backoff(tries[key])):
                            # Stopping: what was applied is committed, the rest comes again.
                            commit_offsets(self._consumer, batch[:index], _log, who)
                            self.records_done += index
                            return
                    except Exception:
                        commit_offsets(self._consumer, batch[:index], _log, who)
                        self.records_done += index
                        rewind(self._consumer, batch[index:], _log, who)
                        raise
        commit_offsets(self._consumer, batch, _log, who)
        self.records_done += len(batch)

    def _dead_letter(self, item: _Item, consumer: str, error: Exception) -> dict[str, Any]:
        assert item.event_id is not None  # skipped records are never dead-lettered
        return dead_letter_row(
            item.record,
            topic=self.dead_letter_topic,
            error=error,
            group=f"{self.name}/{consumer}" if consumer != self.name else self.name,
            event_id=item.event_id,
        )

    # -- deadlines and signals -----------------------------------------------------------

    def fire_due(self, *, force: bool = False) -> int:
        """Fire the deadlines due by the database clock and apply the signals sent, at most
        every ``timer_interval`` seconds (``force``: now); returns how many."""
        now_mono = time.monotonic()
        if not self.subscriptions.sagas or (not force and now_mono < self._timers_due):
            return 0
        self._timers_due = now_mono + self._options.timer_interval
        done = 0
        for _ in range(100):  # bounded; what is left comes at the next interval
            handled = self._fire_batch()
            done += handled
            if handled < _DUE_BATCH:
                break
        return done

    def _fire_batch(self) -> int:
        with self.store.unit_of_work() as uow:
            now = uow.now()
            fired = uow.claim_due(now, _DUE_BATCH)
            if fired:
                crash_point("worker.after_claim_deadline")
            for deadline in fired:
                with firing("deadline", deadline.saga, deadline.instance_id):
                    handle_saga_input(uow, self.subscriptions.saga(deadline.saga), deadline, now)
            if fired and _metrics.enabled():
                measure_delays(fired, now)
            signals = uow.claim_signals(_DUE_BATCH)
            for signal in signals:
                try:
                    with firing("signal", signal.saga, signal.instance_id):
                        handled = handle_saga_input(
                            uow, self.subscriptions.saga(signal.saga), signal, now
                        )
                except UnknownInstanceError as exc:  # checked when sent; gone since
                    _log.warning("worker %s: signal dropped: %s", self.name, exc)
                    continue
                if isinstance(signal, OperatorCommand) and handled.decision is not None:
                    self._log_operation(signal, handled.decision.history)
        return max(len(fired), len(signals))

    def _log_operation(self, command: OperatorCommand, entry: HistoryEntry | None) -> None:
        _log.info(
            "worker %s: %s of saga %s instance %s by %s (%s): %s",
            self.name,
            command.operation,
            command.saga,
            command.instance_id,
            command.by,
            command.reason,
            "no change" if entry is None else entry.note,
        )

    # -- start-up checks -----------------------------------------------------------------

    def _check_tables(self) -> None:
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1 FROM saga_instance, saga_outbox, saga_inbox LIMIT 0"))
        except ProgrammingError as exc:
            if "does not exist" not in str(exc):
                raise
            raise ConfigError(
                "the framework's tables are missing in this database: run `saga db upgrade`"
            ) from None

    def _check_topics(self) -> None:
        wanted = {*self.input_topics, *self.output_topics, self.dead_letter_topic}
        missing = sorted(wanted - set(existing_topics(self._kafka)))
        if missing:
            raise ConfigError(
                f"topics missing in Kafka: {', '.join(missing)}: create them with "
                "`saga topics create MODULE... --partitions N` (the modules you host)"
            )

    def _register_definitions(self) -> None:
        rows = [
            {"saga": d.name, "version": d.version, "description": describe(d)}
            for hosted in self.subscriptions.sagas.values()
            for d in hosted.versions.values()
        ]
        if not rows:
            return
        statement = insert(definition_table).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=["saga", "version"],
            set_={"description": statement.excluded.description, "registered_at": text("now()")},
        )
        with self._engine.begin() as conn:
            conn.execute(statement)

    def _describe_hosts(self) -> list[str]:
        out = []
        for host in self.subscriptions.all():
            if isinstance(host, SagaVersions):
                versions = ", ".join(f"v{v}" for v in host.versions)
                out.append(f"saga {host.name} ({versions})")
            else:
                out.append(f"participant {host.name}")
        return out


def _partitions(partitions: Sequence[TopicPartition]) -> str:
    """``topic[0,2], other[1]``"""
    by_topic: dict[str, list[int]] = {}
    for tp in partitions:
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    return ", ".join(f"{t}[{','.join(map(str, sorted(p)))}]" for t, p in sorted(by_topic.items()))


def describe(definition: SagaDefinition) -> dict[str, Any]:
    """What operators' commands need to know of a definition, without importing it."""
    accepting = {
        name: sorted(
            state
            for state in definition.states
            if definition.transitions_for(state, signal_key(name))
        )
        for name in definition.signals
    }
    return {
        "qualname": definition.qualname,
        "states": list(definition.states),
        "final": {s.name: s.final for s in definition.states.values() if s.final},
        "signals": accepting,
        # Steps per state and their kinds: operators' commands are checked when queued.
        "shape": SagaShape.of(definition).to_json(),
    }
