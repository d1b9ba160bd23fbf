"""The outbox writer: encodes before writing, never commits, refuses bad input clearly."""

from __future__ import annotations

import pytest

from saga.contracts.envelope import Envelope
from saga.errors import ConfigError, EncodeError
from saga.postgres.outbox import Outbox, OutboxEntry
from tests.integration.outbox._support import Ticked, serializer


def tick(n: int = 0, key: str = "k") -> Ticked:
    return Ticked(key=key, n=n, pad="p")


def test_rows_are_encoded_with_their_envelope_headers() -> None:
    outbox = Outbox(serializer(), producer="svc", topic="t")
    entry = OutboxEntry(tick(), Envelope.new(Ticked, correlation_id="saga-1", producer="svc"))
    [row], [stored] = outbox.rows([entry])
    assert row["topic"] == "t"
    assert row["key"] == b"saga-1"
    assert row["event_id"] == stored.event_id
    headers = dict(zip(row["header_names"], row["header_values"], strict=True))
    assert headers["event-type"] == b"test.outbox.Ticked"
    assert headers["correlation-id"] == b"saga-1"
    assert stored.schema == "test.outbox.Ticked/v1"


def test_a_bad_event_fails_before_any_row_exists() -> None:
    outbox = Outbox(serializer(), producer="svc", topic="t")
    good = OutboxEntry(tick(), Envelope.new(Ticked, correlation_id="a", producer="svc"))
    wrong = OutboxEntry(tick(), Envelope.new("other.Event", correlation_id="a", producer="svc"))
    with pytest.raises(EncodeError, match=r"Envelope\.new"):
        outbox.rows([good, wrong])


def test_follow_up_events_stay_in_their_saga() -> None:
    outbox = Outbox(serializer(), producer="svc", topic="t")
    cause = Envelope.new(Ticked, correlation_id="saga-9", producer="up")
    envelope = outbox.envelope_for(tick(), causation=cause)
    assert envelope.correlation_id == "saga-9"
    assert envelope.causation_id == cause.event_id
    with pytest.raises(EncodeError, match="stays in its saga"):
        outbox.envelope_for(tick(), correlation_id="other", causation=cause)
    with pytest.raises(EncodeError, match="correlation_id="):
        outbox.envelope_for(tick())


def test_topic_mapping_names_the_missing_event() -> None:
    outbox = Outbox(serializer(), producer="svc", topic={"x.Y": "t"})
    entry = OutboxEntry(tick(), Envelope.new(Ticked, correlation_id="a", producer="svc"))
    with pytest.raises(ConfigError, match=r"test\.outbox\.Ticked"):
        outbox.rows([entry])


def test_producer_name_is_required() -> None:
    with pytest.raises(ConfigError, match="producer="):
        Outbox(serializer(), producer="", topic="t")
