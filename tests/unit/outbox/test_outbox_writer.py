"""The outbox writer: encodes before writing, never commits, refuses bad input clearly."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

from saga.contracts.envelope import Envelope
from saga.errors import ConfigError, EncodeError
from saga.outbox.writer import Outbox, OutboxEntry
from tests.integration.outbox._support import Ticked, serializer


class Recording:
    """A Session stand-in that records executed statements (no database needed)."""

    def __init__(self) -> None:
        self.executed: list[tuple[Any, Any]] = []
        self.commits = 0

    def execute(self, statement: Any, params: Any = None) -> None:
        self.executed.append((statement, params))

    def commit(self) -> None:
        self.commits += 1


def tick(n: int = 0, key: str = "k") -> Ticked:
    return Ticked(key=key, n=n, pad="p")


def test_add_stores_encoded_rows_and_never_commits() -> None:
    session = Recording()
    outbox = Outbox(serializer(), producer="svc", topic="t")
    stored = outbox.add(session, tick(), correlation_id="saga-1")  # type: ignore[arg-type]
    assert session.commits == 0
    [(_, rows)] = session.executed
    [row] = rows
    assert row["topic"] == "t"
    assert row["key"] == b"saga-1"
    assert row["event_id"] == stored.event_id
    headers = dict(zip(row["header_names"], row["header_values"], strict=True))
    assert headers["event-type"] == b"test.outbox.Ticked"
    assert headers["correlation-id"] == b"saga-1"
    assert stored.schema == "test.outbox.Ticked/v1"


def test_a_bad_event_fails_before_anything_is_written() -> None:
    session = Recording()
    outbox = Outbox(serializer(), producer="svc", topic="t")
    good = OutboxEntry(tick(), Envelope.new(Ticked, correlation_id="a", producer="svc"))
    wrong = OutboxEntry(tick(), Envelope.new("other.Event", correlation_id="a", producer="svc"))
    with pytest.raises(EncodeError, match=r"Envelope\.new"):
        outbox.add_all(session, [good, wrong])  # type: ignore[arg-type]
    assert session.executed == []


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
    with pytest.raises(ConfigError, match=r"test\.outbox\.Ticked"):
        outbox.add(Recording(), tick(), correlation_id="a")  # type: ignore[arg-type]


def test_producer_name_is_required() -> None:
    with pytest.raises(ConfigError, match="producer="):
        Outbox(serializer(), producer="", topic="t")


def test_rows_reach_the_callers_transaction_only() -> None:
    # SQLite cannot hold the outbox (arrays), so check the statement reaches the session's
    # connection inside its transaction without a commit, by listening to the engine.
    engine = create_engine("sqlite://")
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2].split()[0]))
    with Session(engine) as session, session.begin():
        with pytest.raises(Exception):  # noqa: B017,PT011 - sqlite has no saga_outbox table
            Outbox(serializer(), producer="svc", topic="t").add(session, tick(), correlation_id="a")
        assert seen == ["INSERT"]
    engine.dispose()
