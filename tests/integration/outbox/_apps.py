"""The relay and a consumer as processes, for tests that kill them.

    python -m tests.integration.outbox._apps relay <db url> <bootstrap> [lease seconds] [batch]
    python -m tests.integration.outbox._apps consume <db url> <bootstrap> <topic> <group> [poison]

The consumer's effect: one ``effect`` row per applied event (no unique constraint, so an
event applied twice would show as two rows). SIGTERM stops either one cleanly. With
``poison`` = ``<key>:<n>``, the handler always fails for that event and the consumer
dead-letters it to ``<topic>-dlq`` (see :func:`dead_letter_topic_of`).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable

from confluent_kafka import Consumer
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from saga.contracts.serde import Decoded
from saga.relay.relay import Relay
from saga.runtime.inbox_consumer import InboxConsumer, consumer_config
from tests.integration.outbox._support import Ticked, engine_for, serializer

EFFECT_DDL = (
    "CREATE TABLE IF NOT EXISTS effect (seq bigserial PRIMARY KEY, key text NOT NULL, "
    "n bigint NOT NULL, event_id uuid NOT NULL)"
)


def _stop_on_term() -> threading.Event:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop


def relay(url: str, bootstrap: str, lease: str = "10", batch: str = "5000") -> None:
    Relay(url, bootstrap, lease_seconds=float(lease), poll_interval=0.2, batch_size=int(batch)).run(
        _stop_on_term()
    )


def apply_tick(session: Session, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, Ticked)
    session.execute(
        text("INSERT INTO effect (key, n, event_id) VALUES (:k, :n, :e)"),
        {"k": event.key, "n": event.n, "e": decoded.envelope.event_id},
    )


def dead_letter_topic_of(topic: str) -> str:
    return f"{topic}-dlq"


def failing_for(poison: str) -> Callable[[Session, Decoded], None]:
    """``apply_tick``, except that it raises for the event ``<key>:<n>``."""
    key, _, n = poison.rpartition(":")

    def apply(session: Session, decoded: Decoded) -> None:
        event = decoded.event
        assert isinstance(event, Ticked)
        if event.key == key and event.n == int(n):
            raise RuntimeError(f"poison event {poison}")
        apply_tick(session, decoded)

    return apply


def consume(url: str, bootstrap: str, topic: str, group: str, poison: str = "") -> None:
    stop = _stop_on_term()
    engine = engine_for(url)
    # A short session so a killed consumer's partitions move on quickly.
    base = {
        "bootstrap.servers": bootstrap,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
    }
    consumer = Consumer(consumer_config(base, group))
    consumer.subscribe([topic])
    if poison:
        loop = InboxConsumer(
            consumer,
            sessionmaker(engine),
            serializer(),
            group,
            failing_for(poison),
            batch_size=100,
            dead_letter_topic=dead_letter_topic_of(topic),
            attempts=2,
        )
    else:
        loop = InboxConsumer(
            consumer, sessionmaker(engine), serializer(), group, apply_tick, batch_size=100
        )
    try:
        loop.run(stop)
    finally:
        consumer.close()
        engine.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    command, *arguments = sys.argv[1:]
    {"relay": relay, "consume": consume}[command](*arguments)
