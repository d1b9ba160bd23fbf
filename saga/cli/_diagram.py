"""``saga diagram`` and ``saga choreography``: draw a saga, check a set of them."""

from __future__ import annotations

from typing import Annotated

import typer

from saga.cli._loading import load_hosts, load_object
from saga.contracts.events import Event, event_class
from saga.definition.choreography import check_choreography
from saga.definition.diagram import mermaid
from saga.definition.saga import Saga
from saga.errors import ConfigError


def diagram(
    target: Annotated[str, typer.Argument(help="the saga class, as module.path:SagaClass")],
) -> None:
    """Print the Mermaid state diagram of a saga."""
    obj = load_object(target)
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
    sagas, participants = load_hosts(targets)
    outside: list[type[Event]] = [event_class(name) for name in external or ()]
    report = check_choreography(sagas, participants, external=outside)
    typer.echo(report.render(), nl=False)
    if not report.ok:
        raise typer.Exit(1)
