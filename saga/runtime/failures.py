"""What a consumer loop gives up on, and what it waits out."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from confluent_kafka import Message
from sqlalchemy.exc import InterfaceError, OperationalError

from saga.errors import SagaError
from saga.kafka.dead_letters import dead_letter_headers
from saga.kafka.records import headers_of, source
from saga.postgres.outbox import outbox_row

__all__ = ["dead_letter_row", "is_outage"]


def is_outage(error: BaseException) -> bool:
    """Never dead-lettered: the database or a retriable dependency is away; waiting helps."""
    return isinstance(error, OperationalError | InterfaceError) or (
        isinstance(error, SagaError) and error.retriable
    )


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
