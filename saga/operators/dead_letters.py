"""Dead letters sent back where they came from (``saga dead-letters replay``).

A dead letter is the original record (key, value, headers) with three headers added:
``dead-letter-error``, ``dead-letter-source`` (``topic[partition]@offset``) and
``dead-letter-group`` (the inbox the consumer that gave up on it claimed the event under,
so that a redelivery is skipped).

:func:`replay_dead_letter` writes the original record, without the ``dead-letter-*``
headers, to the outbox for its source topic and releases that claim, in the caller's
transaction: the consumer then handles it as new, and the other consumers of the topic,
which handled it already, skip it. Each dead letter is sent back once: the replay itself is
claimed in the inbox (group :data:`REPLAY_GROUP`, the dead letter's position as id), so a
second replay is refused unless ``again=True``. Functions that write take the caller's
``Session`` and never commit.

:func:`read_dead_letters` and :func:`fetch_dead_letters` read them from Kafka (published
outbox rows are deleted after a while; the topic keeps them) with the tail's reader, which
is assigned partitions and never joins or moves a consumer group.
"""

from __future__ import annotations

import fnmatch
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka import Message as KafkaMessage
from sqlalchemy import select
from sqlalchemy.orm import Session

from saga.contracts.envelope import Envelope
from saga.errors import ConfigError, DecodeError, OperationRefused, TransportError
from saga.kafka.dead_letters import (
    DEAD_LETTER_ERROR,
    DEAD_LETTER_GROUP,
    DEAD_LETTER_SOURCE,
    dead_letter_id,
)
from saga.kafka.reader import (
    Span,
    Start,
    choose_topics,
    plan,
    read,
    tail_consumer,
    topic_partitions,
)
from saga.kafka.records import headers_of
from saga.postgres import audit, inbox
from saga.postgres.inbox import driver_connection
from saga.postgres.outbox import insert_rows, outbox_row
from saga.postgres.tables import inbox_table
from saga.settings import Settings

__all__ = [
    "DEFAULT_TOPICS",
    "REPLAY_GROUP",
    "DeadLetter",
    "Replayed",
    "fetch_dead_letters",
    "parse_position",
    "parse_positions",
    "read_dead_letters",
    "replay_dead_letter",
    "replayed_at",
]

#: The topics :func:`read_dead_letters` reads when none is named: every worker's.
DEFAULT_TOPICS = "*.dead-letters"
Notice = Callable[[str], None]

#: The inbox group that records which dead letters were sent back.
REPLAY_GROUP = "saga-dead-letter-replays"
_POSITION = re.compile(r"(?P<topic>.+)\[(?P<partition>[0-9]+)\]@(?P<offset>[0-9]+)")
_DEAD_LETTER_HEADERS = frozenset((DEAD_LETTER_ERROR, DEAD_LETTER_SOURCE, DEAD_LETTER_GROUP))
_i = inbox_table.c


