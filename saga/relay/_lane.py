"""One lane's transactional producer: publishes a batch of rows in one Kafka transaction.

The producer's ``transactional.id`` is fixed per relay name and lane, so a relay that takes
a lane over calls ``init_transactions`` and thereby fences every earlier producer of that
lane (a paused "zombie" relay cannot commit after that: its epoch is stale) and aborts any
transaction it left open. Kafka's producer epoch is the fencing token; the lease rows in
PostgreSQL only share the lanes out.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from saga._crashpoints import crash_point
from saga.observability import tracing as _telemetry
from saga.postgres.relay_store import PendingRow
from saga.relay._progress import encode_progress, lane_key

# Errors about one record that retrying cannot fix: the row is refused.
_PERMANENT = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.INVALID_RECORD,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.TOPIC_EXCEPTION,
        KafkaError.INVALID_REQUIRED_ACKS,
        KafkaError._INVALID_ARG,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
    }
)
# A transaction begun right after the lane's previous commit finds the coordinator still
# writing that commit's markers (CONCURRENT_TRANSACTIONS), and librdkafka retries only
# ~20 ms later: measured, 3 % of back-to-back transactions paid that, none with a 1 ms gap
# (2 ms leaves room for a loaded broker).
_COMMIT_GAP = 0.002


class LaneOutcome(Enum):
    """How a lane batch ended."""

    COMMITTED = "committed"  # every record of ``published`` is on Kafka, committed
    ABORTED = (
        "aborted"  # nothing became visible; ``refused`` rows must be marked refused, retry later
    )
    RESET = "reset"  # the producer is unusable (fenced, fatal, or stuck): recover the lane


@dataclass
class BatchResult:
    outcome: LaneOutcome
    published: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)
    """Rows known to be unpublishable: park them."""
    suspects: set[int] = field(default_factory=set)
    """Rows whose record batch the broker refused: one of them is bad, maybe not all."""
    error: str = ""
    produced: bool = False
    """Records of the batch went out before it was aborted: the producer must be replaced."""


def _describe(error: KafkaError) -> str:
    return f"{error.name()}: {error.str()}"


def _produce(producer: Producer, row: PendingRow, callback: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout  # the lease keeper counts on this bound
    while time.monotonic() < deadline:  # wait for room in the local queue
        try:
            producer.produce(
                row.topic,
                value=row.value,
                key=row.key,
                headers=row.headers,
                on_delivery=callback,
            )
            return
        except BufferError:
            producer.poll(0.05)
    raise KafkaException(KafkaError(KafkaError._QUEUE_FULL, "local queue stays full"))


@dataclass
class _Produced:
    """What :func:`_produce_rows` handed the producer: ``sent`` row ids, ``failed`` ones
    (refused at once, for good), and the ``publish <topic>`` spans of the sent traced rows."""

    sent: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    spans: list[Any] = field(default_factory=list)


def _produce_rows(
    producer: Producer,
    rows: list[PendingRow],
    lane: int,
    timeout: float,
    on_delivery: Any,
    out: _Produced,
) -> None:
    """Produce ``rows`` in order into ``out`` (filled as it goes, so that a caller whose
    batch fails part-way knows what went out); a row refused for good holds back the later
    rows of its key (they stay pending). Other errors raise ``KafkaException``."""
    blocked_keys: set[bytes] = set()
    traced = _telemetry.enabled()
    for row in rows:
        if row.key in blocked_keys:
            continue  # behind a refused row of its key: stays pending
        traceparent = _telemetry.traceparent_of(row.headers) if traced else None
        # A row written in no sampled trace gets no span: nothing to continue.
        span = None
        if traceparent and not _telemetry.sampled_out(traceparent):
            span = _telemetry.producer_span(row.topic, traceparent, lane)
            out.spans.append(span)
        try:
            _produce(producer, row, lambda e, m, rid=row.id: on_delivery(e, m, rid), timeout)
        except KafkaException as exc:
            error = exc.args[0]
            if error.code() not in _PERMANENT:
                raise
            out.failed[row.id] = _describe(error)
            blocked_keys.add(row.key)
            if span is not None:
                _telemetry.end_spans([out.spans.pop()], error.name())
            continue
        out.sent.append(row.id)


class LaneProducer:
    """The transactional producer of one lane, owned by one relay at a time."""

    def __init__(
        self,
        config: dict[str, Any],
        transactional_id: str,
        lane: int,
        progress_topic: str,
        *,
        outbox: uuid.UUID,
    ) -> None:
        self.lane = lane
        self._progress_topic = progress_topic
        self._outbox = outbox  # the identity every progress record carries
        self._producer = Producer({**config, "transactional.id": transactional_id})
        self._committed_at = 0.0

    def init(self, timeout: float) -> None:
        """Fence earlier producers of this lane; raises KafkaException when Kafka is away."""
        self._producer.init_transactions(timeout)

    def publish(
        self, rows: list[PendingRow], timeout: float, unmarked: Sequence[int] = ()
    ) -> BatchResult:
        """Produce ``rows`` (ascending ids, one lane) and their progress record atomically.

        ``unmarked`` are rows of this lane's earlier transactions that may not be marked in
        PostgreSQL yet: the progress record lists them too, so whoever recovers the lane
        after a crash marks them as well, even if this transaction is the last one.
        """
        delivery_errors: dict[int, str] = {}
        # Spans (``publish <topic>`` per traced record) end when the transaction ends.
        produced = _Produced()
        sent, failed, spans = produced.sent, produced.failed, produced.spans

        def on_delivery(error: KafkaError | None, message: Message, row_id: int) -> None:
            if error is not None and error.code() in _PERMANENT:
                delivery_errors[row_id] = _describe(error)

        pause = self._committed_at + _COMMIT_GAP - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        try:
            self._producer.begin_transaction()
            _produce_rows(self._producer, rows, self.lane, timeout, on_delivery, produced)
            if not sent:
                self._producer.abort_transaction(timeout)
                return BatchResult(LaneOutcome.ABORTED, refused=failed)
            self._producer.produce(
                self._progress_topic,
                key=lane_key(self.lane),
                value=encode_progress(self._outbox, sorted([*unmarked, *sent])),
                partition=self.lane,
            )
            crash_point("relay.before_commit")
            self._producer.commit_transaction(timeout)
        except KafkaException as exc:
            if spans:
                _telemetry.end_spans(spans, exc.args[0].name())
            return self._after_failure(exc.args[0], failed, delivery_errors, len(sent), timeout)
        if spans:
            _telemetry.end_spans(spans)
        self._committed_at = time.monotonic()
        crash_point("relay.after_commit")
        return BatchResult(LaneOutcome.COMMITTED, published=sent, refused=failed)

    def _after_failure(
        self,
        error: KafkaError,
        failed: dict[int, str],
        delivery_errors: dict[int, str],
        sent: int,
        timeout: float,
    ) -> BatchResult:
        if error.fatal() or not error.txn_requires_abort():
            # Fenced, fatal, or a commit whose outcome is unknown (e.g. timed out): only a
            # new producer's init_transactions settles it; recovery reads what committed.
            return BatchResult(LaneOutcome.RESET, refused=failed, error=_describe(error))
        try:
            self._producer.abort_transaction(timeout)
        except KafkaException as exc:
            return BatchResult(LaneOutcome.RESET, refused=failed, error=_describe(exc.args[0]))
        if sent == 1:  # alone in its transaction: the error is surely its own
            failed.update(delivery_errors)
            delivery_errors = {}
        return BatchResult(
            LaneOutcome.ABORTED,
            refused=failed,
            suspects=set(delivery_errors),
            error=_describe(error),
            produced=sent > 0,
        )

    def close(self) -> None:
        # Nothing to flush: an open transaction is aborted by the next owner's init. A
        # fenced (fatal) producer raises its error again here; it is known already.
        with contextlib.suppress(KafkaException):
            self._producer.poll(0)


class IdempotentLane:
    """One lane's idempotent producer, for ``delivery="at-least-once"``: no transaction,
    no progress record, no fencing. A row is marked published once the broker acknowledged
    the lane's whole batch; a relay that dies before marking, or a relay that lost its
    lease while publishing, publishes rows again, and every framework consumer drops the
    copies in its inbox (same event id).

    Per-key order of first deliveries holds: within one producer the broker appends a
    partition's records only in sequence, so what got through is a prefix of what was
    produced; and this producer never lets librdkafka skip a failed record and go on
    (``enable.gapless.guarantee``, and a message timeout longer than the relay waits). On
    any failure the batch is not marked and the producer is replaced, so the rows go out
    again in id order."""

    def __init__(self, config: dict[str, Any], lane: int, wait: float) -> None:
        self.lane = lane
        self._producer = Producer(
            {
                **config,
                "enable.gapless.guarantee": True,
                # The relay gives up (and replaces this producer) before librdkafka would
                # time a record out and carry on behind it.
                "message.timeout.ms": int((wait + 30) * 1000),
            }
        )

    def init(self, timeout: float) -> None:
        """Nothing to fence: another relay's copies are duplicates, dropped by inboxes."""

    def publish(
        self, rows: list[PendingRow], timeout: float, unmarked: Sequence[int] = ()
    ) -> BatchResult:
        """Produce ``rows`` (ascending ids, one lane) and wait for every acknowledgement."""
        del unmarked  # nothing to carry: rows not marked are published again
        delivery_errors: dict[int, tuple[str, bool]] = {}  # id: (error, permanent)
        produced = _Produced()
        sent, failed, spans = produced.sent, produced.failed, produced.spans

        def on_delivery(error: KafkaError | None, message: Message, row_id: int) -> None:
            if error is not None:
                delivery_errors[row_id] = (_describe(error), error.code() in _PERMANENT)

        try:
            _produce_rows(self._producer, rows, self.lane, timeout, on_delivery, produced)
            crash_point("relay.before_flush")
            left = self._producer.flush(timeout)
        except KafkaException as exc:
            if spans:
                _telemetry.end_spans(spans, exc.args[0].name())
            return BatchResult(
                LaneOutcome.ABORTED, refused=failed, error=_describe(exc.args[0]), produced=True
            )
        if left or delivery_errors:
            error = f"{left} records unacknowledged after {timeout:.0f}s" if left else ""
            if spans:
                _telemetry.end_spans(spans, "delivery failed")
            if len(sent) == 1 and delivery_errors.get(sent[0], ("", False))[1]:
                failed[sent[0]] = delivery_errors[sent[0]][0]  # alone: surely its own error
                return BatchResult(LaneOutcome.ABORTED, refused=failed, produced=True)
            permanent = {i for i, (_, p) in delivery_errors.items() if p}
            first = next(iter(delivery_errors.values()), ("", False))[0]
            return BatchResult(
                LaneOutcome.ABORTED,
                refused=failed,
                suspects=permanent,
                error=error or first,
                produced=True,
            )
        if spans:
            _telemetry.end_spans(spans)
        crash_point("relay.after_flush")
        return BatchResult(LaneOutcome.COMMITTED, published=sent, refused=failed)

    def close(self) -> None:
        # Records still queued are dropped: they are not marked, so they go out again.
        with contextlib.suppress(KafkaException):
            self._producer.purge()
            self._producer.poll(0)
