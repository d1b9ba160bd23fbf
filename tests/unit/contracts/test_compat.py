"""The compatibility checker on fixture pairs that each break one rule."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from saga.cli._schemas import schemas_app
from saga.contracts.compatibility import STRICT_LOGICAL_TYPES, Level, check_contracts, parse_level
from saga.contracts.schemas import load_contracts
from saga.errors import CompatibilityError, ConfigError
from tests._samples import FIXTURES, write_contract

# case → (a level that must fail, the message naming the field and the rule)
BROKEN = {
    "field_added_without_default": ("BACKWARD", "field `currency` added without default"),
    "field_removed_without_default": ("FORWARD", "field `amount` removed without default"),
    "type_changed": ("BACKWARD", "field `amount` changed type long→string"),
    "type_narrowed": ("BACKWARD", "field `amount` changed type long→int"),
    "type_promoted": ("FORWARD", "field `amount` changed type int→long"),
    "enum_symbol_removed": ("BACKWARD", "enum `status` removed symbol VOID"),
    "enum_symbol_added": ("FORWARD", "enum `status` added symbol VOID"),
    "union_branch_removed": ("BACKWARD", "field `note` removed union branch long"),
    "nullable_made_required": ("BACKWARD", "field `note` changed type union[null, string]→string"),
    "record_renamed": ("BACKWARD", "field `address` renamed Address→Location"),
    "nested_field_added_without_default": ("BACKWARD", "field `lines[].sku` added without default"),
    "map_values_changed": ("BACKWARD", "field `totals{}` changed type long→string"),
    "fixed_size_changed": ("BACKWARD", "fixed `hash` changed size 16→8"),
    "logical_type_changed": (
        "BACKWARD",
        "field `at` changed logical type timestamp-millis→timestamp-micros",
    ),
    "decimal_scale_changed": ("FORWARD", "changed logical type decimal(10,2)→decimal(10,3)"),
    "transitive_only": ("BACKWARD_TRANSITIVE", "field `currency` added without default"),
}
# cases that only break one direction pass the other one
ONE_WAY = {
    "field_added_without_default": "FORWARD",
    "field_removed_without_default": "BACKWARD",
    "type_narrowed": "FORWARD",
    "type_promoted": "BACKWARD",
    "enum_symbol_removed": "FORWARD",
    "enum_symbol_added": "BACKWARD",
    "union_branch_removed": "FORWARD",
    "nullable_made_required": "FORWARD",
    "nested_field_added_without_default": "FORWARD",
    "transitive_only": "BACKWARD",
}


def test_every_fixture_folder_is_covered() -> None:
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir()}
    assert folders == set(BROKEN)


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_the_checker_names_the_file_field_and_rule(case: str) -> None:
    level, message = BROKEN[case]
    report = check_contracts(load_contracts(FIXTURES / case), level)
    assert not report.ok
    texts = [str(item) for item in report.incompatibilities]
    assert any(message in text for text in texts), texts
    rule = level.removesuffix("_TRANSITIVE")
    for text in texts:
        assert f"({rule}: " in text
        assert "fixtures/Payment.v" in text
    with pytest.raises(CompatibilityError, match=f"break {level}"):
        report.raise_for_incompatibilities()


@pytest.mark.parametrize("case", sorted(ONE_WAY))
def test_a_one_way_change_passes_the_other_direction(case: str) -> None:
    assert check_contracts(load_contracts(FIXTURES / case), ONE_WAY[case]).ok


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_full_transitive_catches_every_fixture_and_none_catches_nothing(case: str) -> None:
    contracts = load_contracts(FIXTURES / case)
    assert not check_contracts(contracts, "FULL_TRANSITIVE").ok
    assert check_contracts(contracts, "NONE").ok


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_the_cli_exits_non_zero_with_the_message(case: str) -> None:
    level, message = BROKEN[case]
    result = CliRunner().invoke(schemas_app, ["check", str(FIXTURES / case), "--level", level])
    assert result.exit_code == 1
    assert message in result.output


def test_the_cli_default_level_is_backward_transitive() -> None:
    result = CliRunner().invoke(schemas_app, ["check", str(FIXTURES / "transitive_only")])
    assert result.exit_code == 1
    assert "BACKWARD_TRANSITIVE" in result.output


def test_levels_parse_case_insensitively_and_refuse_typos() -> None:
    assert parse_level("full-transitive") is Level.FULL_TRANSITIVE
    assert Level.FULL.rules == ("BACKWARD", "FORWARD")
    assert not Level.FULL.transitive
    with pytest.raises(ConfigError, match="choose one of NONE, BACKWARD"):
        parse_level("BACKWARDS")


BASE: dict[str, Any] = {
    "type": "record",
    "name": "Payment",
    "namespace": "acme",
    "fields": [
        {"name": "id", "type": "string"},
        {
            "name": "address",
            "type": {
                "type": "record",
                "name": "Address",
                "fields": [{"name": "city", "type": "string"}],
            },
        },
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["A", "B"]}},
    ],
}


def _pair(tmp_path: Path, new: dict[str, Any]) -> bool:
    write_contract(tmp_path, BASE, 1)
    write_contract(tmp_path, new, 2)
    return check_contracts(load_contracts(tmp_path), "FULL").ok


def test_aliases_let_a_record_and_a_field_be_renamed_backward(tmp_path: Path) -> None:
    new = copy.deepcopy(BASE)
    fields: list[dict[str, Any]] = new["fields"]
    fields[0] = {"name": "payment_id", "type": "string", "aliases": ["id"]}
    fields[1] = {
        "name": "address",
        "type": {
            "type": "record",
            "name": "Location",
            "aliases": ["acme.Address"],
            "fields": [{"name": "city", "type": "string"}],
        },
    }
    write_contract(tmp_path, BASE, 1)
    write_contract(tmp_path, new, 2)
    contracts = load_contracts(tmp_path)
    assert check_contracts(contracts, "BACKWARD").ok
    assert not check_contracts(contracts, "FORWARD").ok  # old readers know no alias


def test_an_enum_default_absorbs_new_symbols(tmp_path: Path) -> None:
    base_status = {"type": "enum", "name": "Status", "symbols": ["A", "B"], "default": "A"}
    base = copy.deepcopy(BASE)
    base["fields"][2]["type"] = base_status
    new = copy.deepcopy(base)
    new["fields"][2]["type"] = {**base_status, "symbols": ["A", "B", "C"]}
    write_contract(tmp_path, base, 1)
    write_contract(tmp_path, new, 2)
    assert check_contracts(load_contracts(tmp_path), "FULL_TRANSITIVE").ok


def test_adding_a_field_with_a_default_is_fully_compatible(tmp_path: Path) -> None:
    new = copy.deepcopy(BASE)
    new["fields"].append({"name": "note", "type": ["null", "string"], "default": None})
    assert _pair(tmp_path, new)


def _nested(kind: str, name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    shapes: dict[str, dict[str, Any]] = {
        "record": {"fields": [{"name": "city", "type": "string"}]},
        "enum": {"symbols": ["A", "B"]},
        "fixed": {"size": 4},
    }
    schema: dict[str, Any] = {"type": kind, "name": name, **shapes[kind], **extra}
    if namespace is not None:
        schema["namespace"] = namespace
    return schema


def _with_nested(nested: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "record",
        "name": "Payment",
        "namespace": "acme",
        "fields": [{"name": "id", "type": "string"}, {"name": "part", "type": nested}],
    }


def _backward(tmp_path: Path, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    write_contract(tmp_path, old, 1)
    write_contract(tmp_path, new, 2)
    report = check_contracts(load_contracts(tmp_path), "BACKWARD")
    return [str(item) for item in report.incompatibilities]


@pytest.mark.parametrize("kind", ["record", "enum", "fixed"])
@pytest.mark.parametrize(
    ("new_namespace", "aliases", "compatible"),
    [
        (None, ["acme.Addr"], True),  # a full name
        (None, ["Addr"], True),  # relative: in the type's own namespace, acme
        (None, ["other.Addr"], False),  # another type's full name, whatever its short name
        ("other", ["Addr"], False),  # relative to `other`: other.Addr
        ("other", ["acme.Addr"], True),
        (None, [], False),
    ],
)
def test_aliases_of_named_types_are_full_names(
    tmp_path: Path, kind: str, new_namespace: str | None, aliases: list[str], compatible: bool
) -> None:
    old = _with_nested(_nested(kind, "Addr"))
    new = _with_nested(_nested(kind, "Location", new_namespace, aliases=aliases))
    problems = _backward(tmp_path, old, new)
    assert (problems == []) is compatible, problems
    if not compatible:
        assert (
            "renamed Addr→Location (keep the name, or list acme.Addr in its aliases)"
            in (problems[0])
        )


def test_named_types_match_by_unqualified_name_as_the_spec_says(tmp_path: Path) -> None:
    old = _with_nested(_nested("record", "Addr"))
    new = _with_nested(_nested("record", "Addr", "moved.elsewhere"))
    assert _backward(tmp_path, old, new) == []


def test_a_field_alias_that_clashes_with_a_writer_field_is_refused(tmp_path: Path) -> None:
    old = {**BASE, "fields": [{"name": "id", "type": "string"}, {"name": "ref", "type": "long"}]}
    new = {**BASE, "fields": [{"name": "ref", "type": "long", "aliases": ["id"]}]}
    [problem] = _backward(tmp_path, old, new)
    assert "field `ref` has the alias `id`, but the writer has both `ref` and `id`" in problem


def _field_change(
    tmp_path: Path, old_type: Any, new_type: Any, level: str = "FULL", **options: Any
) -> Any:
    def schema(field_type: Any) -> dict[str, Any]:
        return {**BASE, "fields": [{"name": "at", "type": field_type}]}

    write_contract(tmp_path, schema(old_type), 1)
    write_contract(tmp_path, schema(new_type), 2)
    return check_contracts(load_contracts(tmp_path), level, **options)


def _logical(kind: str, logical: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "logicalType": logical, **extra}


@pytest.mark.parametrize(
    ("old_type", "new_type"),
    [
        (_logical("long", "timestamp-millis"), _logical("long", "timestamp-micros")),
        (_logical("long", "timestamp-micros"), _logical("long", "local-timestamp-micros")),
        (_logical("int", "time-millis"), _logical("long", "time-micros")),
        (_logical("int", "date"), "int"),
        ("string", _logical("string", "uuid")),
    ],
)
def test_known_logical_type_changes_break_the_named_strict_rule_only(
    tmp_path: Path, old_type: Any, new_type: Any
) -> None:
    report = _field_change(tmp_path, old_type, new_type, "BACKWARD")
    assert report.incompatibilities
    assert {item.strictness for item in report.incompatibilities} == {STRICT_LOGICAL_TYPES}
    assert all("[rule strict-logical-types]" in str(item) for item in report.incompatibilities)
    # The specification ignores logical types in resolution: without the rule, it passes.
    relaxed = _field_change(tmp_path, old_type, new_type, "BACKWARD", strict_logical_types=False)
    assert relaxed.ok


@pytest.mark.parametrize(
    ("old_type", "new_type"),
    [
        (_logical("long", "x-money"), _logical("long", "x-other")),  # unknown logical types
        ("long", _logical("long", "x-money")),
        (_logical("int", "timestamp-millis"), "int"),  # a known name on the wrong type
        (_logical("fixed", "uuid", name="U", size=8), {"type": "fixed", "name": "U", "size": 8}),
    ],
)
def test_unknown_or_invalid_logical_types_are_ignored(
    tmp_path: Path, old_type: Any, new_type: Any
) -> None:
    assert _field_change(tmp_path, old_type, new_type).ok


def test_decimal_precision_and_scale_must_match_even_without_the_strict_rule(
    tmp_path: Path,
) -> None:
    old = _logical("bytes", "decimal", precision=10, scale=2)
    new = _logical("bytes", "decimal", precision=12, scale=2)
    report = _field_change(tmp_path, old, new, strict_logical_types=False)
    assert {item.strictness for item in report.incompatibilities} == {None}
    assert "changed logical type decimal(10,2)→decimal(12,2)" in str(report.incompatibilities[0])


def test_bytes_read_as_string_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    report = _field_change(tmp_path, "bytes", "string")
    assert report.ok
    [warning] = [w for w in report.warnings if w.rule == "BACKWARD"]
    assert "field `at` bytes read as string: fails on bytes that are not UTF-8" in str(warning)
    assert [w.rule for w in report.warnings] == ["BACKWARD"]  # string read as bytes is safe
    result = CliRunner().invoke(schemas_app, ["check", str(tmp_path), "--level", "FULL"])
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output
    assert "1 warning(s)" in result.output


def test_the_cli_names_the_strict_rule_and_how_to_turn_it_off() -> None:
    folder = str(FIXTURES / "logical_type_changed")
    strict = CliRunner().invoke(schemas_app, ["check", folder])
    assert strict.exit_code == 1
    assert "--no-strict-logical-types" in strict.output
    relaxed = CliRunner().invoke(schemas_app, ["check", folder, "--no-strict-logical-types"])
    assert relaxed.exit_code == 0, relaxed.output
