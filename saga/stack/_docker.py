"""The Docker path: a compose stack when a Docker engine answers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from saga.stack._endpoints import Endpoints
from saga.stack._process import run_checked

COMPOSE_FILE = "docker-compose.yml"
# The credentials of the compose file's development database (not a secret worth hiding).
COMPOSE_ENDPOINTS = Endpoints(
    backend="docker",
    kafka_bootstrap="127.0.0.1:9092",
    database_url="postgresql+psycopg://saga:saga@127.0.0.1:5432/saga",
)


def docker_engine_answers(timeout: float = 5.0) -> bool:
    """True when a Docker engine (not just the client) responds."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        done = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and bool(done.stdout.strip())


def find_compose_file(start: Path) -> Path | None:
    for folder in (start.resolve(), *start.resolve().parents):
        candidate = folder / COMPOSE_FILE
        if candidate.is_file():
            return candidate
    return None


def compose_up(compose_file: Path) -> Endpoints:
    run_checked(
        ["docker", "compose", "-f", str(compose_file), "up", "-d", "--wait", "kafka", "postgres"],
        what="docker compose up",
        fix="see `docker compose logs`, or use the native stack: `saga stack up --backend native`",
    )
    return COMPOSE_ENDPOINTS


def compose_down(compose_file: Path) -> None:
    run_checked(
        ["docker", "compose", "-f", str(compose_file), "down"],
        what="docker compose down",
        fix="see `docker compose ps`",
    )
