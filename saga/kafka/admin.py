"""Topic administration: the broker's topics as any client sees them (an answer, or one
error that names the fix), and the topics a set of sagas needs, created."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    OffsetSpec,
)
from confluent_kafka.cimpl import NewTopic

from saga.errors import ConfigError, TransportError
from saga.settings import is_secret_option, redact_error

__all__ = [
    "admin_client",
    "broker_topics",
    "create_topics",
    "existing_topics",
    "unreachable",
]

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


def existing_topics(config: Mapping[str, Any], timeout: float = 15.0) -> dict[str, int]:
    """Topic name → partition count, as the broker knows them."""
    topics = broker_topics(admin_client(config), config, timeout)
    return {name: len(t.partitions) for name, t in topics.items() if t.error is None}


def topic_configs(
    config: Mapping[str, Any], topics: Iterable[str], timeout: float = 15.0
) -> dict[str, dict[str, str]]:
    """Topic name → its effective configuration (``max.message.bytes``, ``retention.ms``
    ...), for the topics among ``topics`` that exist. One request for them all."""
    names = sorted(set(topics))
    if not names:
        return {}
    admin = admin_client(config)
    futures = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, n) for n in names])
    found: dict[str, dict[str, str]] = {}
    for resource, future in futures.items():
        try:
            entries = future.result(timeout)
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                continue
            raise TransportError(f"cannot read the config of topic {resource.name}: {exc}") from exc
        except TimeoutError as exc:
            raise unreachable(config, timeout, exc) from None
        found[resource.name] = {k: e.value for k, e in entries.items() if e.value is not None}
    return found


def record_limits(
    config: Mapping[str, Any], topics: Iterable[str], timeout: float = 15.0
) -> dict[str, int]:
    """Topic name → its ``max.message.bytes`` (the largest record batch the broker appends),
    for the topics among ``topics`` that exist."""
    return {
        name: int(values["max.message.bytes"])
        for name, values in topic_configs(config, topics, timeout).items()
        if "max.message.bytes" in values
    }


def create_topics(
    config: Mapping[str, Any],
    names: Iterable[str],
    *,
    partitions: int,
    replication_factor: int = -1,
    timeout: float = 30.0,
) -> list[str]:
    """Create the topics among ``names`` that do not exist yet; returns those created."""
    if partitions < 1:
        raise ConfigError(f"partitions={partitions}: give at least 1")
    known = existing_topics(config, timeout)
    missing = sorted(set(names) - set(known))
    if not missing:
        return []
    admin = admin_client(config)
    futures = admin.create_topics(
        [
            NewTopic(n, num_partitions=partitions, replication_factor=replication_factor)
            for n in missing
        ]
    )
    created: list[str] = []
    for name, future in futures.items():
        try:
            future.result(timeout)
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise TransportError(f"cannot create topic {name}: {exc}") from exc
        except TimeoutError as exc:
            raise unreachable(config, timeout, exc) from None
    _wait_until_writable(admin, created, partitions, time.monotonic() + timeout)
    return sorted(created)


def _wait_until_writable(admin: Any, names: list[str], partitions: int, deadline: float) -> None:
    """Return once every partition of ``names`` has a leader with its log loaded (it answers
    a ListOffsets). A record produced before that can be lost without an error: seen with
    an idempotent producer, whose first batch to a partition still loading was taken for a
    duplicate once the next one had been written."""
    latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
    waiting = {TopicPartition(n, p): latest for n in names for p in range(partitions)}
    attempt = 0
    while waiting:
        answers = admin.list_offsets(waiting, request_timeout=5)
        for tp, future in answers.items():
            try:
                future.result(10)
            except (KafkaException, TimeoutError):
                continue
            waiting.pop(tp, None)
        if waiting and time.monotonic() >= deadline:
            names_left = sorted({tp.topic for tp in waiting})
            raise TransportError(
                f"topics {', '.join(names_left)} were created but not all their partitions "
                "have a leader yet: check the broker (`saga stack logs kafka`) and try again"
            )
        attempt += 1
        if waiting:
            time.sleep(min(0.05 * attempt, 0.5))  # the broker loads the new partitions
