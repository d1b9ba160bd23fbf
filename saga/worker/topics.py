"""Which Kafka topic each event type travels on.

By default an event goes to the topic named after its contract's namespace:
``shop.orders.OrderPlaced`` travels on ``shop.orders``, so one service's events share a topic
and a consumer reads the topics of the namespaces it cares about. Override single event
types or whole namespaces with a mapping, and prefix every topic (e.g. per environment)::

    TopicMap({"shop.orders.OrderPlaced": "orders-v2", "shop.payments": "payments"}, prefix="prod.")

The message key is always the correlation id (:attr:`~saga.contracts.envelope.Envelope.key`),
so one saga's events stay in order on one partition of each topic. ``saga topics list`` shows
the map of a set of sagas and participants, and ``saga topics create`` makes the missing
topics; a worker refuses to start while one is missing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import OffsetSpec  # type: ignore[attr-defined]  # not re-exported
from confluent_kafka.cimpl import NewTopic

from saga._kafka_topics import admin_client, broker_topics, unreachable
from saga.contracts.events import Event, event_name
from saga.engine.hosting import Subscriptions
from saga.errors import ConfigError, TransportError

__all__ = ["TopicMap", "TopicUse", "create_topics", "existing_topics", "topic_uses"]

_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")


@dataclass(frozen=True)
class TopicMap:
    """Event type (Avro full name) → topic. See the module docstring."""

    overrides: Mapping[str, str] = field(default_factory=dict)
    """Topics for event types (full names) or namespaces; the longest match wins."""
    prefix: str = ""

    def __post_init__(self) -> None:
        for topic in (*self.overrides.values(), self.prefix + "x"):
            if not _TOPIC.fullmatch(topic) or topic in {".", ".."}:
                raise ConfigError(
                    f"{topic!r} cannot be a Kafka topic name: use 1-249 characters from a-z, "
                    "A-Z, 0-9, '.', '_' and '-'"
                )

    def topic_for(self, event: type[Event] | Event | str) -> str:
        name = event if isinstance(event, str) else event_name(event)
        scope = name
        while scope:
            if scope in self.overrides:
                return self.prefix + self.overrides[scope]
            scope = scope.rpartition(".")[0]
        namespace = name.rpartition(".")[0]
        if not namespace:
            raise ConfigError(
                f"event {name!r} has no namespace to name its topic after: give its contract a "
                "namespace or map it in TopicMap({...})"
            )
        return self.prefix + namespace


@dataclass
class TopicUse:
    """One topic, the event types on it, and who produces and consumes them."""

    topic: str
    events: set[str] = field(default_factory=set)
    producers: set[str] = field(default_factory=set)
    consumers: set[str] = field(default_factory=set)


def topic_uses(subscriptions: Subscriptions, topics: TopicMap) -> dict[str, TopicUse]:
    """The topics the hosted sagas and participants read and write, by topic name."""
    uses: dict[str, TopicUse] = {}

    def note(event_type: str, who: str, *, produces: bool) -> None:
        topic = topics.topic_for(event_type)
        use = uses.setdefault(topic, TopicUse(topic))
        use.events.add(event_type)
        (use.producers if produces else use.consumers).add(who)

    for consumer in subscriptions.all():
        for event_type in consumer.consumes():
            note(event_type, consumer.name, produces=False)
        for event_type in consumer.produces():
            note(event_type, consumer.name, produces=True)
    return dict(sorted(uses.items()))


def existing_topics(config: Mapping[str, Any], timeout: float = 15.0) -> dict[str, int]:
    """Topic name → partition count, as the broker knows them."""
    topics = broker_topics(admin_client(config), config, timeout)
    return {name: len(t.partitions) for name, t in topics.items() if t.error is None}


def create_topics(
    config: Mapping[str, Any],
    names: Iterable[str],
    *,
    partitions: int,
    replication_factor: int = -1,
    timeout: float = 30.0,
) -> list[str]:
    """Create the topics among ``names`` that do not exist yet; returns those created."""
    if partitions < 1:
        raise ConfigError(f"partitions={partitions}: give at least 1")
    known = existing_topics(config, timeout)
    missing = sorted(set(names) - set(known))
    if not missing:
        return []
    admin = admin_client(config)
    futures = admin.create_topics(
        [
            NewTopic(n, num_partitions=partitions, replication_factor=replication_factor)
            for n in missing
        ]
    )
    created: list[str] = []
    for name, future in futures.items():
        try:
            future.result(timeout)
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise TransportError(f"cannot create topic {name}: {exc}") from exc
        except TimeoutError as exc:
            raise unreachable(config, timeout, exc) from None
    _wait_until_writable(admin, created, partitions, time.monotonic() + timeout)
    return sorted(created)


def _wait_until_writable(admin: Any, names: list[str], partitions: int, deadline: float) -> None:
    """Return once every partition of ``names`` has a leader with its log loaded (it answers
    a ListOffsets). A record produced before that can be lost without an error: seen with
    an idempotent producer, whose first batch to a partition still loading was taken for a
    duplicate once the next one had been written."""
    latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
    waiting = {TopicPartition(n, p): latest for n in names for p in range(partitions)}
    attempt = 0
    while waiting:
        answers = admin.list_offsets(waiting, request_timeout=5)
        for tp, future in answers.items():
            try:
                future.result(10)
            except (KafkaException, TimeoutError):
                continue
            waiting.pop(tp, None)
        if waiting and time.monotonic() >= deadline:
            names_left = sorted({tp.topic for tp in waiting})
            raise TransportError(
                f"topics {', '.join(names_left)} were created but not all their partitions "
                "have a leader yet: check the broker (`saga stack logs kafka`) and try again"
            )
        attempt += 1
        if waiting:
            time.sleep(min(0.05 * attempt, 0.5))  # the broker loads the new partitions
