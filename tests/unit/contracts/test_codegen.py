"""Generated models for the Avro types beyond the example domain."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from saga.codegen import generate_module
from saga.envelope import Envelope
from saga.errors import DefinitionError
from saga.schemas import load_contracts
from saga.serde import Serializer
from saga.settings import Settings

from ._samples import write_contract

KITCHEN_SINK = {
    "type": "record",
    "name": "Sink",
    "namespace": "test.codegen",
    "doc": "Every Avro type the generator maps.",
    "fields": [
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {
            "name": "price",
            "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
        },
        {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 4}},
        {"name": "tags", "type": {"type": "map", "values": "long"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "clock", "type": {"type": "long", "logicalType": "time-micros"}},
        {"name": "ratio", "type": "double"},
        {"name": "ok", "type": "boolean", "default": True},
        {"name": "blob", "type": "bytes", "default": "\u00ff"},
        {"name": "either", "type": ["null", "string", "long"], "default": None},
        {"name": "items", "type": {"type": "array", "items": "string"}, "default": []},
    ],
}


def _load(
    tmp_path: Path, schema: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> tuple[ModuleType, str]:
    write_contract(tmp_path, schema)
    source = generate_module(load_contracts(tmp_path))
    module = ModuleType("generated_for_test")
    monkeypatch.setitem(sys.modules, module.__name__, module)  # pydantic resolves names there
    exec(compile(source, module.__name__, "exec"), module.__dict__)
    return module, source


def test_generated_code_maps_every_type_and_round_trips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, source = _load(tmp_path, KITCHEN_SINK, monkeypatch)
    assert "Annotated[Decimal, Field(max_digits=9, decimal_places=2)]" in source
    assert "tags: dict[str, AvroLong]" in source
    assert "either: str | AvroLong | None = None" in source
    sink_cls: Any = module.Sink
    sink = sink_cls(
        id=UUID(int=1),
        price=Decimal("12.34"),
        hash=b"abcd",
        tags={"a": 1},
        day=date(2024, 1, 2),
        at_ms=datetime(2024, 1, 2, 3, 4, 5, 6000, tzinfo=UTC),
        clock=time(1, 2, 3, 4),
        ratio=0.5,
        either=7,
    )
    assert sink.ok is True
    assert sink.blob == b"\xff"
    assert sink.items == []
    serializer = Serializer(Settings(schema_dir=tmp_path), events=(sink_cls,))
    encoded = serializer.encode(sink, Envelope.new(sink, correlation_id="c", producer="p"))
    assert serializer.decode(encoded.value, encoded.headers).event == sink
    with pytest.raises(ValidationError):
        sink_cls(**{**dict(sink), "price": Decimal("1.234")})  # more places than the scale
    with pytest.raises(ValidationError):
        sink_cls(**{**dict(sink), "hash": b"abc"})  # fixed size


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"name": "class", "type": "string"}, "cannot be a pydantic field name"),
        ({"name": "model_dump", "type": "string"}, "cannot be a pydantic field name"),
        (
            {"name": "x", "type": ["string", {"type": "array", "items": "long"}]},
            "union of several types",
        ),
        (
            {"name": "x", "type": {"type": "array", "items": "long"}, "default": [1]},
            "not supported",
        ),
    ],
)
def test_unsupported_contracts_are_refused_with_the_fix(
    tmp_path: Path, field: dict[str, Any], message: str
) -> None:
    schema = {"type": "record", "name": "Odd", "namespace": "test.odd", "fields": [field]}
    write_contract(tmp_path, schema)
    with pytest.raises(DefinitionError, match=message):
        generate_module(load_contracts(tmp_path))


def test_clashing_short_names_get_qualified_class_names(tmp_path: Path) -> None:
    for namespace in ("test.alpha", "test.beta"):
        write_contract(
            tmp_path,
            {
                "type": "record",
                "name": f"Clash{namespace[-1]}",
                "namespace": namespace,
                "fields": [
                    {
                        "name": "inner",
                        "type": {"type": "record", "name": "Inner", "fields": []},
                    }
                ],
            },
        )
    source = generate_module(load_contracts(tmp_path))
    assert "class TestAlphaInner(Record):" in source
    assert "class TestBetaInner(Record):" in source
