"""`saga stack up | down | status | logs | env`: the local Kafka + PostgreSQL stack."""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from saga.errors import StackError
from saga.settings import Settings
from saga.stack import (
    Endpoints,
    NativeStack,
    choose_stack_backend,
    compose_down,
    compose_up,
    docker_engine_answers,
    endpoints_from_state,
    find_compose_file,
    read_state,
    remove_state,
    write_endpoints,
)

stack_app = typer.Typer(
    help="Run a real Kafka broker and PostgreSQL locally.", no_args_is_help=True
)
out = Console(soft_wrap=True)


def _print_endpoints(endpoints: Endpoints, where: Path | None = None) -> None:
    table = Table(show_header=False, box=None)
    for key, value in endpoints.describe().items():
        table.add_row(f"[bold]{key}[/]", value)
    out.print(table)
    if where is not None:
        out.print(f"endpoints written to {where}; `saga stack env` prints them as exports")


@stack_app.command()
def up(
    backend: Annotated[
        str | None, typer.Option(help="auto (default), docker or native; env SAGA_STACK_BACKEND")
    ] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for readiness")] = 180.0,
) -> None:
    """Start the stack (a no-op when it is already up and healthy)."""
    overrides = {"stack_backend": backend} if backend else {}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    chosen = choose_stack_backend(settings, docker_answers=docker_engine_answers, cwd=Path.cwd())
    state_file = settings.stack_dir / "endpoints.json"
    if chosen == "docker":
        compose = find_compose_file(Path.cwd())
        assert compose is not None  # chosen only when a compose file exists
        out.print(f"Docker engine found: docker compose up ({compose})")
        endpoints = compose_up(compose)
        write_endpoints(settings.stack_dir, endpoints, {"compose_file": str(compose)})
        _print_endpoints(endpoints, state_file)
        return
    started = time.monotonic()
    result = NativeStack(settings).up(timeout=timeout, progress=lambda m: out.print(f"• {m}"))
    if result.already_up:
        out.print("[green]stack already up[/] (nothing to do)")
    else:
        out.print(f"[green]stack up[/] in {time.monotonic() - started:.1f}s")
    _print_endpoints(result.endpoints, state_file)


@stack_app.command()
def down() -> None:
    """Stop the stack; no broker or database process is left behind. Data is kept."""
    settings = Settings()
    state = read_state(settings.stack_dir) or {}
    if state.get("backend") == "docker":
        compose_down(Path(state["compose_file"]))
        remove_state(settings.stack_dir)
        out.print("docker compose stack stopped")
        return
    stopped = NativeStack(settings).down()
    out.print("stopped " + ", ".join(stopped) if stopped else "nothing was running")


@stack_app.command()
def status() -> None:
    """Show the endpoints and whether each part answers; exit 2 when the stack is not up."""
    settings = Settings()
    state = read_state(settings.stack_dir)
    if state is None:
        raise StackError("the stack is not up: run `saga stack up`")
    if state.get("backend") == "docker":
        out.print("backend docker (compose); `docker compose ps` shows its health")
        return
    health = NativeStack(settings).health()
    assert health is not None
    table = Table("part", "pid", "ready")
    table.add_row("kafka", str(health.kafka_pid), "yes" if health.kafka_ready else "[red]no[/]")
    table.add_row(
        "postgres", str(health.postgres_pid), "yes" if health.postgres_ready else "[red]no[/]"
    )
    out.print(table)
    _print_endpoints(endpoints_from_state(state))
    if not health.ready:
        raise StackError("the stack is not healthy: run `saga stack down` then `saga stack up`")


@stack_app.command()
def logs(
    part: Annotated[str, typer.Argument(help="kafka, postgres or all")] = "all",
    lines: Annotated[int, typer.Option("--lines", "-n", help="lines from the end")] = 40,
) -> None:
    """Show the end of the broker and database logs."""
    settings = Settings()
    names = ["kafka", "postgres"] if part == "all" else [part]
    unknown = set(names) - {"kafka", "postgres"}
    if unknown:
        raise StackError(f"unknown log {part!r}: use kafka, postgres or all")
    for name in names:
        path = settings.stack_dir / "logs" / f"{name}.log"
        out.rule(f"{name} ({path})")
        if not path.exists():
            out.print("(no log yet: run `saga stack up`)")
            continue
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        typer.echo("\n".join(tail))


@stack_app.command()
def env() -> None:
    """Print the endpoints as shell exports, password included: eval "$(saga stack env)"."""
    settings = Settings()
    state = read_state(settings.stack_dir)
    if state is None:
        raise StackError("the stack is not up: run `saga stack up`")
    typer.echo(f"export SAGA_KAFKA_BOOTSTRAP={shlex.quote(state['kafka_bootstrap'])}")
    typer.echo(f"export SAGA_DATABASE_URL={shlex.quote(state['database_url'])}")
