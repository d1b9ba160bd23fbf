"""Consumed records and their offsets: what a consumer loop asks of Kafka.

The runtime's loop (:mod:`saga.runtime.loop`) polls batches, applies them in one database
transaction, commits Kafka offsets only after the database commit and seeks back to what
was not applied when the database is away. The Kafka side of that lives here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from saga.contracts.envelope import Envelope
from saga.errors import DecodeError
from saga.kafka.dead_letters import dead_letter_id

__all__ = [
    "Where",
    "commit_offsets",
    "consumer_config",
    "event_id_of",
    "headers_of",
    "rewind",
    "source",
    "where",
]

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
