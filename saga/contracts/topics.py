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
from collections.abc import Mapping
from dataclasses import dataclass, field

from saga.contracts.events import Event, event_name
from saga.errors import ConfigError

__all__ = ["TopicMap", "check_topic_name"]

_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")


@dataclass(frozen=True)
class TopicMap:
    """Event type (Avro full name) → topic. See the module docstring."""

    overrides: Mapping[str, str] = field(default_factory=dict)
    """Topics for event types (full names) or namespaces; the longest match wins."""
    prefix: str = ""

    def __post_init__(self) -> None:
        for topic in (*self.overrides.values(), self.prefix + "x"):
            check_topic_name(topic)

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


def check_topic_name(topic: str, what: str = "") -> str:
    """``topic`` if Kafka takes it as a topic name, else one :class:`ConfigError` naming the fix
    (``what``: how the caller names the option, e.g. ``dead_letter_topic``)."""
    if not _TOPIC.fullmatch(topic) or topic in {".", ".."}:
        label = f"{what} {topic!r} is not" if what else f"{topic!r} cannot be"
        raise ConfigError(
            f"{label} a Kafka topic name: use 1-249 characters from a-z, A-Z, 0-9, '.', '_' and '-'"
        )
    return topic
