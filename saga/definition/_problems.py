"""Collecting definition problems so that one DefinitionError reports them all."""

from __future__ import annotations

from dataclasses import dataclass, field

from saga.definition.declarations import Signal
from saga.errors import DefinitionError


@dataclass
class Problems:
    """Problems found in one saga, each naming the saga, state, step and event."""

    saga: str
    lines: list[str] = field(default_factory=list)

    def add(
        self,
        problem: str,
        *,
        state: str | None = None,
        step: str | None = None,
        event: object = None,
    ) -> None:
        where = [f"saga {self.saga}"]
        if state is not None:
            where.append(f"state {state}")
        if step is not None:
            where.append(f"step {step}")
        if event is not None:
            where.append(f"event {_label(event)}")
        self.lines.append(f"{', '.join(where)}: {problem}")

    def raise_if_any(self) -> None:
        if not self.lines:
            return
        if len(self.lines) == 1:
            raise DefinitionError(self.lines[0])
        listed = "\n  - ".join(self.lines)
        raise DefinitionError(f"saga {self.saga} has {len(self.lines)} problems:\n  - {listed}")


def _label(event: object) -> str:
    if isinstance(event, type):
        return event.__name__
    if isinstance(event, Signal):
        return f"signal {event.name}"
    return repr(event)
