"""The ``saga`` command line."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from saga.cli._db import db_app
from saga.cli._dead_letters import dead_letters_app
from saga.cli._diagram import choreography, diagram
from saga.cli._orphans import orphans_app
from saga.cli._outbox import outbox_app
from saga.cli._relay import relay
from saga.cli._sagas import sagas_app
from saga.cli._schemas import schemas_app
from saga.cli._stack import stack_app
from saga.cli._tail import tail
from saga.cli._worker import send, topics_app, worker
from saga.errors import SagaError

app = typer.Typer(
    help="Choreography sagas over Kafka: stack, schemas, workers, relay, diagrams, audit tail, "
    "operations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(stack_app, name="stack")
app.add_typer(schemas_app, name="schemas")
app.add_typer(db_app, name="db")
app.command("diagram")(diagram)
app.command("choreography")(choreography)
app.command("relay")(relay)
app.command("worker")(worker)
app.add_typer(topics_app, name="topics")
app.command("signal")(send)
app.command("tail")(tail)
app.add_typer(sagas_app, name="sagas")
app.add_typer(orphans_app, name="orphans")
app.add_typer(dead_letters_app, name="dead-letters")
app.add_typer(outbox_app, name="outbox")


def main() -> None:
    """Entry point: the command's exit code is the process's; a framework error is one red
    line on stderr and exit code 2."""
    try:
        # Standalone mode lets click turn `typer.Exit(n)`, usage errors (2) and Ctrl-C (130)
        # into the process exit status; only the framework's own errors are ours to render.
        app(standalone_mode=True)
    except SagaError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        Console(stderr=True).print("aborted")
        sys.exit(130)
