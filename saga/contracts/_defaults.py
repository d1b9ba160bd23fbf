"""Field defaults checked against their types when a contract loads.

A reader uses a field's default only when it reads data written without that field, so a
wrong default would pass every check and fail at decode time, long after it was published.
fastavro checks the top level of some defaults; this checks all of them, as the Avro
specification's table of default values says (bytes and fixed as strings of code points
0-255, records as objects with a value for every field that has no default of its own).

One rule goes beyond the 1.12 specification, which lets a union's default match any branch:
the default must fit the *first* branch, as Avro before 1.12 (still deployed widely) and the
generated models require.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["default_problems"]

_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


def default_problems(parsed: Mapping[str, Any], named: Mapping[str, Any]) -> list[str]:
    """One line per field whose default does not fit its type, naming the field and the fix."""
    return _Walk(named).record(parsed, "")


class _Walk:
    def __init__(self, named: Mapping[str, Any]) -> None:
        self.named = named
        self.seen: set[str] = set()

    def record(self, record: Mapping[str, Any], path: str) -> list[str]:
        name = str(record.get("name"))
        if name in self.seen:  # recursive records: each one is checked once
            return []
        self.seen.add(name)
        found: list[str] = []
        for avro_field in record.get("fields", []):
            field_path = f"{path}.{avro_field['name']}" if path else str(avro_field["name"])
            if "default" in avro_field:
                problem = self.problem(avro_field["type"], avro_field["default"])
                if problem is not None:
                    shown = json.dumps(avro_field["default"], ensure_ascii=False)
                    found.append(f"field `{field_path}` has the default {shown}, which {problem}")
            found.extend(self.nested(avro_field["type"], field_path))
        return found

    def nested(self, schema: Any, path: str) -> list[str]:
        schema = self.deref(schema)
        if isinstance(schema, list):
            return [line for branch in schema for line in self.nested(branch, path)]
        if not isinstance(schema, dict):
            return []
        kind = schema.get("type")
        if kind in ("record", "error"):
            return self.record(schema, path)
        if kind == "array":
            return self.nested(schema["items"], f"{path}[]")
        if kind == "map":
            return self.nested(schema["values"], f"{path}{{}}")
        return []

    def deref(self, schema: Any) -> Any:
        if isinstance(schema, str):
            return self.named.get(schema, schema)
        if isinstance(schema, dict) and isinstance(schema.get("type"), list | dict):
            return self.deref(schema["type"])
        if isinstance(schema, dict) and schema.get("type") in self.named:
            return self.deref(schema["type"])
        return schema

    def problem(self, schema: Any, value: Any) -> str | None:
        """Why ``value`` is not a valid default for ``schema``, or None when it is."""
        schema = self.deref(schema)
        if isinstance(schema, list):
            return self.union(schema, value)
        kind = schema if isinstance(schema, str) else str(schema.get("type"))
        if kind == "null":
            return None if value is None else "is not null: use null"
        if kind == "boolean":
            return None if isinstance(value, bool) else "is not a boolean: use true or false"
        if kind in _RANGES:
            low, high = _RANGES[kind]
            if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
                return None
            article = "an" if kind == "int" else "a"
            return f"is not {article} {kind} ({low}..{high}): use a whole number in that range"
        if kind in ("float", "double"):
            if isinstance(value, int | float) and not isinstance(value, bool):
                return None
            return f"is not a {kind}: use a JSON number"
        if kind == "string":
            return None if isinstance(value, str) else "is not a string: use a JSON string"
        if kind == "bytes":
            return _bytes_problem(value)
        if kind == "fixed":
            size = int(schema["size"])
            problem = _bytes_problem(value)
            if problem is None and len(value) != size:
                return f"is {len(value)} bytes long, not {size}: use a string of {size} bytes"
            return problem
        if kind == "enum":
            symbols = list(schema.get("symbols", []))
            if isinstance(value, str) and value in symbols:
                return None
            return (
                f"is not a symbol of enum {_short(schema)} ({', '.join(symbols)}): "
                "use one of its symbols"
            )
        if kind == "array":
            if not isinstance(value, list):
                return "is not an array: use a JSON array"
            return _first(
                f"has item {index} that {problem}"
                for index, item in enumerate(value)
                if (problem := self.problem(schema["items"], item)) is not None
            )
        if kind == "map":
            if not isinstance(value, dict):
                return "is not a map: use a JSON object"
            return _first(
                f"has the value of key {json.dumps(key)} that {problem}"
                for key, item in value.items()
                if (problem := self.problem(schema["values"], item)) is not None
            )
        if kind in ("record", "error"):
            return self.record_value(schema, value)
        return None

    def record_value(self, schema: Mapping[str, Any], value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"is not a record {_short(schema)}: use a JSON object of its fields"
        fields = {str(f["name"]): f for f in schema.get("fields", [])}
        unknown = sorted(set(value) - set(fields))
        if unknown:
            return f"names `{unknown[0]}`, which record {_short(schema)} has no field for: drop it"
        for name, avro_field in fields.items():
            if name not in value:
                if "default" not in avro_field:
                    return (
                        f"lacks `{name}`, which has no default in record {_short(schema)}: "
                        "give it a value"
                    )
                continue
            problem = self.problem(avro_field["type"], value[name])
            if problem is not None:
                return f"has `{name}` that {problem}"
        return None

    def union(self, branches: list[Any], value: Any) -> str | None:
        if not branches:
            return "is for an empty union: a union needs a branch"
        if self.problem(branches[0], value) is None:
            return None
        fitting = next((b for b in branches[1:] if self.problem(b, value) is None), None)
        first = _describe(self.deref(branches[0]))
        if fitting is None:
            return f"fits no branch of the union: use a value of its first branch, {first}"
        return (
            f"fits the branch {_describe(self.deref(fitting))}, not the first one ({first}): "
            "a union's default takes the type of its first branch, so put that branch first"
        )


def _bytes_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return "is not a string of bytes: write bytes as a JSON string of code points 0-255"
    if any(ord(char) > 255 for char in value):
        return "has characters above \\u00ff: write bytes as code points 0-255"
    return None


def _first(problems: Any) -> str | None:
    return next(iter(problems), None)


def _short(schema: Mapping[str, Any]) -> str:
    return str(schema.get("name")).rsplit(".", 1)[-1]


def _describe(schema: Any) -> str:
    if isinstance(schema, str):
        return schema.rsplit(".", 1)[-1]
    if isinstance(schema, dict):
        kind = str(schema.get("type"))
        return f"{kind} {_short(schema)}" if "name" in schema else kind
    return "union"
