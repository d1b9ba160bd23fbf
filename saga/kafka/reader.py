"""Reading topics for ``saga tail`` without touching any consumer group.

The consumer is given partitions with :meth:`~confluent_kafka.Consumer.assign` at offsets
worked out here; it never subscribes (so it never joins a group) and never commits.
librdkafka insists on a ``group.id``: it gets a throwaway one that no broker ever hears of
as a member or an owner of offsets. Without ``--follow`` the end of each partition is its
end when the tail starts (the last stable offset for committed reads), so a busy topic
still ends.
"""

from __future__ import annotations

import difflib
import fnmatch
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from saga.errors import ConfigError, TransportError
from saga.kafka.admin import broker_topics
from saga.settings import KafkaValue, Settings

Partition = tuple[str, int]
_GLOB = re.compile(r"[*?\[]")
_LIST_HINT = "`saga tail --list-topics` lists them"
_CLIENT_LOG = logging.getLogger("saga.cli.tail.kafka")
_CLIENT_LOG.addHandler(logging.NullHandler())


def tail_consumer(
    settings: Settings, bootstrap: str, *, read_uncommitted: bool = False
) -> Consumer:
    """A consumer that only reads what it is assigned (see the module docstring)."""
    overrides: dict[str, KafkaValue] = {
        "group.id": f"saga-tail-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "isolation.level": "read_uncommitted" if read_uncommitted else "read_committed",
        "auto.offset.reset": "earliest",  # an offset that retention deleted meanwhile
        "client.id": "saga-tail",
    }
    # librdkafka logs every failed connection to stderr; the tail reports trouble itself.
    return Consumer({**settings.kafka_config(bootstrap, **overrides), "logger": _CLIENT_LOG})


def topic_partitions(
    consumer: Consumer, settings: Settings, bootstrap: str, timeout: float
) -> dict[str, int]:
    """Every topic on the broker and its partition count."""
    topics = broker_topics(consumer, settings.kafka_config(bootstrap), timeout)
    return {name: len(topic.partitions) for name, topic in topics.items()}


def _text(exc: KafkaException) -> KafkaException:
    """The client's own words, without the KafkaError{code=...} wrapping."""
    error = exc.args[0] if exc.args else None
    return KafkaException(error.str()) if isinstance(error, KafkaError) else exc


def choose_topics(wanted: Sequence[str], known: Mapping[str, int], bootstrap: str) -> list[str]:
    """The topics named or matched: ``^...`` is a regular expression (searched, as Kafka's
    pattern subscriptions are), a name with ``*``, ``?`` or ``[`` a glob, anything else a
    topic name. Patterns skip Kafka's internal ``__`` topics."""
    chosen: set[str] = set()
    public = sorted(name for name in known if not name.startswith("__"))
    for item in wanted:
        if item.startswith("^"):
            try:
                pattern = re.compile(item)
            except re.error as exc:
                raise ConfigError(
                    f"{item!r} is not a regular expression ({exc}): write e.g. '^shop\\..*'"
                ) from None
            found = [name for name in public if pattern.search(name)]
        elif _GLOB.search(item):
            found = [name for name in public if fnmatch.fnmatchcase(name, item)]
        elif item in known:
            found = [item]
        else:
            close = difflib.get_close_matches(item, public, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"topic {item!r} does not exist on the broker at {bootstrap}{hint}: {_LIST_HINT}"
            )
        if not found:
            raise ConfigError(
                f"no topic on the broker at {bootstrap} matches {item!r}: {_LIST_HINT}"
            )
        chosen.update(found)
    return sorted(chosen)


@dataclass(frozen=True, slots=True)
class Start:
    """Where each partition is read from: ``beginning``, ``end``, an ``offset`` (negative:
    that many before the end) or a ``time``."""

    kind: str
    offset: int = 0
    time: datetime | None = None


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    """The partition's end when the tail started."""


def start_offset(start: Start, low: int, high: int, at_time: int | None = None) -> int:
    """The first offset to read of a partition holding ``low``..``high`` (exclusive);
    ``at_time`` is the broker's answer for a ``time`` start (-1: nothing that late)."""
    if start.kind == "beginning":
        return low
    if start.kind == "end":
        return high
    if start.kind == "time":
        return high if at_time is None or at_time < 0 else max(low, min(at_time, high))
    wanted = start.offset if start.offset >= 0 else high + start.offset
    return max(low, min(wanted, high))


def plan(
    consumer: Consumer,
    topics: Mapping[str, int],
    start: Start,
    timeout: float,
) -> dict[Partition, Span]:
    """Start and end offset of every partition of ``topics`` (name → partition count)."""
    partitions = [(t, p) for t, count in sorted(topics.items()) for p in range(count)]
    times: dict[Partition, int] = {}
    try:
        if start.kind == "time" and partitions:
            assert start.time is not None
            millis = int(start.time.timestamp() * 1000)
            query = [TopicPartition(t, p, millis) for t, p in partitions]
            for found in consumer.offsets_for_times(query, timeout=timeout):
                times[(found.topic, found.partition)] = found.offset
        spans = {}
        for t, p in partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(t, p), timeout=timeout, cached=False
            )
            spans[(t, p)] = Span(start_offset(start, low, high, times.get((t, p))), high)
    except KafkaException as exc:
        raise TransportError(
            f"Kafka did not give the partitions' offsets within {timeout:g}s "
            f"({_text(exc)}): try again or raise --timeout"
        ) from None
    return spans


def read(
    consumer: Consumer,
    spans: Mapping[Partition, Span],
    *,
    follow: bool,
    stop: threading.Event,
    notice: Callable[[str], None],
    idle: Callable[[bool], None] = lambda caught_up: None,
) -> Iterator[Message]:
    """The records of every partition from its start: up to its end, or on and on with
    ``follow``, until ``stop`` is set. ``notice`` hears of trouble the client retries
    (a broker away); ``idle`` is called when a poll brings nothing."""
    pending = {at for at, span in spans.items() if span.start < span.end}
    assigned = [
        TopicPartition(t, p, s.start) for (t, p), s in spans.items() if follow or s.start < s.end
    ]
    if not assigned:
        return
    consumer.assign(assigned)
    told: set[int] = set()
    while not stop.is_set() and (follow or pending):
        batch = consumer.consume(500, timeout=0.25)
        if not batch:
            idle(not pending)
        for message in batch:
            error = message.error()
            at = (str(message.topic()), message.partition() or 0)
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    pending.discard(at)
                elif error.fatal() or error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise TransportError(f"Kafka stopped the tail: {error.str()}")
                elif error.code() not in told:  # retried by the client: say it once
                    told.add(error.code())
                    notice(f"Kafka: {error.str()} (retrying)")
                continue
            offset = message.offset() or 0
            if not follow:
                end = spans[at].end
                if offset + 1 >= end and at in pending:
                    pending.discard(at)
                    consumer.pause([TopicPartition(*at)])  # fetch no more of it
                if offset >= end:  # written after the tail started
                    continue
            yield message
