"""Which real Kafka/PostgreSQL the pytest fixtures use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from saga.settings import Settings

TestBackend = Literal["explicit", "testcontainers", "native"]


def select_test_backend(settings: Settings, *, docker_answers: Callable[[], bool]) -> TestBackend:
    """Explicit settings, else testcontainers when a Docker engine answers, else the native stack.

    ``SAGA_STACK_BACKEND=native`` skips the Docker probe; ``=docker`` insists on it.
    """
    if settings.kafka_bootstrap and settings.database_url is not None:
        return "explicit"
    if settings.stack_backend == "native":
        return "native"
    if settings.stack_backend == "docker" or docker_answers():
        return "testcontainers"
    return "native"
