"""What the shop's programs (``python -m services.demo``, ``python -m services.soak``) share:
the ``saga`` command's error style, the checkout check and the stack.

They are the project's own tooling, not the framework's: they run from the checkout (the
shop is imported from it; the stack's data and the logs go there) and are built on the
framework's public modules only.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from saga.errors import ConfigError, SagaError
from saga.settings import Settings
from saga.stack import (
    Endpoints,
    NativeStack,
    choose_stack_backend,
    compose_up,
    docker_engine_answers,
    explicit_endpoints,
    find_compose_file,
    write_endpoints,
)

ROOT = Path(__file__).resolve().parents[1]


def program(help_text: str) -> typer.Typer:
    """A one-command program: its options at the top level, no completion options."""
    return typer.Typer(help=help_text, add_completion=False, pretty_exceptions_enable=False)


def main(app: typer.Typer) -> None:
    """Run ``app`` as ``saga`` runs: the command's exit code is the process's; a framework
    error is one red ``error:`` line on stderr and exit code 2; Ctrl-C exits 130."""
    try:
        # Standalone mode turns `typer.Exit(n)` and usage errors (2) into the exit status.
        app(standalone_mode=True)
    except SagaError as exc:
        Console(stderr=True, soft_wrap=True).print(
            f"[red]error:[/] {escape(str(exc))}", highlight=False
        )
        sys.exit(2)
    except KeyboardInterrupt:
        Console(stderr=True).print("aborted")
        sys.exit(130)


def require_checkout(name: str) -> None:
    """Refuse to run outside the checkout: the stack's data (.saga/) and the shop's logs go
    to the current folder, and the shop must be the one imported from it."""
    if Path.cwd().resolve() != ROOT:
        raise ConfigError(
            f"python -m services.{name} runs the example shop of the project's checkout: run "
            f"it in the repository's root folder (where services/ is), e.g. `make {name}`"
        )


def stack_endpoints(console: Console) -> Endpoints:
    """Explicit settings (SAGA_KAFKA_BOOTSTRAP and SAGA_DATABASE_URL), or the stack (started
    when it is not up, as ``saga stack up`` does)."""
    settings = Settings()
    explicit = explicit_endpoints(settings)
    if explicit is not None:
        console.print(f"• using {explicit.kafka_bootstrap} and the database from SAGA_*")
        return explicit
    if choose_stack_backend(settings, docker_answers=docker_engine_answers, cwd=Path.cwd()) == (
        "docker"
    ):
        compose = find_compose_file(Path.cwd())
        assert compose is not None  # chosen only when a compose file exists
        endpoints = compose_up(compose)
        write_endpoints(settings.stack_dir, endpoints, {"compose_file": str(compose)})
        return endpoints
    started = time.monotonic()
    result = NativeStack(settings).up(progress=lambda m: console.print(f"• {m}"))
    took = "already up" if result.already_up else f"up in {time.monotonic() - started:.1f}s"
    console.print(f"• stack {took}: Kafka {result.endpoints.kafka_bootstrap}, PostgreSQL")
    return result.endpoints
