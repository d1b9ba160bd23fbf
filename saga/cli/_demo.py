"""``saga demo``: the example shop of a project checkout, on a real Kafka and PostgreSQL.

The shop lives in the checkout (``services/``), not in the installed package: the command
imports ``services.demo`` from the current folder, brings the stack up (or uses
``SAGA_KAFKA_BOOTSTRAP`` and ``SAGA_DATABASE_URL``) and hands over.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer
from rich.console import Console

from saga.cli._db import database_errors
from saga.errors import ConfigError
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


def demo(
    orders: Annotated[int, typer.Option(min=1, help="orders to place")] = 400,
    rate: Annotated[float, typer.Option(min=0.1, max=5000, help="orders per second")] = 25.0,
    seed: Annotated[int, typer.Option(help="decides the orders and which of them fail")] = 7,
    kill: Annotated[
        str, typer.Option(help="service killed (SIGKILL) and restarted mid-run, or none")
    ] = "inventory",
    as_json: Annotated[
        bool, typer.Option("--json", help="print the summary as JSON, no live view")
    ] = False,
) -> None:
    """Run the example shop: four services, the order saga, failures, a kill; then check
    the invariants (exit 1 when one fails). Run it from the project's checkout."""
    shop = shop_module("demo")
    options = shop.Options(orders=orders, rate=rate, seed=seed, kill=kill, as_json=as_json)
    options.check()  # before the stack comes up
    console = Console(soft_wrap=True, stderr=as_json)
    endpoints = stack_endpoints(console)
    with database_errors(endpoints.database_url):
        code = shop.run(endpoints, options, Console(soft_wrap=True))
    raise typer.Exit(code)


def shop_module(program: str) -> ModuleType:
    """``services.<program>`` (demo, soak) of the checkout in the current folder."""
    # The current folder must be the checkout: the stack's data (.saga/) and the shop's
    # logs go there, and the shop is imported from it, like `saga worker` imports modules.
    if not (Path.cwd() / "services" / program / "__init__.py").is_file():
        raise ConfigError(
            f"saga {program} runs the example shop of the project's checkout: run it in the "
            f"repository's root folder (where services/ is), e.g. `make {program}`"
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    return importlib.import_module(f"services.{program}")


def stack_endpoints(console: Console) -> Endpoints:
    """Explicit settings, or the stack (started when it is not up)."""
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
