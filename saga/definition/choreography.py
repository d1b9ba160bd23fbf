"""Checking that a set of sagas and participants fit together.

An event some saga or participant consumes but nobody produces will never arrive; an event
somebody produces but nobody consumes is lost work (or a missing handler). Events that come
from outside the set (an HTTP API publishing ``OrderPlaced``…) are passed as ``external``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from saga.contracts.events import Event, event_name
from saga.definition.model import SagaDefinition
from saga.definition.participant import Participant
from saga.definition.saga import Saga, definition_of


@dataclass(frozen=True)
class ChoreographyReport:
    """Events nobody produces and events nobody consumes, each with who is involved."""

    consumed_not_produced: dict[str, tuple[str, ...]]
    produced_not_consumed: dict[str, tuple[str, ...]]

    @property
    def ok(self) -> bool:
        return not self.consumed_not_produced and not self.produced_not_consumed

    def render(self) -> str:
        """A short human-readable report."""
        if self.ok:
            return "choreography ok: every consumed event is produced and vice versa\n"
        lines: list[str] = []
        for event, who in sorted(self.consumed_not_produced.items()):
            lines.append(f"consumed but never produced: {event} (consumed by {', '.join(who)})")
        for event, who in sorted(self.produced_not_consumed.items()):
            lines.append(f"produced but never consumed: {event} (produced by {', '.join(who)})")
        return "\n".join(lines) + "\n"


def check_choreography(
    sagas: Iterable[type[Saga[Any]] | SagaDefinition],
    participants: Iterable[Participant],
    *,
    external: Iterable[type[Event]] = (),
) -> ChoreographyReport:
    """Compare what the given sagas and participants consume with what they produce."""
    consumed: dict[str, list[str]] = {}
    produced: dict[str, list[str]] = {}
    for saga in sagas:
        d = definition_of(saga)
        for key in d.consumes():
            consumed.setdefault(key, []).append(f"saga {d.name}")
        for key in d.produces():
            produced.setdefault(key, []).append(f"saga {d.name}")
    for participant in participants:
        for key in participant.consumes():
            consumed.setdefault(key, []).append(f"participant {participant.name}")
        for key in participant.produces():
            produced.setdefault(key, []).append(f"participant {participant.name}")
    outside = {event_name(e) for e in external}
    return ChoreographyReport(
        consumed_not_produced={
            k: tuple(v) for k, v in consumed.items() if k not in produced and k not in outside
        },
        produced_not_consumed={k: tuple(v) for k, v in produced.items() if k not in consumed},
    )
