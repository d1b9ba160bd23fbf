"""Reading saga topics with manual offsets: what every consumer loop shares.

The inbox consumer (:mod:`saga.outbox.inbox`) and the saga worker poll batches, apply them
in one database transaction, commit Kafka offsets only after the database commit, seek back
to what was not applied when the database is away, and write what they give up on to a
dead-letter topic through the outbox. The pieces of that loop live here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid5

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from sqlalchemy.exc import InterfaceError, OperationalError

from saga.contracts.envelope import Envelope, Headers
from saga.errors import DecodeError, SagaError
from saga.outbox.writer import outbox_row

Where = tuple[str, int, int]  # topic, partition, offset


def consumer_config(base: dict[str, Any], group: str) -> dict[str, Any]:
    """A librdkafka consumer config for a consumer loop: manual commits, committed reads."""
    return {
        **base,
        "group.id": group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
    }


def where(message: Message) -> Where:
    return str(message.topic()), message.partition() or 0, message.offset() or 0


def source(message: Message) -> str:
    """``topic[partition]@offset``: where a message was read (for logs and dead letters)."""
    topic, partition, offset = where(message)
    return f"{topic}[{partition}]@{offset}"


def headers_of(message: Message) -> list[tuple[str, bytes | str | None]]:
    headers = message.headers()
    if headers is None:
        return []
    if isinstance(headers, dict):
        return list(headers.items())
    return list(headers)


def is_outage(error: BaseException) -> bool:
    """Never dead-lettered: the database or a retriable dependency is away; waiting helps."""
    return isinstance(error, OperationalError | InterfaceError) or (
        isinstance(error, SagaError) and error.retriable
    )


def commit_offsets(
    consumer: Consumer, batch: Sequence[Message], log: logging.Logger, who: str
) -> None:
    """Commit the offsets after ``batch`` (synchronously); a lost partition only warns."""
    if not batch:
        return
    nxt: dict[tuple[str, int], int] = {}
    for message in batch:
        at = (str(message.topic()), message.partition() or 0)
        nxt[at] = max(nxt.get(at, 0), (message.offset() or 0) + 1)
    offsets = [TopicPartition(t, p, o) for (t, p), o in nxt.items()]
    try:
        consumer.commit(offsets=offsets, asynchronous=False)
    except KafkaException as exc:
        # Lost the partitions in a rebalance: the next owner redelivers, the inbox skips.
        log.warning("%s: offsets not committed: %s", who, exc)


def rewind(consumer: Consumer, unapplied: Sequence[Message], log: logging.Logger, who: str) -> None:
    """Fetch ``unapplied`` again on the next poll: the consumer has moved past them."""
    first: dict[tuple[str, int], int] = {}
    for message in unapplied:
        at = (str(message.topic()), message.partition() or 0)
        first[at] = min(first.get(at, message.offset() or 0), message.offset() or 0)
    for (topic, partition), offset in first.items():
        try:
            consumer.seek(TopicPartition(topic, partition, offset))
        except KafkaException as exc:
            # Not ours any more: the next owner starts from the committed offset.
            log.warning("%s: cannot rewind %s[%d]: %s", who, topic, partition, exc)


def event_id_of(message: Message) -> UUID:
    """The event id in a message's envelope, or one derived from its position."""
    try:
        return Envelope.from_headers(headers_of(message)).event_id
    except DecodeError:
        return dead_letter_id(*where(message))


def dead_letter_row(
    message: Message, *, topic: str, error: BaseException, group: str, event_id: UUID
) -> dict[str, Any]:
    """The outbox row that sends ``message`` as it came to the dead-letter ``topic``."""
    headers = headers_of(message)
    event_type = next((v for n, v in headers if n == "event-type"), None)
    if isinstance(event_type, bytes):
        event_type = event_type.decode(errors="replace")
    return outbox_row(
        topic=topic,
        key=message.key() or b"",
        value=message.value() or b"",
        headers=dead_letter_headers(headers, error=error, source=source(message), group=group),
        event_id=event_id,
        event_type=(event_type or "")[:255],
    )


#: Header of a dead letter: ``<exception type>: <message>`` (UTF-8, at most 1 KiB).
DEAD_LETTER_ERROR = "dead-letter-error"
#: Header of a dead letter: where it was read, ``topic[partition]@offset``.
DEAD_LETTER_SOURCE = "dead-letter-source"
#: Header of a dead letter: the consumer group that gave up on it.
DEAD_LETTER_GROUP = "dead-letter-group"
_DEAD_LETTER_NAMES = frozenset((DEAD_LETTER_ERROR, DEAD_LETTER_SOURCE, DEAD_LETTER_GROUP))
_MAX_ERROR = 1024
# Namespace of the ids derived from a message's position (fixed: ids must not change).
_POSITION_IDS = UUID("462769f8-9d62-4294-a378-27118f58fb02")


def dead_letter_id(topic: str, partition: int, offset: int) -> UUID:
    """The event id of a message whose envelope cannot be read: the same for every delivery."""
    return uuid5(_POSITION_IDS, f"{topic}/{partition}/{offset}")


def dead_letter_headers(
    headers: Headers, *, error: BaseException, source: str, group: str
) -> list[tuple[str, bytes | None]]:
    """The original headers, then the three ``dead-letter-*`` headers.

    Earlier ``dead-letter-*`` headers (an event dead-lettered before, sent back and failed
    again) are replaced: a reader finds one of each, about the latest failure.
    """
    kept = [
        (name, value.encode() if isinstance(value, str) else value)
        for name, value in headers or ()
        if name not in _DEAD_LETTER_NAMES
    ]
    return [
        *kept,
        (DEAD_LETTER_ERROR, error_text(error)),
        (DEAD_LETTER_SOURCE, source.encode()),
        (DEAD_LETTER_GROUP, group.encode()),
    ]


def error_text(error: BaseException) -> bytes:
    """``<exception type>: <message>``, cut to 1 KiB."""
    kind = type(error)
    name = kind.__qualname__
    if kind.__module__ != "builtins":
        name = f"{kind.__module__}.{name}"
    text = f"{name}: {error}".encode(errors="replace")
    if len(text) <= _MAX_ERROR:
        return text
    return text[: _MAX_ERROR - 3].decode(errors="ignore").encode() + b"..."
