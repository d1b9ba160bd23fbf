"""The durable runtime: sagas and participants on Kafka and PostgreSQL, in one process.

::

    worker = Worker(sagas=[OrderSaga], participants=[payments])
    worker.run(stop)  # or on the command line: saga worker shop.sagas shop.payments

Records are consumed by the runtime's one loop (:mod:`saga.runtime.loop`): per poll batch,
decode every record, claim each input in its consumer's inbox, load the batch's instances
with one query, decide, and write instances (optimistic versions), history, outbox rows and
deadlines in bulk; commit the database, then the Kafka offsets. Failures never block a
partition: a failing record is retried, then dead-lettered to ``<name>.dead-letters`` for
that consumer only; outages are waited out. Events that reach the outbox are published by
the relay, run on a thread of the worker unless ``relay=False`` (then run ``saga relay``
elsewhere).

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
from dataclasses import replace
from datetime import timedelta
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import sessionmaker

from saga._crashpoints import crash_point
from saga.contracts.serde import Serializer
from saga.contracts.topics import TopicMap
from saga.definition.model import SagaDefinition, signal_key
from saga.definition.participant import Participant
from saga.engine.hosting import SagaRef, SagaVersions, Subscriptions, passed_over, topic_uses
from saga.engine.instance import HistoryEntry
from saga.engine.messages import OperatorCommand
from saga.engine.operations import SagaShape
from saga.engine.processing import handle_saga_input
from saga.errors import ConfigError, SagaError, UnknownInstanceError
from saga.kafka.admin import existing_topics, topic_configs
from saga.kafka.log import kafka_logger
from saga.kafka.records import consumer_config
from saga.observability import metrics as _metrics
from saga.observability.observer import observer
from saga.observability.runtime import firing, measure_delays
from saga.postgres.connect import engine_for
from saga.postgres.store import DatabaseClock, PgStore
from saga.postgres.tables import definition_table
from saga.relay.relay import Relay
from saga.runtime.failures import inbox_horizon
from saga.runtime.loop import ConsumerLoop, LoopOptions
from saga.settings import Settings, check_database_url, redact_error

__all__ = ["Worker"]

_log = logging.getLogger("saga.worker")
_RECOUNT_SECONDS = 60.0  # how often input topics' partition counts are checked
_DUE_BATCH = 200  # deadlines and signals handled per transaction


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
        relay_name: str | None = None,
        batch_size: int = 500,
        poll_timeout: float = 0.05,
        timer_interval: float = 0.2,
        attempts: int = 3,
        dead_letter_topic: str | None = None,
        clock: DatabaseClock | None = None,
        consumer_options: Mapping[str, Any] | None = None,
        retention: timedelta | None = timedelta(days=7),
        unknown_events: str = "skip",
    ) -> None:
        self.subscriptions = Subscriptions.of(sagas, participants)
        hosted = [h.name for h in self.subscriptions.all()]
        if not hosted:
            raise ConfigError("a worker needs at least one saga or participant to host")
        if timer_interval <= 0:
            raise ConfigError(f"timer_interval={timer_interval!r}: give positive seconds")
        self._relay_name = relay_name
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
        # What it writes to a topic it reads, and reads back for nothing (said at start).
        self.reads_back = passed_over(self.subscriptions, uses)
        self._partitions: dict[str, int] = {}  # input topic: partition count at start
        self._recount_at = time.monotonic() + _RECOUNT_SECONDS
        # Each saga's topics: their partition counts must agree (see _check_topics).
        self._saga_topics = {
            saga: sorted(t for t, use in uses.items() if saga in use.consumers)
            for saga in self.subscriptions.sagas
        }
        self.output_topics = sorted(t for t, use in uses.items() if use.producers)
        self._serializer = serializer or Serializer(self.settings)
        self._clock = clock or DatabaseClock()
        self._options = LoopOptions(
            batch_size=batch_size,
            poll_timeout=poll_timeout,
            attempts=attempts,
            dead_letter_topic=self.dead_letter_topic,
            retention=retention,
            unknown_events=unknown_events,
            known_events=frozenset(self._serializer.contracts.names()),
        )
        self._timer_interval = timer_interval
        self._kafka: dict[str, Any] = {
            **self.settings.kafka_config(bootstrap),
            "logger": kafka_logger(),
        }
        self._consumer_options = dict(consumer_options or {})
        self._with_relay = relay
        self._secrets = (self.database_url, *self.settings.secret_values())
        # No ping on every checkout (a round trip per batch): a connection PostgreSQL dropped
        # fails the batch's first statement, the loop waits that out as an outage and
        # retries, and SQLAlchemy replaces every connection of the pool at once.
        self._engine = engine_for(self.database_url)
        self.store = PgStore(
            sessionmaker(self._engine, expire_on_commit=False),
            serializer=self._serializer,
            topics=self.topics,
            sagas=list(self.subscriptions.sagas),
            clock=self._clock,
            record_limit=self.settings.producer_record_limit(),
        )
        self._consumer: Consumer | None = None
        self._loop: ConsumerLoop | None = None
        self._relay_stop = threading.Event()
        self._relay_thread: threading.Thread | None = None
        self._relay_failure: BaseException | None = None
        self._stop = threading.Event()
        self._timers_due = 0.0

    @property
    def records_done(self) -> int:
        """Records whose offsets this worker committed (handled, skipped or dead-lettered)."""
        return 0 if self._loop is None else self._loop.records_done

    # -- running -------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Work until ``stop`` is set; outages are waited out. Raises ConfigError at start
        when tables or topics are missing."""
        self._stop = stop or threading.Event()
        self.start()
        assert self._loop is not None
        try:
            self._loop.run(self._stop, between=self._between_batches)
        finally:
            self.close()

    def _between_batches(self) -> None:
        self.fire_due()
        self._check_relay()
        if time.monotonic() >= self._recount_at:
            self._recount_at = time.monotonic() + _RECOUNT_SECONDS
            self._recount_partitions()

    def _recount_partitions(self) -> None:
        """Report a change of an input topic's partition count once: its keys moved, so an
        instance's later events may reach another worker than its earlier ones."""
        try:
            counts = existing_topics(self._kafka)
        except SagaError:
            return  # the broker is away; the loop says so
        for topic, was in sorted(self._partitions.items()):
            now = counts.get(topic)
            if now is not None and now != was:
                self._partitions[topic] = now
                _log.error(
                    "worker %s: topic %s has %d partitions, not %d: keys hash to other "
                    "partitions now, so an instance's new events may reach another worker "
                    "than its earlier ones and wait or race; give every topic of its sagas "
                    "the same count",
                    self.name,
                    topic,
                    now,
                    was,
                )

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
        self._loop = ConsumerLoop(
            self._consumer,
            self.store,
            self._serializer,
            self.subscriptions.consumers,
            group=self.name,
            inboxes=[h.name for h in self.subscriptions.all()],
            options=self._options,
            log=_log,
            who=f"worker {self.name}",
            crash="worker",
            secrets=self._secrets,
        )
        if self._with_relay:
            relay = Relay(
                self.database_url,
                self.kafka_bootstrap,
                name=self._relay_name,
                settings=self.settings,
            )
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
        for topic, events in sorted(self.reads_back.items()):
            _log.info(
                "worker %s reads back what it writes to %s (%s) and passes it over: mark the "
                'requests among them "role": "request" in their contracts (requests travel on '
                "a topic of their own; see saga.contracts.topics)",
                self.name,
                topic,
                ", ".join(sorted(e.rpartition(".")[2] for e in events)),
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
            if isinstance(exc, ConfigError):  # the fix is in the message; no code to show
                _log.error("worker %s: the relay stopped: %s", self.name, exc)
                return
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
        if isinstance(self._relay_failure, ConfigError):  # a restart would not help
            raise ConfigError(f"the worker's relay: {why}")
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
        """One poll batch, applied and its offsets committed; returns how many inputs were
        applied."""
        assert self._loop is not None, "start() first"
        return self._loop.poll_once()

    # -- deadlines and signals -----------------------------------------------------------

    def fire_due(self, *, force: bool = False) -> int:
        """Fire the deadlines due by the database clock and apply the signals sent, at most
        every ``timer_interval`` seconds (``force``: now); returns how many."""
        now_mono = time.monotonic()
        if not self.subscriptions.sagas or (not force and now_mono < self._timers_due):
            return 0
        self._timers_due = now_mono + self._timer_interval
        done = 0
        for _ in range(100):  # bounded; what is left comes at the next interval
            handled = self._fire_batch()
            done += handled
            if handled < _DUE_BATCH:
                break
        return done

    def _fire_batch(self) -> int:
        watcher = observer()
        with self.store.unit_of_work() as uow:
            now = uow.now()
            fired = uow.claim_due(now, _DUE_BATCH)
            if fired:
                crash_point("worker.after_claim_deadline")
            for deadline in fired:
                with firing("deadline", deadline.saga, deadline.instance_id):
                    saga = self.subscriptions.saga(deadline.saga)
                    handle_saga_input(uow, saga, deadline, now, observer=watcher)
            if fired and _metrics.enabled():
                measure_delays(fired, now)
            signals = uow.claim_signals(_DUE_BATCH)
            for signal in signals:
                try:
                    with firing("signal", signal.saga, signal.instance_id):
                        handled = handle_saga_input(
                            uow, self.subscriptions.saga(signal.saga), signal, now, observer=watcher
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
        known = existing_topics(self._kafka)
        self._partitions = {t: known[t] for t in self.input_topics if t in known}
        missing = sorted(wanted - set(known))
        if missing:
            named = self.dead_letter_topic == f"{self.topics.prefix}{self.name}.dead-letters"
            options = f" --name {self.name}" if named and self.dead_letter_topic in missing else ""
            options += f" --topic-prefix {self.topics.prefix}" if self.topics.prefix else ""
            raise ConfigError(
                f"topics missing in Kafka: {', '.join(missing)}: create them with "
                f"`saga topics create MODULE...{options} --partitions N` (the modules you host)"
            )
        # One instance's events share a key; with equal partition counts they land on the
        # same partition number of each topic, which one worker of the group reads (range
        # assignment). Unequal counts scatter an instance over workers that then race.
        for saga, names in sorted(self._saga_topics.items()):
            counts = {name: known[name] for name in names}
            if len(set(counts.values())) > 1:
                listed = ", ".join(f"{n} {c}" for n, c in counts.items())
                raise ConfigError(
                    f"{saga} reads topics with different partition counts ({listed}): give "
                    "them the same count (adding partitions to a topic moves its keys: "
                    "drain it first)"
                )
        configs = topic_configs(self._kafka, [*self.input_topics, *self.output_topics])
        # What the topics take, so that an event they would refuse is refused as it is
        # written (in the unit of work), not by the relay after it committed.
        self.store.set_topic_limits(
            {
                t: int(configs[t]["max.message.bytes"])
                for t in self.output_topics
                if "max.message.bytes" in configs.get(t, {})
            }
        )
        # Claims outlive the records they claim: a rewind then applies nothing twice.
        needed = inbox_horizon({t: configs.get(t, {}) for t in self.input_topics})
        kept = self._options.retention
        if kept is not None and (needed is None or kept < needed):
            _log.info(
                "worker %s keeps inbox claims %s, not %s: its topics may keep records that "
                "long (retention.ms + segment.ms), and a rewind (offsets expired or reset) "
                "would apply them again once their claims were gone",
                self.name,
                "for good" if needed is None else f"for {needed}",
                kept,
            )
            self._options = replace(self._options, retention=needed)

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
