"""Where the stack's Kafka and PostgreSQL are, and the file that tells the CLI and tests."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from saga.errors import StackError
from saga.settings import redact_url

Backend = Literal["explicit", "docker", "testcontainers", "native"]

ENDPOINTS_FILE = "endpoints.json"


@dataclass(frozen=True)
class Endpoints:
    """A Kafka bootstrap address and a database URL, and which backend provides them."""

    backend: Backend
    kafka_bootstrap: str
    database_url: str = field(repr=False)

    def describe(self) -> dict[str, str]:
        """Safe to print: the database password is replaced by ``***``."""
        return {
            "backend": self.backend,
            "kafka": self.kafka_bootstrap,
            "database": redact_url(self.database_url),
        }


def write_endpoints(stack_dir: Path, endpoints: Endpoints, extra: dict[str, Any]) -> Path:
    """Write the endpoints (and process bookkeeping) readable by the owner only."""
    stack_dir.mkdir(parents=True, exist_ok=True)
    path = stack_dir / ENDPOINTS_FILE
    tmp = path.with_suffix(".tmp")
    payload = {
        "backend": endpoints.backend,
        "kafka_bootstrap": endpoints.kafka_bootstrap,
        "database_url": endpoints.database_url,
        **extra,
    }
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(payload, out, indent=2)
    tmp.replace(path)  # atomic: readers never see half a file
    return path


def read_state(stack_dir: Path) -> dict[str, Any] | None:
    path = stack_dir / ENDPOINTS_FILE
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StackError(f"{path} is unreadable ({exc}): run `saga stack down` then `up`") from None
    return data


def endpoints_from_state(state: dict[str, Any]) -> Endpoints:
    try:
        return Endpoints(
            backend=state["backend"],
            kafka_bootstrap=state["kafka_bootstrap"],
            database_url=state["database_url"],
        )
    except KeyError as exc:
        raise StackError(
            f"stack state lacks {exc.args[0]!r}: run `saga stack down` then `saga stack up`"
        ) from None


def remove_state(stack_dir: Path) -> None:
    (stack_dir / ENDPOINTS_FILE).unlink(missing_ok=True)
