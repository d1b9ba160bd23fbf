"""Random and mutated bytes at the decoder: only documented ContractError subclasses come out."""

from __future__ import annotations

import contextlib

from confluent_kafka.schema_registry import SchemaRegistryClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saga.contracts.envelope import Envelope
from saga.contracts.schemas import load_contracts
from saga.contracts.serde import Serializer
from saga.errors import (
    DecodeError,
    PayloadTooLarge,
    RegistryUnavailable,
    UnknownSchemaError,
)
from saga.settings import Settings
from tests._samples import AVRO, ORDER, one_of_each

DOCUMENTED = (DecodeError, UnknownSchemaError, PayloadTooLarge, RegistryUnavailable)
_REGISTRY = SchemaRegistryClient.new_client({"url": "mock://fuzz"})
SERIALIZER = Serializer(
    Settings(schema_dir=AVRO, max_payload_bytes=4096),
    contracts=load_contracts(AVRO),
    registry=_REGISTRY,
)
CONFLUENT = Serializer(
    Settings(schema_dir=AVRO, wire_format="confluent", max_payload_bytes=4096),
    contracts=load_contracts(AVRO),
    registry=_REGISTRY,
)
VALID = [
    serializer.encode(event, Envelope.new(event, correlation_id=ORDER, producer="fuzz"))
    for event in one_of_each()
    for serializer in (SERIALIZER, CONFLUENT)
]


def _decode(value: bytes, headers: list[tuple[str, bytes]]) -> None:
    # Anything else (another ContractError, a fastavro or pydantic exception) fails the test.
    with contextlib.suppress(*DOCUMENTED):
        SERIALIZER.decode(value, headers)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, list[tuple[str, bytes]]]:
    """A valid message with a few bytes flipped, inserted, deleted, or cut off."""
    message = draw(st.sampled_from(VALID))
    value = bytearray(message.value)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "append"]))
        at = draw(st.integers(0, max(0, len(value) - 1)))
        if action == "flip" and value:
            value[at] ^= draw(st.integers(1, 255))
        elif action == "insert":
            value[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete" and value:
            del value[at : at + draw(st.integers(1, 8))]
        elif action == "truncate":
            del value[at:]
        else:
            value += draw(st.binary(min_size=1, max_size=8))
    return bytes(value), message.headers


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_payloads_raise_only_documented_errors(
    message: tuple[bytes, list[tuple[str, bytes]]],
) -> None:
    _decode(*message)


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.sampled_from([b"", b"\xc3\x01", b"\x00", b"\x00\x00\x00\x00\x01"])
    | st.sampled_from([m.value[:10] for m in VALID]),
    body=st.binary(max_size=300),
)
def test_random_bytes_raise_only_documented_errors(prefix: bytes, body: bytes) -> None:
    _decode(prefix + body, VALID[0].headers)


@settings(max_examples=200, deadline=None)
@given(
    headers=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "event-id",
                    "event-type",
                    "correlation-id",
                    "occurred-at",
                    "schema",
                    "producer",
                    "causation-id",
                    "traceparent",
                    "other",
                ]
            ),
            st.binary(max_size=40),
        ),
        max_size=10,
    )
)
def test_random_headers_raise_only_documented_errors(headers: list[tuple[str, bytes]]) -> None:
    _decode(VALID[0].value, headers)


def test_the_fuzz_corpus_decodes_when_untouched() -> None:
    for message in VALID:
        assert SERIALIZER.decode(message.value, message.headers).envelope == message.envelope
