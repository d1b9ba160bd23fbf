"""The broker's topics as any client sees them: an answer, or one error that names the fix."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from saga.errors import TransportError
from saga.settings import is_secret_option, redact_error

__all__ = ["admin_client", "broker_topics", "unreachable"]

# An admin call either answers or raises, and the error says what went wrong; librdkafka's
# own lines (every failed connection, to stderr) would only repeat it.
_QUIET = logging.getLogger("saga.kafka.admin")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def admin_client(config: Mapping[str, Any]) -> AdminClient:
    """An admin client whose library logs stay quiet (its calls raise what matters)."""
    quiet: dict[str, Any] = {**config, "logger": _QUIET}
    return AdminClient(quiet)


class _Lister(Protocol):
    def list_topics(self, *, timeout: float) -> Any: ...


def broker_topics(client: _Lister, config: Mapping[str, Any], timeout: float) -> dict[str, Any]:
    """Topic name → its metadata, all topics at once (naming one could auto-create it)."""
    try:
        return dict(client.list_topics(timeout=timeout).topics)
    except KafkaException as exc:
        raise unreachable(config, timeout, exc) from None


def unreachable(config: Mapping[str, Any], timeout: float, exc: BaseException) -> TransportError:
    """Kafka gave no answer in time; the client's reason, secrets masked."""
    error = exc.args[0] if exc.args else None
    reason = KafkaException(error.str()) if isinstance(error, KafkaError) else exc
    secrets = [str(v) for k, v in config.items() if is_secret_option(k)]
    return TransportError(
        f"Kafka at {config.get('bootstrap.servers')} did not answer within {timeout:g}s "
        f"({redact_error(reason, *secrets)}): start it (`saga stack up`) or check "
        "SAGA_KAFKA_BOOTSTRAP and SAGA_KAFKA_OPTIONS"
    )
