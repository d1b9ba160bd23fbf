"""Events to Kafka messages and back: Avro binary (fastavro) plus the envelope in headers.

Two wire formats, chosen by ``SAGA_WIRE_FORMAT``:

* ``single-object`` (default, no registry): Avro single-object encoding; the reader finds
  the writer's schema in its own ``avro/`` folder by CRC-64-AVRO fingerprint.
* ``confluent``: magic byte + 4-byte schema id, ids from a Confluent-compatible schema
  registry (``SAGA_SCHEMA_REGISTRY_URL``).

The decoder reads both (it tells them apart by their first byte), so a topic can move from
one format to the other without stopping its consumers. The reader's schema is the
contract of the event class registered for the payload's type; Avro schema resolution
bridges the versions (a v1 payload reads as v2 and the reverse, where the rules allow).

Every failure is a :class:`~saga.errors.ContractError` subclass: nothing is written when
encoding fails, and a payload that cannot be decoded raises before any handler runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from typing import Any, NamedTuple

from confluent_kafka.schema_registry import SchemaRegistryClient
from fastavro import schemaless_reader, schemaless_writer
from pydantic import ValidationError

from saga.contracts import _registry, _single_object
from saga.contracts.envelope import Decoded, Envelope, Headers
from saga.contracts.events import Event, contract_of, event_class
from saga.contracts.schemas import Contracts, SchemaVersion, load_contracts
from saga.errors import (
    ConfigError,
    DecodeError,
    EncodeError,
    PayloadTooLarge,
    UnknownSchemaError,
)
from saga.settings import Settings, WireFormat

__all__ = ["Decoded", "Encoded", "Serializer"]


class Encoded(NamedTuple):
    """A Kafka message ready to produce (or to store in the outbox)."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    envelope: Envelope


@dataclass(frozen=True, slots=True)
class _WritePlan:
    name: str
    prefix: bytes
    writer: dict[str, Any]
    ref: str


@dataclass(frozen=True, slots=True)
class _ReadPlan:
    name: str
    cls: type[Event]
    writer: dict[str, Any]
    reader: dict[str, Any] | None  # None when the writer's schema is the reader's
    offset: int


