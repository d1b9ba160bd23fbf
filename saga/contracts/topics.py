"""Which Kafka topic each event type travels on.

By default an event goes to the topic named after its contract's namespace:
``shop.orders.OrderPlaced`` travels on ``shop.orders``, so one service's events share a topic
and a consumer reads the topics of the namespaces it cares about.

**Requests get a topic of their own.** A contract marked ``"role": "request"`` (an event
that asks a service to act: a saga step's request or compensation, a command) travels on
``<namespace>.requests``; answers and announcements stay on ``<namespace>``::

    {"type": "record", "name": "AuthorizePayment", "namespace": "shop.payments",
     "role": "request", "fields": [...]}        # travels on shop.payments.requests

Without the mark, a service that answers requests reads its own answers back (they share
the topic with the requests it consumes), and a saga reads back the requests it sends:
every such record is fetched, woken for and committed, then passed over. A worker says so
when it starts, and ``saga topics list MODULE... --workers`` shows, per worker, the event
types it would read and pass over. The mark is part of the contract, which every process
that writes or reads the event already has, so writers and readers cannot disagree on the
topic; every version of one event type carries the same role (checked when ``avro/``
loads). Like any custom attribute, it changes neither the fingerprint nor compatibility.
Marking an event already in use moves it to another topic: let its old topic drain first.

Override single event types or whole namespaces with a mapping, and prefix every topic
(e.g. per environment); a namespace's override also names its requests' topic::

    TopicMap({"shop.orders.OrderPlaced": "orders-v2", "shop.payments": "payments"}, prefix="prod.")
    # shop.payments.PaymentAuthorized → prod.payments; shop.payments.AuthorizePayment →
    # prod.payments.requests; an event type's own override is taken as it is

The message key is always the correlation id (:attr:`~saga.contracts.envelope.Envelope.key`),
so one saga's events stay in order on one partition of each topic. ``saga topics list`` shows
the map of a set of sagas and participants, and ``saga topics create`` makes the missing
topics; a worker refuses to start while one is missing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from saga.contracts.events import Event, contract_of, event_name, registered_events
from saga.errors import ConfigError, DefinitionError

__all__ = [
    "REQUEST",
    "REQUESTS_SUFFIX",
    "TopicMap",
    "check_topic_name",
    "contract_role",
    "is_request",
]

_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")

REQUEST = "request"
"""The one role a contract may declare (``"role": "request"``)."""
REQUESTS_SUFFIX = ".requests"
"""What a request's topic adds to its namespace's topic."""


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
        """The topic of an event class, instance or full name (a name must be of a class
        declared in this process: its contract says whether it is a request)."""
        name = event if isinstance(event, str) else event_name(event)
        if name in self.overrides:
            return self.prefix + self.overrides[name]
        namespace = scope = name.rpartition(".")[0]
        while scope and scope not in self.overrides:
            scope = scope.rpartition(".")[0]
        base = self.overrides[scope] if scope else namespace
        if not base:
            raise ConfigError(
                f"event {name!r} has no namespace to name its topic after: give its contract a "
                "namespace or map it in TopicMap({...})"
            )
        return self.prefix + base + (REQUESTS_SUFFIX if is_request(event) else "")


def is_request(event: type[Event] | Event | str) -> bool:
    """Whether the event's contract is marked ``"role": "request"`` (see the module
    docstring); a full name is looked up among the event classes declared in this process."""
    if isinstance(event, str):
        cls = registered_events().get(event)
        if cls is None:
            raise ConfigError(
                f"no event class is declared for {event!r} in this process, so its contract, "
                "which says whether it is a request and so its topic, is unknown: import the "
                "module that declares it"
            )
        event = cls
    schema = contract_of(event)
    return schema is not None and contract_role(schema, event_name(event)) == REQUEST


def contract_role(schema: Mapping[str, Any], where: str) -> str | None:
    """The role a contract declares (``"request"``) or None; any other value raises one
    :class:`~saga.errors.DefinitionError` naming ``where``."""
    role = schema.get("role")
    if role is None or role == REQUEST:
        return role
    raise DefinitionError(
        f'{where}: "role": {json.dumps(role)} is not a role: mark an event that asks a service '
        f'to act with "role": "{REQUEST}" (it travels on <namespace>{REQUESTS_SUFFIX}); '
        "leave answers and announcements unmarked"
    )


def check_topic_name(topic: str, what: str = "") -> str:
    """``topic`` if Kafka takes it as a topic name, else one :class:`ConfigError` naming the fix
    (``what``: how the caller names the option, e.g. ``dead_letter_topic``)."""
    if not _TOPIC.fullmatch(topic) or topic in {".", ".."}:
        label = f"{what} {topic!r} is not" if what else f"{topic!r} cannot be"
        raise ConfigError(
            f"{label} a Kafka topic name: use 1-249 characters from a-z, A-Z, 0-9, '.', '_' and '-'"
        )
    return topic
