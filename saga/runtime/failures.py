"""What a consumer loop gives up on, what it waits out, and how long it must remember."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from uuid import UUID

import psycopg
from confluent_kafka import Message
from sqlalchemy.exc import InterfaceError, OperationalError

from saga.errors import SagaError
from saga.kafka.dead_letters import dead_letter_headers
from saga.kafka.records import headers_of, source
from saga.postgres.outbox import outbox_row

__all__ = ["dead_letter_row", "inbox_horizon", "is_outage"]

# Clocks of the broker and the database may disagree a little.
_SKEW = timedelta(hours=1)


def inbox_horizon(configs: Mapping[str, Mapping[str, str]]) -> timedelta | None:
    """How long inbox claims must be kept so that no record of these topics outlives its
    claim (None: forever): a group whose offsets expired, an offset reset or a new consumer
    reading from the earliest record would otherwise apply it again. Kafka deletes whole
    segments, once their newest record is past ``retention.ms``: a record may stay
    ``retention.ms`` + ``segment.ms``. A topic compacted only, or ``retention.ms`` -1,
    keeps records for good."""
    longest = timedelta(0)
    for values in configs.values():
        if "delete" not in values.get("cleanup.policy", "delete").split(","):
            return None  # compacted only: the last record of each key stays
        retention = int(values.get("retention.ms", "604800000"))
        if retention < 0:
            return None
        segment = int(values.get("segment.ms", "604800000"))
        longest = max(longest, timedelta(milliseconds=retention + segment))
    return longest + _SKEW


# SQLSTATE classes of a database that is away or busy, or of a lost race (serialization
# failure, deadlock): waiting and trying again helps. Any other state the server answers with
# (a statement or lock timeout, 57014 and 55P03) is the handler's own failure: retried a few
# times, then dead-lettered, never waited on forever while its partition stands still.
_AWAY_STATES = ("08", "40", "53", "57P", "58", "XX")


def is_outage(error: BaseException) -> bool:
    """Never dead-lettered: the database or a retriable dependency is away; waiting helps."""
    if isinstance(error, SagaError):
        return error.retriable
    if not isinstance(error, OperationalError | InterfaceError | psycopg.Error):
        return False
    driver = getattr(error, "orig", None) or error  # the driver's error under SQLAlchemy's
    state = getattr(driver, "sqlstate", None)
    if state is None:  # no answer from the server: the connection is gone
        return isinstance(driver, psycopg.OperationalError | psycopg.InterfaceError) or not (
            isinstance(driver, psycopg.Error)
        )
    return str(state).startswith(_AWAY_STATES)


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
