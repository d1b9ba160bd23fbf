"""The one consumer loop: poll → decode → claim → handle → retry → dead-letter → commit → offsets.

Both faces of the runtime run on it: :class:`~saga.runtime.Worker` (sagas and participants)
and :class:`~saga.runtime.InboxConsumer` (a plain handler). Per poll batch it decodes every
record (one that no hosted consumer takes is skipped undecoded: topics are shared), then
opens one unit of work (:mod:`saga.postgres.store`) in which each consumer's inputs are
claimed in its inbox and handled through the engine (:mod:`saga.engine.processing`) and dead
letters are queued; it commits the database, then the Kafka offsets. A crash anywhere leaves
either nothing (the batch comes again) or everything (the inbox turns the redelivery into a
no-op).

**Failures never block a partition.** A handler that raises rolls the batch back; the batch
is replayed one record per transaction, the failing record is tried ``attempts`` times in
all (the batch's try counts) with backoff, and is then written to the dead-letter topic
through the unit of work, for that consumer only (the others handle it), exactly once. A
participant's batch handler that raises blames none of its records (the batch's try counts
for none): in the replay it gets one record at a time, and only the one that fails there
is retried and dead-lettered. A record that cannot be decoded goes there at once. Outages
(database, broker, schema registry) and lost races (:class:`~saga.errors.ConcurrencyError`)
are never dead-lettered: the loop seeks back and :meth:`ConsumerLoop.run` waits them out.
Without a dead-letter topic the failing record stops the loop: the offsets before it are
committed and its error raised.

**Inboxes.** Each hosted consumer claims under its own name; a record that cannot be decoded
is claimed under the Kafka consumer group's name. A dead letter's ``dead-letter-group``
header is that inbox name, the one its claim is under, so that sending it back releases
exactly that claim. Rows older than ``retention`` are deleted every ``cleanup_interval``
seconds, a few chunks at a time, between batches.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka import KafkaError
from confluent_kafka import Message as KafkaMessage
from opentelemetry.trace import Span

from saga._backoff import backoff
from saga._crashpoints import crash_point
from saga.contracts.envelope import Headers
from saga.contracts.serde import Decoded
from saga.contracts.topics import check_topic_name
from saga.engine.hosting import Consumer
from saga.engine.messages import Input, Message
from saga.engine.ports import Observer, Watch
from saga.engine.processing import Handled, handle_inputs, skip_input
from saga.errors import (
    ConfigError,
    ContractError,
    DecodeError,
    RegistryUnavailable,
    TransportError,
)
from saga.kafka.dead_letters import error_text
from saga.kafka.records import (
    Where,
    commit_offsets,
    event_id_of,
    headers_of,
    rewind,
    source,
    where,
)
from saga.observability import metrics as _metrics
from saga.observability import tracing as _telemetry
from saga.observability.observer import TelemetryObserver, observer
from saga.observability.runtime import count_records, measure_ends
from saga.postgres.inbox import cleanup_inbox
from saga.postgres.store import PgStore
from saga.runtime.failures import dead_letter_row, is_outage
from saga.settings import redact_error

__all__ = ["ConsumerLoop", "EventDecoder", "LoopOptions"]

# Retention deletes at most _CLEANUP_ROUNDS chunks between two batches.
_CLEANUP_CHUNK = 5_000
_CLEANUP_ROUNDS = 4


class EventDecoder(Protocol):
    """What the loop needs from a serializer (``saga.contracts.serde.Serializer`` is one)."""

    def decode(self, value: bytes, headers: Headers) -> Decoded: ...


UNKNOWN_EVENTS = ("skip", "dead-letter", "stop")
_LOGGED_TYPES = 1_000  # event types logged once each; past that, no more memory is spent


@dataclass(frozen=True)
class LoopOptions:
    """How the loop polls, retries and keeps its inboxes (checked when made: one line each)."""

    batch_size: int = 500
    poll_timeout: float = 0.05
    attempts: int = 3
    """Tries of a failing record in all before it is dead-lettered."""
    dead_letter_topic: str | None = None
    """None: a record that fails stops the loop instead."""
    retention: timedelta | None = timedelta(days=7)
    """Inbox rows older than this are deleted; None keeps them. Keep it longer than any
    consumer can stay down: an event redelivered after its row is gone is applied again."""
    cleanup_interval: float = 60.0
    unknown_events: str = "skip"
    """What becomes of a record whose event type no hosted consumer takes and no contract
    of this process names (a new event reaching a worker deployed before it): "skip" it
    (counted, logged once per type), "dead-letter" it (replayable once a worker that knows
    it runs) or "stop" the loop there (nothing after it is committed)."""
    known_events: frozenset[str] | None = None
    """Event types this process has contracts for; None: every type counts as known (a
    record of a type no hosted consumer takes is then always passed over)."""

    def __post_init__(self) -> None:
        if self.unknown_events not in UNKNOWN_EVENTS:
            raise ConfigError(
                f"unknown_events={self.unknown_events!r}: choose one of {', '.join(UNKNOWN_EVENTS)}"
            )
        if self.dead_letter_topic is not None:
            check_topic_name(self.dead_letter_topic, "dead_letter_topic")
        if _not_whole(self.attempts, 1):
            raise ConfigError(
                f"attempts={self.attempts!r}: give a whole number of tries, 1 or more "
                "(1 dead-letters an event at its first handler error)"
            )
        if _not_whole(self.batch_size, 1):
            raise ConfigError(f"batch_size={self.batch_size!r}: give a whole number, 1 or more")
        if not _positive(self.poll_timeout):
            raise ConfigError(f"poll_timeout={self.poll_timeout!r}: give positive seconds")
        if self.retention is not None and (
            not isinstance(self.retention, timedelta) or self.retention <= timedelta(0)
        ):
            raise ConfigError(
                f"retention={self.retention!r}: give a positive timedelta longer than any "
                "consumer stays down, or None to keep inbox rows forever"
            )
        if not _positive(self.cleanup_interval):
            raise ConfigError(
                f"cleanup_interval={self.cleanup_interval!r}: give the seconds between inbox "
                "cleanups, a positive number"
            )


def _not_whole(value: object, least: int) -> bool:
    return isinstance(value, bool) or not isinstance(value, int) or value < least


def _positive(value: object) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and value > 0
    )


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

    def __init__(self, consumer: str, error: Exception, at: Where | None) -> None:
        super().__init__(f"{consumer}: {error}")
        self.consumer = consumer
        self.error = error
        self.at = at  # the record it failed on, when known


_NONE: Mapping[tuple[Where, str], tuple[Exception, int]] = MappingProxyType({})


class ConsumerLoop:
    """Polls ``consumer`` (subscribed, manual commits: see
    :func:`~saga.kafka.records.consumer_config`) and applies each batch in one unit of work of
    ``store`` (see the module docstring).

    ``hosts`` names the consumers of an event type; ``inboxes`` every inbox name they claim
    under (for retention). ``group`` is the Kafka consumer group, ``who`` how log lines name
    the loop, ``crash`` the prefix of its crash points.
    """

    def __init__(
        self,
        consumer: KafkaConsumer,
        store: PgStore,
        decoder: EventDecoder,
        hosts: Callable[[str], Sequence[Consumer]],
        *,
        group: str,
        inboxes: Sequence[str],
        options: LoopOptions,
        log: logging.Logger,
        who: str,
        crash: str,
        secrets: Sequence[str] = (),
    ) -> None:
        self.consumer = consumer
        self.store = store
        self.decoder = decoder
        self.hosts = hosts
        self.group = group
        self.inboxes = sorted({*inboxes, group})
        self.options = options
        self.log = log
        self.who = who
        self._crash = crash
        self._secrets = tuple(secrets)
        self.stop = threading.Event()
        self.records_done = 0
        """Records whose offsets this loop committed (handled, skipped or dead-lettered)."""
        self._cleanup_due = 0.0
        self._kafka_warned = 0.0
        self._logged_types: set[str] = set()  # unknown event types already logged

    # -- running -------------------------------------------------------------------------

    def run(self, stop: threading.Event, between: Callable[[], object] | None = None) -> None:
        """Poll and apply until ``stop`` is set, calling ``between`` after each batch; waits
        outages out (the unapplied records were sought back). Other errors propagate."""
        self.stop = stop
        attempt = 0
        while not stop.is_set():
            try:
                self.cleanup_when_due()
                self.poll_once()
                if between is not None:
                    between()
                attempt = 0
            except Exception as exc:
                if not is_outage(exc):
                    raise
                attempt += 1
                self.log.warning(
                    "%s: %s away (%s); trying again",
                    self.who,
                    _away(exc),
                    redact_error(exc, *self._secrets),
                )
                stop.wait(backoff(attempt))

    def poll_once(self) -> int:
        """One poll batch, applied and its offsets committed; returns how many inputs were
        applied (duplicates, skipped and dead-lettered records not counted)."""
        # Wait for the first record only, then take what has already arrived: consume(n, t)
        # waits for n records or the whole of t, a fixed delay on every hop.
        first = self.consumer.poll(self.options.poll_timeout)
        if first is None:
            return 0
        more = self.options.batch_size - 1
        records = [first, *(self.consumer.consume(more, 0) if more else ())]
        batch = [r for r in records if self._usable(r)]
        if not batch:
            return 0
        watcher = observer()  # asked once per batch: None costs nothing per record
        tracing = watcher is not None and watcher.tracing
        items: list[_Item] = []
        error: str | None = None
        try:
            items = [self._prepare(record, tracing) for record in batch]
            applied = self._apply(items, watcher)
        except _HandlerFailed as failed:
            return self._replay(batch, items, failed, watcher)
        except Exception as exc:
            error = type(exc).__qualname__
            rewind(self.consumer, batch, self.log, self.who)
            raise
        finally:
            if tracing:
                _telemetry.end_spans([i.span for i in items if i.span is not None], error)
        self._committed(batch)
        return applied

    def _committed(self, records: Sequence[KafkaMessage]) -> None:
        commit_offsets(self.consumer, records, self.log, self.who)
        self.records_done += len(records)
        if records and _metrics.enabled():
            count_records(records, self.group)

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
            self.log.warning("%s: Kafka: %s", self.who, error.str())
        return False

    def _prepare(self, record: KafkaMessage, tracing: bool) -> _Item:
        """The record's message, or why it cannot be one, or nothing: an event no hosted
        consumer takes is skipped undecoded (this process may not even know that event)."""
        at = where(record)
        headers = headers_of(record)
        named = next((v for k, v in headers if k == "event-type"), None)
        if isinstance(named, bytes):
            event_type = named.decode(errors="replace")
            if not self.hosts(event_type):
                return self._not_hosted(record, at, event_type)
        span = None
        traceparent = _telemetry.traceparent_of(headers) if tracing else None
        if tracing and not _telemetry.sampled_out(traceparent):
            # Child of the producer's context the record carries (W3C ``traceparent``).
            span = _telemetry.consumer_span(at[0], at[1], at[2], traceparent, self.group)
        value = record.value()
        try:
            if value is None:
                raise DecodeError(f"{source(record)} has no value: saga topics carry events only")
            decoded = self.decoder.decode(value, headers)
        except ContractError as exc:
            if exc.retriable:
                raise
            if span is not None:
                _telemetry.end_spans([span], type(exc).__qualname__)
            return _Item(record, at, None, event_id_of(record), exc)
        message = decoded if isinstance(decoded, Message) else Message(*decoded)
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

    # -- one unit of work ----------------------------------------------------------------

    def _apply(
        self,
        items: Sequence[_Item],
        watcher: TelemetryObserver | None,
        exhausted: Mapping[tuple[Where, str], tuple[Exception, int]] = _NONE,
    ) -> int:
        """One unit of work for ``items``; what is in ``exhausted`` is dead-lettered.
        Returns how many inputs were applied."""
        dead: list[dict[str, Any]] = []
        dead_by: list[str] = []  # the inbox that gave each dead letter up
        told: list[tuple[_Item, str, Exception, int]] = []  # logged once committed
        ended: list[tuple[str, str, str]] = []  # saga, instance, final status
        applied = 0
        with self.store.unit_of_work() as uow:
            now = uow.now()
            groups: dict[str, tuple[Consumer, list[Input], list[Span | None], list[Where]]] = {}
            for item in items:
                if item.message is None:
                    if item.undecodable is None:
                        continue  # an event no hosted consumer takes
                    if self.options.dead_letter_topic is None:
                        raise _HandlerFailed(self.group, item.undecodable, item.at)
                    # No consumer can be named: the group's own inbox claims it.
                    if skip_input(uow, self.group, str(item.event_id)):
                        dead.append(self._dead_letter(item, self.group, item.undecodable))
                        dead_by.append(self.group)
                        told.append((item, self.group, item.undecodable, 0))
                    continue
                for host in self.hosts(item.message.event_type):
                    failed = exhausted.get((item.at, host.name))
                    if failed is not None:
                        if skip_input(uow, host.name, item.message.input_id):
                            dead.append(self._dead_letter(item, host.name, failed[0]))
                            dead_by.append(host.name)
                            told.append((item, host.name, *failed))
                        continue
                    group = groups.setdefault(host.name, (host, [], [], []))
                    group[1].append(item.message)
                    group[2].append(item.span)
                    group[3].append(item.at)
            for name, (host, inputs, spans, ats) in groups.items():
                crash_point(f"{self._crash}.in_batch")
                blame = _Blame(watcher)
                try:
                    results = handle_inputs(uow, host, inputs, now, observer=blame, parents=spans)
                except Exception as exc:
                    if is_outage(exc):
                        raise
                    index = next(
                        (i for i, m in enumerate(inputs) if m.input_id == blame.input_id), None
                    )
                    raise _HandlerFailed(name, exc, None if index is None else ats[index]) from exc
                applied += sum(1 for r in results if not r.duplicate)
                ended += _ends(name, results)
            uow.append_encoded(dead)
        for item, inbox, error, tries in told:
            self.log.error(
                "%s: dead-lettered %s (event %s) for %s to %s: it %s: %s",
                self.who,
                source(item.record),
                item.event_id,
                inbox,
                self.options.dead_letter_topic,
                f"failed {tries} times" if tries else "cannot be decoded",
                error_text(error).decode(),
            )
        if dead:
            crash_point(f"{self._crash}.after_dead_letter")
        crash_point(f"{self._crash}.after_db_commit")
        if (dead_by or ended) and _metrics.enabled():
            measure_ends(self.store.ages, self.who, dead_by, ended)
        return applied

    def _dead_letter(self, item: _Item, inbox: str, error: Exception) -> dict[str, Any]:
        assert item.event_id is not None  # skipped records are never dead-lettered
        assert self.options.dead_letter_topic is not None
        return dead_letter_row(
            item.record,
            topic=self.options.dead_letter_topic,
            error=error,
            group=inbox,
            event_id=item.event_id,
        )

    def _not_hosted(self, record: KafkaMessage, at: Where, event_type: str) -> _Item:
        """A record of a type no hosted consumer takes: passed over (another service's
        event on a shared topic), or, when no contract names its type, what
        ``unknown_events`` says."""
        known = self.options.known_events
        unknown = known is not None and event_type not in known
        if _metrics.enabled():
            _metrics.skipped.add(
                1,
                {
                    "messaging.destination.name": at[0],
                    # Types no contract names are not labels: anyone can write a header.
                    "saga.event_type": "unknown" if unknown else event_type,
                    "saga.event_known": not unknown,
                },
            )
        if not unknown:
            return _Item(record, at, None, None, None)
        policy = self.options.unknown_events
        if policy == "stop":
            raise ConfigError(
                f"{self.who}: {source(record)} is a {event_type!r}, an event no hosted saga or "
                "participant takes and no contract here names: deploy a worker that knows it "
                "(this one stopped before it; nothing after it was committed), or run with "
                "unknown events skipped or dead-lettered"
            )
        if event_type not in self._logged_types and len(self._logged_types) < _LOGGED_TYPES:
            self._logged_types.add(event_type)
            self.log.warning(
                "%s: %s events (first at %s) are unknown here: no hosted saga or participant "
                "takes them and no contract names them; %s",
                self.who,
                event_type,
                source(record),
                "skipping them (counted in saga_events_skipped_total)"
                if policy == "skip"
                else f"dead-lettering them to {self.options.dead_letter_topic}",
            )
        if policy == "skip":
            return _Item(record, at, None, None, None)
        reason = DecodeError(f"{event_type!r} is an event this worker does not know")
        return _Item(record, at, None, event_id_of(record), reason)

    # -- a failed batch, one record at a time --------------------------------------------

    def _replay(
        self,
        batch: Sequence[KafkaMessage],
        items: Sequence[_Item],
        failed: _HandlerFailed,
        watcher: TelemetryObserver | None,
    ) -> int:
        """One record per transaction; a failing consumer is retried, then dead-lettered
        (or, without a dead-letter topic, its error raised)."""
        tries: dict[tuple[Where, str], int] = {}
        exhausted: dict[tuple[Where, str], tuple[Exception, int]] = {}
        if failed.at is not None:  # the batch was a try of the record it failed on
            span = next((i.span for i in items if i.at == failed.at), None)
            with _telemetry.in_span(span):  # logged with the record's trace id
                self._tried((failed.at, failed.consumer), failed, tries, exhausted)
        applied = 0
        for index, item in enumerate(items):
            # In the record's span: its retries and its dead letter log its trace id.
            with _telemetry.in_span(item.span):
                while True:
                    try:
                        applied += self._apply([item], watcher, exhausted)
                        break
                    except _HandlerFailed as again:
                        if self.options.dead_letter_topic is None:
                            self._committed(batch[:index])
                            rewind(self.consumer, batch[index:], self.log, self.who)
                            raise again.error from None
                        key = (item.at, again.consumer)
                        if self._tried(key, again, tries, exhausted):
                            continue  # the next round writes the dead letter
                        if self.stop.wait(backoff(tries[key])):
                            # Stopping: what was applied is committed, the rest comes again.
                            self._committed(batch[:index])
                            rewind(self.consumer, batch[index:], self.log, self.who)
                            return applied
                    except Exception:
                        self._committed(batch[:index])
                        rewind(self.consumer, batch[index:], self.log, self.who)
                        raise
        self._committed(batch)
        return applied

    def _tried(
        self,
        key: tuple[Where, str],
        failed: _HandlerFailed,
        tries: dict[tuple[Where, str], int],
        exhausted: dict[tuple[Where, str], tuple[Exception, int]],
    ) -> bool:
        """Count a failed try; True once the record has had all its tries."""
        tries[key] = tries.get(key, 0) + 1
        at = "{}[{}]@{}".format(*key[0])
        if tries[key] >= self.options.attempts:
            exhausted[key] = (failed.error, tries[key])
            self.log.warning(
                "%s: %s failed %d times for %s; dead-lettering it to %s",
                self.who,
                failed.consumer,
                tries[key],
                at,
                self.options.dead_letter_topic,
            )
            return True
        self.log.warning(
            "%s: %s failed for %s (try %d of %d): %s",
            self.who,
            failed.consumer,
            at,
            tries[key],
            self.options.attempts,
            error_text(failed.error).decode(),
        )
        return False

    # -- inbox retention -----------------------------------------------------------------

    def cleanup_when_due(self) -> None:
        now = time.monotonic()
        if self.options.retention is None or now < self._cleanup_due:
            return
        self._cleanup_due = now + self.options.cleanup_interval  # also when the database is away
        deleted = self.cleanup()
        if deleted:
            self.log.info("%s: removed %d inbox rows past retention", self.who, deleted)
        if deleted >= _CLEANUP_CHUNK * _CLEANUP_ROUNDS:
            self._cleanup_due = now  # more to go: again after the next batch

    def cleanup(self) -> int:
        """Delete this loop's inbox rows older than ``retention``, a chunk per transaction.

        Bounded: stops after a few chunks (the next call goes on); returns how many went.
        """
        retention = self.options.retention
        if retention is None:
            return 0
        deleted = 0
        for inbox in self.inboxes:
            for _ in range(_CLEANUP_ROUNDS):
                with self.store.sessions() as session, session.begin():
                    count = cleanup_inbox(
                        session.connection(), retention, group=inbox, chunk=_CLEANUP_CHUNK
                    )
                deleted += count
                if count < _CLEANUP_CHUNK:
                    break
        return deleted


def _ends(consumer: str, results: Sequence[Handled]) -> list[tuple[str, str, str]]:
    return [
        (consumer, r.decision.instance.instance_id, r.ended)
        for r in results
        if r.ended is not None and r.decision and r.decision.instance
    ]


def _away(error: BaseException) -> str:
    if isinstance(error, RegistryUnavailable):
        return "schema registry"
    if isinstance(error, TransportError):
        return "Kafka"
    return "database"


class _Blame:
    """An observer that remembers whose handling raised: when one input's did, the batch's
    failure is that input's first try; when several did at once (a participant's batch
    handler), none is blamed and the replay, one record per transaction, finds the one that
    fails. Passes everything on to ``inner``."""

    __slots__ = ("inner", "raised")

    def __init__(self, inner: Observer | None) -> None:
        self.inner = inner
        self.raised: list[str] = []  # the inputs whose watch an exception went through

    @property
    def input_id(self) -> str | None:
        """The input to blame for the failure, if one alone raised."""
        return self.raised[0] if len(self.raised) == 1 else None

    def watch(
        self, consumer: Consumer, inp: Input, subject: str, parent: object | None
    ) -> AbstractContextManager[Watch]:
        inner = (
            _UNWATCHED if self.inner is None else self.inner.watch(consumer, inp, subject, parent)
        )
        return _Blamed(self, inp.input_id, inner)


class _Blamed:
    """One input's watch, noting in its :class:`_Blame` whether an exception went through."""

    __slots__ = ("blame", "inner", "input_id")

    def __init__(self, blame: _Blame, input_id: str, inner: AbstractContextManager[Watch]) -> None:
        self.blame = blame
        self.input_id = input_id
        self.inner = inner

    def __enter__(self) -> Watch:
        return self.inner.__enter__()

    def __exit__(self, kind: type[BaseException] | None, *rest: Any) -> bool | None:
        if kind is not None:
            self.blame.raised.append(self.input_id)
        return self.inner.__exit__(kind, *rest)


class _Unwatched:
    """The watch of an input nobody observes: no trace context, nothing recorded."""

    traceparent = None

    def __enter__(self) -> _Unwatched:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def done(self, result: Handled) -> None:
        return None


_UNWATCHED = _Unwatched()
