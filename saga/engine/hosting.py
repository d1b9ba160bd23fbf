"""What one runtime hosts: sagas (each in one or more versions) and participants, and which
of them consume which event type.

Several versions of one saga may run side by side (a rolling upgrade): an instance stays
on the version it started with, new instances start on the newest, and an instance whose
version is not hosted here is parked with the reason instead of being crashed on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from saga.contracts.events import Event
from saga.contracts.topics import TopicMap
from saga.definition.model import SagaDefinition
from saga.definition.participant import Participant
from saga.definition.saga import Saga, definition_of
from saga.engine.instance import Instance
from saga.engine.messages import Message
from saga.errors import DefinitionError

SagaRef = type[Saga[Any]] | SagaDefinition


@dataclass(frozen=True)
class SagaVersions:
    """The versions of one saga a runtime hosts, newest last."""

    name: str
    versions: Mapping[int, SagaDefinition]

    @classmethod
    def group(cls, sagas: Iterable[SagaRef]) -> list[SagaVersions]:
        """Group definitions by saga name; two definitions of one name and version clash."""
        by_name: dict[str, dict[int, SagaDefinition]] = {}
        for saga in sagas:
            definition = definition_of(saga)
            versions = by_name.setdefault(definition.name, {})
            known = versions.get(definition.version)
            if known is not None and known is not definition:
                raise DefinitionError(
                    f"saga {definition.name} version {definition.version} is given twice "
                    f"({known.qualname} and {definition.qualname}): give each its own version="
                )
            versions[definition.version] = definition
        return [cls(name, dict(sorted(v.items()))) for name, v in by_name.items()]

    @property
    def newest(self) -> SagaDefinition:
        return self.versions[max(self.versions)]

    def for_instance(self, instance: Instance | None) -> SagaDefinition | None:
        """The definition an instance runs on (the newest for a new one); None: not hosted."""
        if instance is None:
            return self.newest
        return self.versions.get(instance.definition_version)

    def correlation_definition(self, event_type: str) -> SagaDefinition:
        """The newest version that consumes ``event_type`` (it says how to find the instance)."""
        for version in sorted(self.versions, reverse=True):
            if event_type in self.versions[version].correlation:
                return self.versions[version]
        return self.newest

    def consumes(self) -> dict[str, type[Event]]:
        found: dict[str, type[Event]] = {}
        for definition in self.versions.values():
            found.update(definition.consumes())
        return found

    def produces(self) -> dict[str, type[Event]]:
        found: dict[str, type[Event]] = {}
        for definition in self.versions.values():
            found.update(definition.produces())
        return found


@dataclass(frozen=True)
class Handler:
    """A plain function that applies every event it is given, ``function(session, message)``,
    in the unit of work's transaction: what :class:`~saga.runtime.InboxConsumer` hosts. It
    must not commit; it emits nothing by itself (it may write to an outbox of its own)."""

    name: str
    function: Callable[[Any, Message], None]

    def consumes(self) -> dict[str, type[Event]]:
        return {}  # every event on its topics: it is asked for no type

    def produces(self) -> dict[str, type[Event]]:
        return {}


Hosted = SagaVersions | Participant
"""What a worker hosts: sagas and participants (a :class:`Subscriptions` holds them)."""
Consumer = Hosted | Handler
"""Whatever claims inputs in an inbox of its own and handles them."""


@dataclass(frozen=True)
class Subscriptions:
    """Which hosted sagas and participants consume which event types."""

    sagas: Mapping[str, SagaVersions]
    participants: Sequence[Participant]
    by_event: Mapping[str, tuple[Hosted, ...]]

    @classmethod
    def of(cls, sagas: Iterable[SagaRef], participants: Iterable[Participant]) -> Subscriptions:
        hosted = {s.name: s for s in SagaVersions.group(sagas)}
        hosts = list(participants)
        names = [*hosted, *(p.name for p in hosts)]
        clash = sorted({n for n in names if names.count(n) > 1})
        if clash:
            raise DefinitionError(
                f"{', '.join(clash)}: a saga and a participant (or two participants) share a "
                "name, and with it an inbox; give each its own name"
            )
        by_event: dict[str, list[Hosted]] = {}
        everyone: list[Hosted] = [*hosted.values(), *hosts]
        for consumer in everyone:
            for key in consumer.consumes():
                by_event.setdefault(key, []).append(consumer)
        return cls(hosted, hosts, {k: tuple(v) for k, v in by_event.items()})

    def consumers(self, event_type: str) -> tuple[Hosted, ...]:
        return self.by_event.get(event_type, ())

    def all(self) -> list[Hosted]:
        return [*self.sagas.values(), *self.participants]

    def saga(self, name: str) -> SagaVersions:
        return self.sagas[name]


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

    def note(event_type: str, cls: type[Event], who: str, *, produces: bool) -> None:
        topic = topics.topic_for(cls)  # the class: its contract may mark it a request
        use = uses.setdefault(topic, TopicUse(topic))
        use.events.add(event_type)
        (use.producers if produces else use.consumers).add(who)

    for consumer in subscriptions.all():
        for event_type, cls in consumer.consumes().items():
            note(event_type, cls, consumer.name, produces=False)
        for event_type, cls in consumer.produces().items():
            note(event_type, cls, consumer.name, produces=True)
    return dict(sorted(uses.items()))


def passed_over(reader: Subscriptions, uses: Mapping[str, TopicUse]) -> dict[str, set[str]]:
    """The event types a worker hosting ``reader`` would read and pass over, by topic: those
    on the topics it reads that none of its sagas and participants consume. ``uses`` says
    what travels on each topic (:func:`topic_uses` of the reader and, to see their events
    too, the other services). Each such record is fetched, woken for and committed for
    nothing; requests on a topic of their own avoid it (see :mod:`saga.contracts.topics`)."""
    found: dict[str, set[str]] = {}
    for topic, use in uses.items():
        if use.events.isdisjoint(reader.by_event):
            continue  # not read by this worker
        skipped = use.events.difference(reader.by_event)
        if skipped:
            found[topic] = skipped
    return found
