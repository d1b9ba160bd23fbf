"""Generated models for the Avro types beyond the example domain."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from saga.contracts.codegen import generate_module
from saga.contracts.envelope import Envelope
from saga.contracts.schemas import load_contracts
from saga.contracts.serde import Serializer
from saga.errors import DefinitionError
from saga.settings import Settings
from tests._samples import write_contract

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
    """Generate the module for ``schema`` into a file and import it, as a service would."""
    contracts = tmp_path / "avro"
    write_contract(contracts, schema)
    source = generate_module(load_contracts(contracts))
    path = tmp_path / f"generated_{tmp_path.name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # pydantic resolves names there
    spec.loader.exec_module(module)
    return module, source


def _round_trip(tmp_path: Path, event: Any) -> Any:
    serializer = Serializer(Settings(schema_dir=tmp_path / "avro"), events=(type(event),))
    encoded = serializer.encode(event, Envelope.new(event, correlation_id="c", producer="p"))
    return serializer.decode(encoded.value, encoded.headers).event


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
    assert _round_trip(tmp_path, sink) == sink
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


NODE = {
    "type": "record",
    "name": "Node",
    "fields": [
        {"name": "value", "type": "long"},
        {"name": "next", "type": ["null", "Node"], "default": None},
    ],
}
# Tree and Forest refer to each other; Forest is written first, so it names a later class.
TREE = {
    "type": "record",
    "name": "Tree",
    "fields": [
        {"name": "label", "type": "string"},
        {
            "name": "forest",
            "type": {
                "type": "record",
                "name": "Forest",
                "fields": [{"name": "trees", "type": {"type": "array", "items": "Tree"}}],
            },
        },
    ],
}
RECURSIVE = {
    "type": "record",
    "name": "Chain",
    "namespace": "test.recursive",
    "fields": [
        {"name": "head", "type": ["null", NODE], "default": None},
        {"name": "tree", "type": TREE},
        {"name": "parent", "type": ["null", "Chain"], "default": None},  # the event itself
    ],
}


def test_recursive_and_mutually_recursive_records_import_and_round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, source = _load(tmp_path, RECURSIVE, monkeypatch)
    assert source.index("class Forest(Record)") < source.index("class Tree(Record)")
    generated: Any = module
    # Complete right after import, before any instance: serializers read the fields first.
    assert all(
        getattr(generated, name).__pydantic_complete__
        for name in ("Node", "Forest", "Tree", "Chain")
    )
    leaf = generated.Tree(label="leaf", forest=generated.Forest(trees=[]))
    chain = generated.Chain(
        head=generated.Node(value=1, next=generated.Node(value=2)),
        tree=generated.Tree(label="root", forest=generated.Forest(trees=[leaf, leaf])),
        parent=generated.Chain(tree=leaf),
    )
    assert _round_trip(tmp_path, chain) == chain
    with pytest.raises(ValidationError):
        generated.Node(value=1, next=generated.Forest(trees=[]))  # typed, not Any
