"""What one runtime hosts: sagas (each in one or more versions) and participants, and which
of them consume which event type.

Several versions of one saga may run side by side (a rolling upgrade): an instance stays
on the version it started with, new instances start on the newest, and an instance whose
version is not hosted here is parked with the reason instead of being crashed on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from saga.contracts.events import Event
from saga.definition.model import SagaDefinition
from saga.definition.participant import Participant
from saga.definition.saga import Saga, definition_of
from saga.engine.instance import Instance
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


Consumer = SagaVersions | Participant


@dataclass(frozen=True)
class Subscriptions:
    """Which hosted sagas and participants consume which event types."""

    sagas: Mapping[str, SagaVersions]
    participants: Sequence[Participant]
    by_event: Mapping[str, tuple[Consumer, ...]]

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
        by_event: dict[str, list[Consumer]] = {}
        everyone: list[Consumer] = [*hosted.values(), *hosts]
        for consumer in everyone:
            for key in consumer.consumes():
                by_event.setdefault(key, []).append(consumer)
        return cls(hosted, hosts, {k: tuple(v) for k, v in by_event.items()})

    def consumers(self, event_type: str) -> tuple[Consumer, ...]:
        return self.by_event.get(event_type, ())

    def all(self) -> list[Consumer]:
        return [*self.sagas.values(), *self.participants]

    def saga(self, name: str) -> SagaVersions:
        return self.sagas[name]
