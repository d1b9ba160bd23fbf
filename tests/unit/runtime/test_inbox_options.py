"""InboxConsumer options: bad values fail at construction with a message naming the fix."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import sessionmaker

from saga.errors import ConfigError
from saga.runtime.inbox_consumer import InboxConsumer
from tests.integration.outbox._support import serializer


def build(**options: Any) -> InboxConsumer:
    # The constructor only keeps the consumer: nothing here talks to Kafka or PostgreSQL.
    return InboxConsumer(
        object(),  # type: ignore[arg-type]
        sessionmaker(),
        serializer(),
        "group",
        lambda session, decoded: None,
        **options,
    )


@pytest.mark.parametrize(
    "topic", ["", "x" * 250, "has space", "slash/topic", ".", "..", "ümlaut", "tab\t"]
)
def test_a_dead_letter_topic_kafka_would_refuse_is_a_config_error(topic: str) -> None:
    with pytest.raises(ConfigError, match=r"dead_letter_topic .* 1-249 characters from a-z"):
        build(dead_letter_topic=topic)


@pytest.mark.parametrize("topic", ["x" * 249, "a", "shop.orders-dlq_1", "..dlq"])
def test_legal_dead_letter_topics_are_accepted(topic: str) -> None:
    assert build(dead_letter_topic=topic).inbox.group == "group"


@pytest.mark.parametrize("attempts", [0, -1, True, 1.5, "3"])
def test_attempts_must_be_a_whole_number_of_one_or_more(attempts: object) -> None:
    with pytest.raises(ConfigError, match=r"attempts=.*1 or more"):
        build(dead_letter_topic="dlq", attempts=attempts)


@pytest.mark.parametrize("retention", [timedelta(0), timedelta(seconds=-1), 3600])
def test_retention_must_be_a_positive_timedelta_or_none(retention: object) -> None:
    with pytest.raises(ConfigError, match=r"retention=.*positive timedelta.*or None"):
        build(retention=retention)


@pytest.mark.parametrize("interval", [0, -1.0, math.nan, math.inf, False, "60"])
def test_cleanup_interval_must_be_positive_seconds(interval: object) -> None:
    with pytest.raises(ConfigError, match=r"cleanup_interval=.*positive number"):
        build(cleanup_interval=interval)


def test_defaults_and_edges_are_accepted() -> None:
    build()
    build(dead_letter_topic="dlq", attempts=1, retention=None, cleanup_interval=0.01)


def test_cleanup_without_retention_deletes_nothing_and_touches_no_database() -> None:
    # An unbound sessionmaker would fail on first use: cleanup must not open a session.
    assert build(retention=None).cleanup() == 0