def parse_position(text: str) -> tuple[str, int, int] | None:
    """``topic[partition]@offset`` (how dead letters and the tail name a record), or None."""
    found = _POSITION.fullmatch(text.strip())
    if found is None:
        return None
    return found["topic"], int(found["partition"]), int(found["offset"])


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record read from a dead-letter topic, at ``topic[partition]@offset``."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    time: datetime | None = None

    @property
    def position(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"

    def header(self, name: str) -> str | None:
        value = next((v for n, v in reversed(self.headers) if n == name), None)
        return None if value is None else value.decode(errors="backslashreplace")

    @property
    def source(self) -> tuple[str, int, int] | None:
        """Where the consumer read the original record; None: not a dead letter."""
        text = self.header(DEAD_LETTER_SOURCE)
        return None if text is None else parse_position(text)

    @property
    def error(self) -> str:
        return self.header(DEAD_LETTER_ERROR) or ""

    @property
    def group(self) -> str:
        return self.header(DEAD_LETTER_GROUP) or ""

    @property
    def event_type(self) -> str:
        return self.header("event-type") or ""

    @property
    def original_headers(self) -> list[tuple[str, bytes | None]]:
        return [(n, v) for n, v in self.headers if n not in _DEAD_LETTER_HEADERS]

    @property
    def event_id(self) -> UUID:
        """The id the consumer claimed it under: the envelope's, or the one derived from the
        source position when the envelope cannot be read (as the consumer did)."""
        try:
            return Envelope.from_headers(self.original_headers).event_id
        except DecodeError:
            source = self.source
            if source is None:
                return dead_letter_id(self.topic, self.partition, self.offset)
            return dead_letter_id(*source)

    @property
    def replay_id(self) -> UUID:
        """The id a replay of this dead letter is claimed under (its own position)."""
        return dead_letter_id(self.topic, self.partition, self.offset)

    def to_json(self) -> dict[str, Any]:
        return {
            "dead_letter": self.position,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "time": None if self.time is None else self.time.isoformat(),
            "key": None if self.key is None else self.key.decode(errors="backslashreplace"),
            "event_type": self.event_type or None,
            "event_id": str(self.event_id),
            "source": self.header(DEAD_LETTER_SOURCE),
            "group": self.group,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class Replayed:
    dead_letter: DeadLetter
    topic: str
    """Where the original record goes back to."""
    released: str | None
    """The consumer group whose inbox claim was released (None: it held none any more)."""


def replay_dead_letter(
    session: Session, dead: DeadLetter, *, by: str, reason: str, again: bool = False
) -> Replayed:
    """Send the original record back to its topic through the outbox and release the
    claim of the consumer that gave up on it (see the module docstring); recorded with who
    and why."""
    audit.record(
        session.connection(),
        "dead-letters.replay",
        [dead.position],
        by=by,
        reason=reason,
        detail={"again": again},
    )
    source = dead.source
    if source is None:
        raise OperationRefused(
            f"{dead.position} is not a dead letter: it has no readable {DEAD_LETTER_SOURCE} "
            "header (topic[partition]@offset)"
        )
    fresh = inbox.claim(driver_connection(session), REPLAY_GROUP, [str(dead.replay_id)])
    if not fresh and not again:
        raise OperationRefused(
            f"dead letter {dead.position} was sent back already; --again sends it once more "
            "(its consumer then handles the event again)"
        )
    insert_rows(
        session,
        [
            outbox_row(
                topic=source[0],
                key=dead.key or b"",
                value=dead.value or b"",
                headers=dead.original_headers,
                event_id=dead.event_id,
                event_type=dead.event_type[:255],
            )
        ],
    )
    return Replayed(dead, source[0], _release(session, dead.group, dead.event_id))


def _release(session: Session, group: str, event_id: UUID) -> str | None:
    # The dead letter names the inbox its claim is under (saga.runtime.loop): release that one.
    return group if inbox.release(session.connection(), [(group, event_id)]) else None


def replayed_at(session: Session, dead_letters: Iterable[DeadLetter]) -> dict[str, datetime]:
    """When each of ``dead_letters`` was sent back (by position), for those that were."""
    by_id = {d.replay_id: d.position for d in dead_letters}
    if not by_id:
        return {}
    rows = session.execute(
        select(_i.event_id, _i.processed_at).where(
            _i.consumer_group == REPLAY_GROUP, _i.event_id.in_(list(by_id))
        )
    ).all()
    return {by_id[row.event_id]: row.processed_at for row in rows}


# -- reading them from Kafka -------------------------------------------------------------


@contextmanager
def _reader(
    settings: Settings, bootstrap: str, timeout: float
) -> Iterator[tuple[Consumer, dict[str, int]]]:
    consumer = tail_consumer(settings, bootstrap)
    try:
        yield consumer, topic_partitions(consumer, settings, bootstrap, timeout)
    finally:
        consumer.close()


def read_dead_letters(
    settings: Settings,
    bootstrap: str,
    targets: Sequence[str] = (),
    *,
    timeout: float = 10.0,
    notice: Notice | None = None,
) -> tuple[list[DeadLetter], int]:
    """The dead letters of the topics named or matched by ``targets`` (names, globs or
    ``^``regular expressions; :data:`DEFAULT_TOPICS` when none is), in topic, partition and
    offset order, and how many records were no dead letters. ``notice`` hears Kafka's
    passing complaints (a broker away)."""
    with _reader(settings, bootstrap, timeout) as (consumer, known):
        if targets:
            chosen = choose_topics(targets, known, bootstrap)
        else:
            chosen = sorted(t for t in known if fnmatch.fnmatchcase(t, DEFAULT_TOPICS))
        spans = plan(consumer, {t: known[t] for t in chosen}, Start("beginning"), timeout)
        found = [
            _dead_letter(m)
            for m in read(
                consumer, spans, follow=False, stop=threading.Event(), notice=notice or _quiet
            )
        ]
    letters = [d for d in found if d.source is not None]
    letters.sort(key=lambda d: (d.topic, d.partition, d.offset))
    return letters, len(found) - len(letters)


def parse_positions(texts: Sequence[str]) -> list[tuple[str, int, int]]:
    """``topic[partition]@offset`` texts as positions; one that is not is one line."""
    wanted = []
    for text in texts:
        position = parse_position(text)
        if position is None:
            raise ConfigError(
                f"{text[:80]!r} is not a position: write TOPIC[PARTITION]@OFFSET, as "
                "`saga dead-letters list` shows it"
            )
        wanted.append(position)
    return wanted


def fetch_dead_letters(
    settings: Settings,
    bootstrap: str,
    positions: Sequence[str] | Sequence[tuple[str, int, int]],
    *,
    timeout: float = 10.0,
    notice: Notice | None = None,
) -> list[DeadLetter]:
    """The dead letters at these positions (``topic[partition]@offset``, as text or parsed);
    a position that holds none, or a record that is not a dead letter, is one line."""
    wanted = [p if isinstance(p, tuple) else parse_positions([p])[0] for p in positions]
    letters = []
    with _reader(settings, bootstrap, timeout) as (consumer, known):
        for topic, partition, offset in wanted:
            choose_topics([topic], known, bootstrap)  # an unknown topic: one line, a hint
            if partition >= known[topic]:
                raise ConfigError(
                    f"{topic} has {known[topic]} partition(s): there is no partition {partition}"
                )
            dead = _fetch(consumer, topic, partition, offset, timeout, notice or _quiet)
            source = dead.source
            if source is None:
                raise ConfigError(
                    f"{dead.position} is not a dead letter: it has no readable "
                    "dead-letter-source header"
                )
            if source[0] not in known:
                raise ConfigError(
                    f"{dead.position} came from {source[0]}, which no longer exists: create it "
                    "first"
                )
            letters.append(dead)
    return letters


def _fetch(
    consumer: Consumer, topic: str, partition: int, offset: int, timeout: float, notice: Notice
) -> DeadLetter:
    try:
        low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=timeout, cached=False
        )
    except KafkaException as exc:
        raise TransportError(f"Kafka did not give {topic}[{partition}]'s offsets: {exc}") from None
    if not low <= offset < high:
        held = f"{low}..{high - 1}" if high > low else "nothing"
        raise ConfigError(f"no record at {topic}[{partition}]@{offset}: the partition holds {held}")
    spans = {(topic, partition): Span(offset, offset + 1)}
    for message in read(consumer, spans, follow=False, stop=threading.Event(), notice=notice):
        return _dead_letter(message)
    raise ConfigError(f"no record at {topic}[{partition}]@{offset} (aborted or compacted away)")


def _dead_letter(message: KafkaMessage) -> DeadLetter:
    kind, millis = message.timestamp()
    headers = tuple(
        (name, value.encode() if isinstance(value, str) else value)
        for name, value in headers_of(message)
    )
    return DeadLetter(
        topic=str(message.topic()),
        partition=message.partition() or 0,
        offset=message.offset() or 0,
        key=message.key(),
        value=message.value(),
        headers=headers,
        time=None if kind == 0 else datetime.fromtimestamp(millis / 1000, UTC),
    )


def _quiet(_: str) -> None:
    return None
