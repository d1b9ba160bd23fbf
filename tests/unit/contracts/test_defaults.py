"""Field defaults are checked when a contract loads: a wrong one fails then, not at decode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from saga.cli._schemas import schemas_app
from saga.contracts.schemas import SchemaVersion, load_contracts
from saga.errors import DefinitionError
from tests._samples import write_contract

STATUS = {"type": "enum", "name": "Status", "symbols": ["A", "B"]}
ADDRESS = {
    "type": "record",
    "name": "Address",
    "fields": [
        {"name": "city", "type": "string"},
        {"name": "zip", "type": "string", "default": ""},
    ],
}


def _schema(field_type: Any, default: Any) -> dict[str, Any]:
    return {
        "type": "record",
        "name": "Thing",
        "namespace": "acme",
        "fields": [{"name": "x", "type": field_type, "default": default}],
    }


NODE = {"type": "record", "name": "Node", "fields": [{"name": "next", "type": ["null", "Node"]}]}

# (type, default, what the one-line message says about it)
INVALID = [
    (STATUS, "C", "is not a symbol of enum Status (A, B): use one of its symbols"),
    (ADDRESS, {"zip": "1"}, "lacks `city`, which has no default in record Address: give it"),
    (ADDRESS, {"city": "B", "town": "C"}, "names `town`, which record Address has no field for"),
    (ADDRESS, {"city": 5}, "has `city` that is not a string"),
    (["null", "string"], "x", "fits the branch string, not the first one (null)"),
    (["string", "null"], None, "fits the branch null, not the first one (string)"),
    ("int", True, "is not an int"),
    ("int", 2**31, "is not an int (-2147483648..2147483647)"),
    ("long", 1.5, "is not a long"),
    ("double", "1.0", "is not a double"),
    ("bytes", "\u0100", "has characters above \\u00ff"),
    ({"type": "fixed", "name": "F", "size": 2}, "abc", "is 3 bytes long, not 2"),
    ({"type": "array", "items": "int"}, [1, "x"], "has item 1 that is not an int"),
    ({"type": "map", "values": STATUS}, {"k": "Z"}, 'value of key "k" that is not a symbol'),
    ({"type": "long", "logicalType": "timestamp-micros"}, "2024-01-01", "is not a long"),
]


@pytest.mark.parametrize(("field_type", "default", "message"), INVALID)
def test_an_invalid_default_fails_when_the_contract_loads(
    tmp_path: Path, field_type: Any, default: Any, message: str
) -> None:
    path = write_contract(tmp_path, _schema(field_type, default))
    with pytest.raises(DefinitionError) as caught:
        load_contracts(tmp_path)
    text = str(caught.value)
    assert text.startswith(f"{path}: field `x` has the default ")
    assert message in text
    assert "\n" not in text


def test_defaults_inside_nested_records_are_checked_with_their_path(tmp_path: Path) -> None:
    inner = {"type": "record", "name": "Inner", "fields": [{"name": "s", "type": STATUS}]}
    inner["fields"][0]["default"] = "Z"
    schema = {
        "type": "record",
        "name": "Outer",
        "namespace": "acme",
        "fields": [{"name": "lines", "type": {"type": "array", "items": inner}}],
    }
    with pytest.raises(DefinitionError, match=r"field `lines\[\]\.s` has the default \"Z\""):
        SchemaVersion.from_schema(schema)


@pytest.mark.parametrize(
    ("field_type", "default"),
    [
        (STATUS, "B"),
        (ADDRESS, {"city": "Berlin"}),  # `zip` takes its own default
        (["null", "string"], None),
        (["string", "null"], "x"),
        ("int", -(2**31)),
        ("double", 1),
        ("bytes", "\u00ff"),
        ({"type": "fixed", "name": "F", "size": 2}, "ab"),
        ({"type": "array", "items": ADDRESS}, [{"city": "C"}]),
        ({"type": "map", "values": "long"}, {"a": 1}),
        ({"type": "long", "logicalType": "timestamp-micros"}, 0),
        (NODE, {"next": None}),
    ],
)
def test_valid_defaults_load(field_type: Any, default: Any) -> None:
    SchemaVersion.from_schema(_schema(field_type, default))


def test_the_cli_reports_an_invalid_default_on_one_line(tmp_path: Path) -> None:
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "Thing.v1.avsc").write_text(json.dumps(_schema(STATUS, "C")))
    result = CliRunner().invoke(schemas_app, ["check", str(tmp_path)])
    assert result.exit_code != 0
    assert isinstance(result.exception, DefinitionError)
    assert "Thing.v1.avsc: field `x` has the default" in str(result.exception)
