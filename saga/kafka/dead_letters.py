"""Dead letters on Kafka: the headers a consumer adds to a record it gives up on.

A dead letter is the original record (key, value, headers) with ``dead-letter-*`` headers
added that say why, where it was read and who gave up on it. :func:`dead_letter_id` gives a
record whose envelope cannot be read an event id of its own, the same for every delivery.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from saga.contracts.envelope import Headers

__all__ = [
    "DEAD_LETTER_ERROR",
    "DEAD_LETTER_GROUP",
    "DEAD_LETTER_SOURCE",
    "dead_letter_headers",
    "dead_letter_id",
    "error_text",
]

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
