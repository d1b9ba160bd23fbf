"""The Confluent wire format (``00`` + 4-byte big-endian schema id + Avro body) and the
schema registry behind it, through confluent-kafka's own client.

Works with any registry that speaks the Confluent REST API: Confluent, Redpanda,
Karapace, Apicurio (its ``/apis/ccompat/v7`` endpoint). Subjects follow the record-name
strategy (subject = the event's Avro full name), since one topic carries several event
types. A ``mock://`` URL gives the client's in-memory registry, for tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, SchemaRegistryError

from saga.contracts.schemas import SchemaVersion
from saga.errors import (
    CompatibilityError,
    ConfigError,
    ContractError,
    DecodeError,
    EncodeError,
    RegistryUnavailable,
    UnknownSchemaError,
)
from saga.settings import is_secret_option, redact_error

MAGIC = b"\x00"
PREFIX_SIZE = 5

_T = TypeVar("_T")
_RETRIABLE_STATUS = frozenset((408, 429, 500, 502, 503, 504))


def _transport_errors() -> tuple[type[BaseException], ...]:
    # confluent-kafka talks HTTP through httpx2 or httpx, whichever is installed.
    errors: list[type[BaseException]] = [OSError, TimeoutError]
    for module in ("httpx2", "httpx"):
        try:
            errors.append(__import__(module).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


_TRANSPORT_ERRORS = _transport_errors()


def registry_client(url: str, options: Mapping[str, Any] | None = None) -> SchemaRegistryClient:
    """confluent-kafka's registry client for ``url`` (``mock://...`` for its in-memory one)."""
    conf: dict[str, Any] = {"url": url}
    conf.update(options or {})
    try:
        return SchemaRegistryClient.new_client(conf)
    except (ValueError, TypeError) as exc:
        # The client's message quotes the URL, credentials included.
        secrets = [str(v) for k, v in conf.items() if is_secret_option(k) or "user.info" in k]
        raise ConfigError(
            f"schema registry settings are invalid ({redact_error(exc, url, *secrets)}): "
            "fix SAGA_SCHEMA_REGISTRY_URL"
        ) from None


def prefix(schema_id: int) -> bytes:
    """The bytes that precede the Avro body for a registered schema id."""
    return MAGIC + schema_id.to_bytes(4, "big")


def split_prefix(value: bytes) -> tuple[bytes, int]:
    """The prefix (magic byte + schema id) of a Confluent payload and the id."""
    if len(value) < PREFIX_SIZE:
        raise DecodeError(
            f"payload of {len(value)} bytes is truncated: a Confluent payload starts with "
            f"{PREFIX_SIZE} bytes of magic byte and schema id"
        )
    return value[:PREFIX_SIZE], int.from_bytes(value[1:PREFIX_SIZE], "big")


class RegistrySchemas:
    """Schema ids for our contracts and schemas for ids, cached for the process' life."""

    def __init__(self, client: SchemaRegistryClient, *, register: bool = True) -> None:
        self.client = client
        self.register = register
        self._ids: dict[str, int] = {}  # by schema text: the registry keeps docs too
        self._schemas: dict[int, SchemaVersion] = {}

    def id_for(self, version: SchemaVersion) -> int:
        """The registry's id for a contract version (registered first unless disabled)."""
        text = json.dumps(version.schema)
        known = self._ids.get(text)
        if known is not None:
            return known
        schema = Schema(text, "AVRO")
        what = f"schema {version.ref} under subject {version.name!r}"
        schema_id: int | None
        if self.register:
            schema_id = _call(what, EncodeError, self.client.register_schema, version.name, schema)
        else:
            registered = _call(what, EncodeError, self.client.lookup_schema, version.name, schema)
            schema_id = registered.schema_id
        if not isinstance(schema_id, int):
            raise UnknownSchemaError(f"{what}: the schema registry returned no schema id")
        self._ids[text] = schema_id
        return schema_id

    def version_for_id(self, schema_id: int) -> SchemaVersion:
        """The writer schema registered under ``schema_id``."""
        known = self._schemas.get(schema_id)
        if known is not None:
            return known
        schema = _call(
            f"schema id {schema_id}", UnknownSchemaError, self.client.get_schema, schema_id
        )
        if (schema.schema_type or "AVRO") != "AVRO":
            raise UnknownSchemaError(
                f"schema id {schema_id} is a {schema.schema_type} schema, not Avro: "
                "the topic carries payloads of another producer"
            )
        if schema.references:
            raise UnknownSchemaError(
                f"schema id {schema_id} uses schema references, which saga does not resolve: "
                "register self-contained schemas"
            )
        try:
            raw = json.loads(schema.schema_str or "")
        except (TypeError, ValueError) as exc:
            raise UnknownSchemaError(f"schema id {schema_id} is not JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise UnknownSchemaError(f"schema id {schema_id} is not an Avro record schema")
        try:
            version = SchemaVersion.from_schema(raw, path=Path(f"registry-id-{schema_id}"))
        except ContractError:
            raise
        except Exception as exc:  # a registry schema we cannot use is unknown to us
            raise UnknownSchemaError(f"schema id {schema_id}: {exc}") from exc
        self._schemas[schema_id] = version
        return version


def _call(what: str, permanent: type[ContractError], call: Callable[..., _T], *args: object) -> _T:
    try:
        return call(*args)
    except SchemaRegistryError as exc:
        raise _from_registry_error(what, permanent, exc) from exc
    except _TRANSPORT_ERRORS as exc:
        raise RegistryUnavailable(
            f"{what}: schema registry unreachable ({type(exc).__name__}: {exc}); retry later"
        ) from exc


def _from_registry_error(
    what: str, permanent: type[ContractError], exc: SchemaRegistryError
) -> Exception:
    status = int(exc.http_status_code)
    if status == 404:
        return UnknownSchemaError(f"{what}: not found in the schema registry ({exc})")
    if status in _RETRIABLE_STATUS:
        return RegistryUnavailable(
            f"{what}: schema registry answered {status}; retry later ({exc})"
        )
    if status in (401, 403):
        return ConfigError(
            f"{what}: the schema registry refused access ({status}): check the credentials "
            "in SAGA_SCHEMA_REGISTRY_URL"
        )
    if status == 409:
        return CompatibilityError(
            f"{what}: the registry rejects it as incompatible with the subject's earlier "
            f"versions ({exc}): run `saga schemas check` and publish a compatible version"
        )
    return permanent(f"{what}: the schema registry refused the request ({exc})")
