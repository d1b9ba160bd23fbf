"""Dead-letter pieces: derived event ids, headers, the error text cap, the outbox row."""

from __future__ import annotations

from uuid import UUID

import pytest

from saga.errors import DecodeError, EncodeError
from saga.kafka.dead_letters import (
    DEAD_LETTER_ERROR,
    DEAD_LETTER_GROUP,
    DEAD_LETTER_SOURCE,
    dead_letter_headers,
    dead_letter_id,
)
from saga.postgres.outbox import outbox_row
from saga.postgres.tables import lane_of


def error_header(error: BaseException) -> bytes | None:
    headers = dict(dead_letter_headers([], error=error, source="s[0]@0", group="g"))
    return headers[DEAD_LETTER_ERROR]


def test_derived_ids_are_stable_and_differ_by_position() -> None:
    first = dead_letter_id("orders", 2, 41)
    assert first == dead_letter_id("orders", 2, 41)
    assert isinstance(first, UUID)
    assert first.version == 5
    others = {dead_letter_id("orders", 2, 42), dead_letter_id("orders", 1, 41)}
    others |= {dead_letter_id("orders2", 2, 41), dead_letter_id("order", 22, 41)}
    assert first not in others
    assert len(others) == 4


def test_headers_keep_the_originals_in_order_then_add_the_three() -> None:
    original = [("event-id", b"1"), ("x", None), ("text", "é"), ("x", b"again")]
    headers = dead_letter_headers(
        original, error=ValueError("boom"), source="t[0]@5", group="payments"
    )
    assert headers == [
        ("event-id", b"1"),
        ("x", None),
        ("text", "é".encode()),
        ("x", b"again"),
        (DEAD_LETTER_ERROR, b"ValueError: boom"),
        (DEAD_LETTER_SOURCE, b"t[0]@5"),
        (DEAD_LETTER_GROUP, b"payments"),
    ]


def test_headers_of_a_message_without_headers() -> None:
    headers = dead_letter_headers(None, error=KeyError("k"), source="s[1]@0", group="g")
    assert [name for name, _ in headers] == [
        DEAD_LETTER_ERROR,
        DEAD_LETTER_SOURCE,
        DEAD_LETTER_GROUP,
    ]
    assert headers[0][1] == b"KeyError: 'k'"


def test_earlier_dead_letter_headers_are_replaced_not_repeated() -> None:
    earlier = [
        ("a", b"1"),
        (DEAD_LETTER_ERROR, b"old"),
        (DEAD_LETTER_SOURCE, b"old[0]@0"),
        (DEAD_LETTER_GROUP, b"old-group"),
    ]
    headers = dead_letter_headers(earlier, error=RuntimeError("new"), source="n[1]@2", group="g2")
    assert headers == [
        ("a", b"1"),
        (DEAD_LETTER_ERROR, b"RuntimeError: new"),
        (DEAD_LETTER_SOURCE, b"n[1]@2"),
        (DEAD_LETTER_GROUP, b"g2"),
    ]


def test_the_error_names_the_qualified_type_of_framework_errors() -> None:
    assert error_header(DecodeError("truncated")) == b"saga.errors.DecodeError: truncated"


@pytest.mark.parametrize("char", ["x", "é", "漢", "\U0001f600"])
def test_the_error_text_is_capped_at_one_kibibyte_of_valid_utf8(char: str) -> None:
    text = error_header(ValueError(char * 5000))
    assert text is not None
    assert 1000 < len(text) <= 1024
    assert text.endswith(b"...")
    assert text.decode().startswith("ValueError: " + char * 10)


def test_an_error_message_with_a_lone_surrogate_still_becomes_bytes() -> None:
    text = error_header(ValueError("bad \udc80 text"))
    assert text == b"ValueError: bad ? text"


def test_outbox_row_is_the_one_row_layout() -> None:
    event_id = UUID(int=7)
    row = outbox_row(
        topic="dlq",
        key=b"k",
        value=b"\x00\x01",
        headers=[("a", b"1"), ("b", None)],
        event_id=event_id,
        event_type="x.Y",
    )
    assert row == {
        "lane": lane_of(b"k"),
        "topic": "dlq",
        "key": b"k",
        "value": b"\x00\x01",
        "header_names": ["a", "b"],
        "header_values": [b"1", None],
        "event_id": event_id,
        "event_type": "x.Y",
    }


@pytest.mark.parametrize("topic", ["", "t" * 250])
def test_outbox_row_refuses_a_topic_kafka_would_refuse(topic: str) -> None:
    with pytest.raises(EncodeError, match="1-249 characters"):
        outbox_row(topic=topic, key=b"", value=b"", headers=[], event_id=UUID(int=1), event_type="")
