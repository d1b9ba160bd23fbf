"""Reading event types out of handler annotations (what a function consumes and emits)."""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

from saga.contracts.events import Event


def event_types_in(annotation: object) -> tuple[type[Event], ...] | None:
    """Event classes an annotation allows (``A | B``, ``list[A]``, ``A | None``…), or None
    when it names something that is not an event."""
    if annotation is None or annotation is type(None):
        return ()
    if isinstance(annotation, type):
        return (annotation,) if issubclass(annotation, Event) else None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) or origin in (
        list,
        tuple,
        collections.abc.Sequence,
        collections.abc.Iterable,
        collections.abc.Iterator,
    ):
        found: list[type[Event]] = []
        for arg in args:
            if arg is Ellipsis:
                continue
            inner = event_types_in(arg)
            if inner is None:
                return None
            found.extend(t for t in inner if t not in found)
        return tuple(found)
    return None


def hints(fn: Callable[..., Any]) -> dict[str, Any]:
    """Resolved annotations of ``fn``; an unresolvable one is reported by the caller."""
    return typing.get_type_hints(fn)


def positional_params(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    return [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


def as_events(result: object) -> list[object]:
    """What a handler returned, as a list: one event, several, or none (callers check types)."""
    if result is None:
        return []
    if isinstance(result, Event):
        return [result]
    if isinstance(result, collections.abc.Iterable) and not isinstance(result, str | bytes):
        return list(result)
    return [result]
