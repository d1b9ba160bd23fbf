"""A real Kafka broker and PostgreSQL server for development and tests.

``saga stack up`` picks, in order: explicit settings (nothing to start), a Docker engine
(docker compose), or the native stack (Apache Kafka from Maven jars + local PostgreSQL).
"""

from saga.stack._docker import compose_down, compose_up, docker_engine_answers, find_compose_file
from saga.stack._endpoints import (
    Endpoints,
    endpoints_from_state,
    read_state,
    remove_state,
    write_endpoints,
)
from saga.stack._kafka import round_trip
from saga.stack._native import FREEZABLE_BROKER, Health, NativeStack, UpResult
from saga.stack._resolve import choose_stack_backend, explicit_endpoints, resolve_endpoints

__all__ = [
    "FREEZABLE_BROKER",
    "Endpoints",
    "Health",
    "NativeStack",
    "UpResult",
    "choose_stack_backend",
    "compose_down",
    "compose_up",
    "docker_engine_answers",
    "endpoints_from_state",
    "explicit_endpoints",
    "find_compose_file",
    "read_state",
    "remove_state",
    "resolve_endpoints",
    "round_trip",
    "write_endpoints",
]
