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
second replay is refused unless ``again=True``. Reading dead letters from Kafka is the
caller's business (published outbox rows are deleted after a while; the topic keeps them).
Functions take the caller's ``Session`` and never commit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from saga.contracts.envelope import Envelope
from saga.errors import DecodeError, OperationRefused
from saga.kafka.dead_letters import (
    DEAD_LETTER_ERROR,
    DEAD_LETTER_GROUP,
    DEAD_LETTER_SOURCE,
    dead_letter_id,
)
from saga.postgres import inbox
from saga.postgres.outbox import insert_rows, outbox_row
from saga.postgres.tables import inbox_table

__all__ = [
    "REPLAY_GROUP",
    "DeadLetter",
    "Replayed",
    "parse_position",
    "replay_dead_letter",
    "replayed_at",
]

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


def replay_dead_letter(session: Session, dead: DeadLetter, *, again: bool = False) -> Replayed:
    """Send the original record back to its topic through the outbox and release the
    claim of the consumer that gave up on it (see the module docstring)."""
    source = dead.source
    if source is None:
        raise OperationRefused(
            f"{dead.position} is not a dead letter: it has no readable {DEAD_LETTER_SOURCE} "
            "header (topic[partition]@offset)"
        )
    fresh = session.scalars(
        insert(inbox_table)
        .values(consumer_group=REPLAY_GROUP, event_id=dead.replay_id)
        .on_conflict_do_nothing(index_elements=["consumer_group", "event_id"])
        .returning(_i.event_id)
    ).all()
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
