"""``saga diagram`` and ``saga choreography``: draw a saga, check a set of them."""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType
from typing import Annotated, Any

import typer

from saga.contracts.events import Event, event_class
from saga.definition.choreography import check_choreography
from saga.definition.diagram import mermaid
from saga.definition.participant import Participant
from saga.definition.saga import Saga
from saga.errors import ConfigError


def diagram(
    target: Annotated[str, typer.Argument(help="the saga class, as module.path:SagaClass")],
) -> None:
    """Print the Mermaid state diagram of a saga."""
    obj = _load(target)
    if not (isinstance(obj, type) and issubclass(obj, Saga)):
        raise ConfigError(f"{target} is {obj!r}, not a Saga class: give module.path:SagaClass")
    typer.echo(mermaid(obj), nl=False)


def choreography(
    targets: Annotated[
        list[str],
        typer.Argument(help="modules (all sagas and participants in them) or module:Name"),
    ],
    external: Annotated[
        list[str] | None,
        typer.Option(help="full name of an event published from outside the set (repeatable)"),
    ] = None,
) -> None:
    """Check that every consumed event is produced and every produced event consumed."""
    sagas: list[type[Saga[Any]]] = []
    participants: list[Participant] = []
    for target in targets:
        found = [_load(target)] if ":" in target else list(vars(_module(target)).values())
        for obj in found:
            if isinstance(obj, type) and issubclass(obj, Saga) and obj is not Saga:
                if obj not in sagas:
                    sagas.append(obj)
            elif isinstance(obj, Participant) and obj not in participants:
                participants.append(obj)
    if not sagas and not participants:
        raise ConfigError(f"no Saga classes or Participants found in {', '.join(targets)}")
    outside: list[type[Event]] = [event_class(name) for name in external or ()]
    report = check_choreography(sagas, participants, external=outside)
    typer.echo(report.render(), nl=False)
    if not report.ok:
        raise typer.Exit(1)


def _module(name: str) -> ModuleType:
    # Like other app-loading CLIs, resolve modules from the current directory first.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            raise ConfigError(
                f"cannot import module {name!r}: check the module path (it is imported "
                "from the current directory and the installed packages)"
            ) from None
        raise


def _load(target: str) -> object:
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"{target!r} is not module.path:Name, e.g. shop.sagas:OrderSaga")
    obj: object = _module(module_name)
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(
                f"module {module_name!r} has no {attribute!r}: check the name after the colon"
            ) from None
    return obj
