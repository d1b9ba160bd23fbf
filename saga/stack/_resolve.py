"""Endpoint precedence: explicit settings, then a Docker engine, then the native stack."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from saga.errors import ConfigError
from saga.settings import Settings
from saga.stack._docker import find_compose_file
from saga.stack._endpoints import Endpoints, endpoints_from_state, read_state

StackBackend = Literal["docker", "native"]


def choose_stack_backend(
    settings: Settings, *, docker_answers: Callable[[], bool], cwd: Path
) -> StackBackend:
    """Which backend `saga stack up` uses: as configured, or Docker when an engine answers."""
    if settings.stack_backend != "auto":
        return settings.stack_backend
    if find_compose_file(cwd) is not None and docker_answers():
        return "docker"
    return "native"


def explicit_endpoints(settings: Settings) -> Endpoints | None:
    """Endpoints from SAGA_KAFKA_BOOTSTRAP and SAGA_DATABASE_URL when both are set."""
    if settings.kafka_bootstrap and settings.database_url is not None:
        return Endpoints(
            backend="explicit",
            kafka_bootstrap=settings.kafka_bootstrap,
            database_url=settings.database_url.get_secret_value(),
        )
    return None


def resolve_endpoints(settings: Settings) -> Endpoints:
    """Endpoints for the CLI and services: explicit settings win, each one on its own, over
    the stack that `saga stack up` started (Docker or native)."""
    explicit = explicit_endpoints(settings)
    if explicit is not None:
        return explicit
    state = read_state(settings.stack_dir)
    if state is None:
        missing = "SAGA_KAFKA_BOOTSTRAP" if not settings.kafka_bootstrap else "SAGA_DATABASE_URL"
        raise ConfigError(
            f"the stack is not up and {missing} is not set: run `saga stack up` "
            f"(or set SAGA_KAFKA_BOOTSTRAP and SAGA_DATABASE_URL)"
        )
    stack = endpoints_from_state(state)
    return Endpoints(
        backend="explicit" if settings.kafka_bootstrap or settings.database_url else stack.backend,
        kafka_bootstrap=settings.kafka_bootstrap or stack.kafka_bootstrap,
        database_url=(
            settings.database_url.get_secret_value()
            if settings.database_url
            else stack.database_url
        ),
    )
