"""Dead letters read from Kafka for ``saga dead-letters``: the topics keep them after the
outbox rows that sent them are deleted. Read with the tail's reader, which is assigned
partitions and never joins or moves a consumer group."""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from confluent_kafka import KafkaException, TopicPartition

from saga.cli._tail_view import View
from saga.errors import ConfigError, TransportError
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
from saga.operators.dead_letters import DeadLetter, parse_position
from saga.settings import Settings

if TYPE_CHECKING:
    from confluent_kafka import Consumer
    from confluent_kafka import Message as KafkaMessage


@contextmanager
def _reader(timeout: float) -> Iterator[tuple[Consumer, dict[str, int], str]]:
    from saga.stack import resolve_endpoints

    if timeout <= 0:
        raise ConfigError(f"--timeout {timeout:g}: give a number of seconds above 0")
    settings = Settings()
    bootstrap = settings.kafka_bootstrap or resolve_endpoints(settings).kafka_bootstrap
    consumer = tail_consumer(settings, bootstrap)
    try:
        yield consumer, topic_partitions(consumer, settings, bootstrap, timeout), bootstrap
    finally:
        consumer.close()


def read_dead_letters(
    targets: Sequence[str], timeout: float, *, default: str
) -> tuple[list[DeadLetter], int]:
    """The dead letters of the topics named or matched (``default``, a glob, when none is),
    in topic, partition and offset order, and how many records were no dead letters."""
    with _reader(timeout) as (consumer, known, bootstrap):
        if targets:
            chosen = choose_topics(targets, known, bootstrap)
        else:
            chosen = sorted(t for t in known if fnmatch.fnmatchcase(t, default))
        spans = plan(consumer, {t: known[t] for t in chosen}, Start("beginning"), timeout)
        found = [
            _dead_letter(m)
            for m in read(consumer, spans, follow=False, stop=threading.Event(), notice=_notice)
        ]
    letters = [d for d in found if d.source is not None]
    return sorted(letters, key=lambda d: (d.topic, d.partition, d.offset)), len(found) - len(
        letters
    )


def fetch_dead_letters(texts: Sequence[str], timeout: float) -> list[DeadLetter]:
    """The dead letters at these positions (``topic[partition]@offset``); a position that
    holds none, or a record that is not a dead letter, is one line."""
    wanted = []
    for text in texts:
        position = parse_position(text)
        if position is None:
            raise ConfigError(
                f"{text[:80]!r} is not a position: write TOPIC[PARTITION]@OFFSET, as "
                "`saga dead-letters list` shows it"
            )
        wanted.append(position)
    letters = []
    with _reader(timeout) as (consumer, known, bootstrap):
        for topic, partition, offset in wanted:
            choose_topics([topic], known, bootstrap)  # an unknown topic: one line, a hint
            if partition >= known[topic]:
                raise ConfigError(
                    f"{topic} has {known[topic]} partition(s): there is no partition {partition}"
                )
            dead = _fetch(consumer, topic, partition, offset, timeout)
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
    consumer: Consumer, topic: str, partition: int, offset: int, timeout: float
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
    for message in read(consumer, spans, follow=False, stop=threading.Event(), notice=_notice):
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


def _notice(text: str) -> None:
    View().notice(text)
