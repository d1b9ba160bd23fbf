"""A real Kafka broker and PostgreSQL server for development and tests.

``saga stack up`` picks, in order: explicit settings (nothing to start), a Docker engine
(docker compose), or the native stack (Apache Kafka from Maven jars + local PostgreSQL).
"""

from saga.stack._docker import docker_engine_answers
from saga.stack._endpoints import Endpoints
from saga.stack._kafka import round_trip
from saga.stack._native import Health, NativeStack, UpResult
from saga.stack._resolve import choose_stack_backend, explicit_endpoints, resolve_endpoints

__all__ = [
    "Endpoints",
    "Health",
    "NativeStack",
    "UpResult",
    "choose_stack_backend",
    "docker_engine_answers",
    "explicit_endpoints",
    "resolve_endpoints",
    "round_trip",
]