class Serializer:
    """Encodes and decodes events for one service, as its settings say.

    ``contracts`` defaults to the folder ``SAGA_SCHEMA_DIR``; ``registry`` to a client for
    ``SAGA_SCHEMA_REGISTRY_URL``. With ``register_schemas=False`` the Confluent format only
    looks schema ids up (for registries where a pipeline registers schemas). Payloads decode
    into the classes in ``events`` first, else into the class registered for their name.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        contracts: Contracts | None = None,
        registry: SchemaRegistryClient | None = None,
        register_schemas: bool = True,
        events: Iterable[type[Event]] = (),
    ) -> None:
        settings = Settings() if settings is None else settings
        self.wire_format: WireFormat = settings.wire_format
        self.max_payload_bytes = settings.max_payload_bytes
        self.contracts = load_contracts(settings.schema_dir) if contracts is None else contracts
        # A client we create is ours to close (close()); one passed in stays the caller's.
        self._owned_registry: SchemaRegistryClient | None = None
        if registry is None and settings.schema_registry_url is not None:
            registry = _registry.registry_client(settings.schema_registry_url.get_secret_value())
            self._owned_registry = registry
        self._registry = (
            None
            if registry is None
            else _registry.RegistrySchemas(registry, register=register_schemas)
        )
        if self.wire_format == "confluent" and self._registry is None:
            raise ConfigError(
                "SAGA_WIRE_FORMAT=confluent needs a schema registry: set SAGA_SCHEMA_REGISTRY_URL"
            )
        self._events = {cls.__event_name__: cls for cls in events}
        self._write_plans: dict[type[Event], _WritePlan] = {}
        self._read_plans: dict[bytes, _ReadPlan] = {}
        self._readers: dict[type[Event], SchemaVersion] = {}
        self._writers: dict[bytes, SchemaVersion] = {}  # by wire-format prefix

    def close(self) -> None:
        """Close the registry client this serializer created (safe to call twice)."""
        if self._owned_registry is not None:
            self._owned_registry.close()
            self._owned_registry = None

    def __enter__(self) -> Serializer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- encoding ---------------------------------------------------------------------------

    def encode(self, event: Event, envelope: Envelope) -> Encoded:
        """Key, value and headers for ``event``; raises before returning anything on error."""
        plan = self._write_plans.get(type(event)) or self._plan_write(event)
        if envelope.event_type != plan.name:
            raise EncodeError(
                f"envelope is for {envelope.event_type!r} but the event is {plan.name!r}: "
                "build the envelope with Envelope.new(event, ...)"
            )
        value = self._write(plan, event)
        envelope = envelope.with_schema(plan.ref)
        return Encoded(envelope.key, value, envelope.to_headers(), envelope)

    def encode_payload(self, event: Event) -> bytes:
        """The message value alone (wire-format prefix + Avro body)."""
        plan = self._write_plans.get(type(event)) or self._plan_write(event)
        return self._write(plan, event)

    def _write(self, plan: _WritePlan, event: Event) -> bytes:
        buffer = BytesIO()
        buffer.write(plan.prefix)
        try:
            # strict: a missing or unknown field fails instead of being written as default.
            schemaless_writer(buffer, plan.writer, event.model_dump(), strict=True)
        except Exception as exc:  # fastavro raises many types for a datum that does not fit
            raise EncodeError(
                f"{plan.name} does not fit its contract {plan.ref}: {exc}; "
                "build events with their constructor, which validates every field"
            ) from exc
        value = buffer.getvalue()
        if len(value) > self.max_payload_bytes:
            raise PayloadTooLarge(
                f"{plan.name} encodes to {len(value)} bytes, over the cap of "
                f"{self.max_payload_bytes}: keep large data out of events or raise "
                "SAGA_MAX_PAYLOAD_BYTES"
            )
        return value

    def _plan_write(self, event: Event) -> _WritePlan:
        if not isinstance(event, Event):
            raise EncodeError(
                f"only saga.contracts.events.Event instances can be encoded, not {event!r}"
            )
        cls = type(event)
        version = self._contract_version(cls)
        if self.wire_format == "confluent":
            assert self._registry is not None  # checked in __init__
            prefix = _registry.prefix(self._registry.id_for(version))
        else:
            prefix = _single_object.prefix(version.fingerprint)
        plan = _WritePlan(name=version.name, prefix=prefix, writer=version.parsed, ref=version.ref)
        self._write_plans[cls] = plan
        return plan

    def _contract_version(self, cls: type[Event]) -> SchemaVersion:
        known = self._readers.get(cls)
        if known is not None:
            return known
        name = cls.__event_name__
        schema = contract_of(cls)
        if schema is None:
            version = self.contracts.latest(name)
        else:
            found = self.contracts.find(schema)
            if found is None:
                raise EncodeError(
                    f"{cls.__qualname__} mirrors a schema for {name!r} that is not published in "
                    f"{self.contracts.root}: run `saga schemas generate` after adding it as a "
                    "new version"
                )
            version = found
        self._readers[cls] = version
        return version

    # -- decoding ---------------------------------------------------------------------------

    def decode(self, value: bytes, headers: Headers) -> Decoded:
        """The event and envelope of a Kafka message."""
        self._check_size(value)
        envelope = Envelope.from_headers(headers)
        event = self._read(value)
        if event.__event_name__ != envelope.event_type:
            raise DecodeError(
                f"header event-type says {envelope.event_type!r} but the payload is "
                f"{event.__event_name__!r}: the producer mislabels its events"
            )
        return Decoded(event, envelope)

    def decode_payload(self, value: bytes) -> Event:
        """The event in a message value, without headers."""
        self._check_size(value)
        return self._read(value)

    def _check_size(self, value: bytes) -> None:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise DecodeError(f"a payload is bytes, not {type(value).__name__}")
        if len(value) > self.max_payload_bytes:
            raise PayloadTooLarge(
                f"payload of {len(value)} bytes is over the cap of {self.max_payload_bytes} "
                "and was not decoded: raise SAGA_MAX_PAYLOAD_BYTES if such events are expected"
            )

    def decode_raw(self, value: bytes) -> tuple[SchemaVersion, Any]:
        """The writer's contract version and the record exactly as written, in plain Python
        values: no event class and no schema resolution, for tools that show any event
        (``saga tail``). Fails as :meth:`decode_payload` does."""
        self._check_size(value)
        value = bytes(value)
        prefix = _split_prefix(value)
        writer = self._writers.get(prefix) or self._writer(prefix)
        return writer, _body(writer.name, value, len(prefix), writer.parsed, None)

    def _read(self, value: bytes) -> Event:
        value = bytes(value)
        prefix = _split_prefix(value)
        plan = self._read_plans.get(prefix) or self._plan_read(prefix)
        datum = _body(plan.name, value, plan.offset, plan.writer, plan.reader)
        try:
            return plan.cls.model_validate(datum)
        except ValidationError as exc:
            raise DecodeError(
                f"{plan.name}: decoded record does not fit {plan.cls.__qualname__}: {exc}"
            ) from exc

    def _writer(self, prefix: bytes) -> SchemaVersion:
        if prefix[:1] == _registry.MAGIC:
            if self._registry is None:
                raise _registry_missing()
            writer = self._registry.version_for_id(int.from_bytes(prefix[1:], "big"))
        else:
            writer = self.contracts.by_fingerprint(prefix[2:])
        self._writers[prefix] = writer
        return writer

    def _plan_read(self, prefix: bytes) -> _ReadPlan:
        writer = self._writers.get(prefix) or self._writer(prefix)
        cls = self._events.get(writer.name) or event_class(writer.name)
        schema = contract_of(cls)
        if schema is None:
            reader = self.contracts.latest(writer.name)
        else:  # the class's own contract, published or not yet
            reader = self.contracts.find(schema) or SchemaVersion.from_schema(schema)
        plan = _ReadPlan(
            name=writer.name,
            cls=cls,
            writer=writer.parsed,
            reader=None if reader.schema == writer.schema else reader.parsed,
            offset=len(prefix),
        )
        self._read_plans[prefix] = plan
        return plan


def _split_prefix(value: bytes) -> bytes:
    """The wire-format prefix that names the writer's schema."""
    if _single_object.is_single_object(value):
        return _single_object.split_prefix(value)
    if value[:1] == _registry.MAGIC:
        return _registry.split_prefix(value)[0]
    raise DecodeError(
        f"payload starts with {value[:2].hex() or 'nothing'}: neither Avro single-object "
        "(c301) nor Confluent (00) wire format"
    )


def _body(
    name: str, value: bytes, offset: int, writer: dict[str, Any], reader: dict[str, Any] | None
) -> Any:
    """The Avro record after the prefix; the whole payload must be that one record."""
    buffer = BytesIO(value)
    buffer.seek(offset)
    try:
        datum = schemaless_reader(buffer, writer, reader)
    except Exception as exc:  # truncated or corrupt bytes surface as many types
        raise DecodeError(
            f"{name}: payload is not valid Avro for its schema ({type(exc).__name__}: {exc})"
        ) from exc
    trailing = len(value) - buffer.tell()
    if trailing:
        raise DecodeError(
            f"{name}: {trailing} unexpected bytes after the Avro record: the payload "
            "is corrupt or was written with another schema than it names"
        )
    return datum


def _registry_missing() -> Exception:
    return UnknownSchemaError(
        "payload is in the Confluent wire format but no schema registry is configured: "
        "set SAGA_SCHEMA_REGISTRY_URL"
    )
