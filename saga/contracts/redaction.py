"""Masking personal data in decoded events, for tools that show events (``saga tail``).

A contract marks a field with the custom attribute ``"sensitive": true``, on fields of
nested records too::

    {"name": "line1", "type": "string", "sensitive": true}

Custom attributes are not part of the Avro parsing canonical form, so marking a field
changes neither its fingerprint nor its compatibility: a published version may be marked.
A caller names more fields as dotted paths from the event's root (``shipping_address.line1``)
or as plain names that match the field at any depth (``line1``). A path steps through
arrays (``lines.sku`` is the ``sku`` of every line) and takes a map's key as one step
(``labels.home.email``).

:func:`redact` replaces the value of every such field with :data:`MASK`, whatever its type
(``null`` included), in a copy of the record. It walks the record along each schema it is
given; a union branch that could hold the value is followed, every one of them if several
could, so that a doubt masks more, never less. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from saga.contracts.schemas import SchemaVersion

__all__ = [
    "MASK",
    "SENSITIVE",
    "field_paths",
    "is_marked",
    "redact",
    "sensitive_fields",
    "unknown_fields",
]

#: What a masked value shows.
MASK = "***"
#: The field attribute that marks personal or secret data.
SENSITIVE = "sensitive"

_Schema = str | list[Any] | Mapping[str, Any]
_RECORD_TYPES = ("record", "error")


def is_marked(field: Mapping[str, Any]) -> bool:
    """True unless the field says nothing or ``false``: a mistyped mark (``"yes"``) masks."""
    return field.get(SENSITIVE, False) is not False


def redact(datum: Any, schemas: Iterable[SchemaVersion], fields: Iterable[str] = ()) -> Any:
    """A copy of ``datum`` (a record as fastavro decodes it) with the fields each of
    ``schemas`` marks, and the ``fields`` named, replaced by :data:`MASK`.

    Pass the writer's schema and the other versions of the same contract: a field marked in
    any of them is masked (a schema registered before the mark was added still masks).
    """
    for version in schemas:
        datum = _masked_by_schema(datum, version.parsed, version.named)
    for name in fields:
        path = tuple(name.split("."))
        datum = _masked_path(datum, path) if len(path) > 1 else _masked_name(datum, name)
    return datum


def sensitive_fields(version: SchemaVersion) -> list[str]:
    """Dotted paths of the fields ``version`` marks sensitive."""
    return [path for path, marked in _walk_fields(version) if marked]


def field_paths(version: SchemaVersion) -> list[str]:
    """Dotted paths of every field of ``version``, nested records included (a recursive
    type is followed once)."""
    return [path for path, _ in _walk_fields(version)]


def unknown_fields(fields: Iterable[str], versions: Iterable[SchemaVersion]) -> list[str]:
    """The ``fields`` (dotted paths or plain names) that no field of ``versions`` matches."""
    paths: set[str] = set()
    names: set[str] = set()
    for version in versions:
        for path in field_paths(version):
            paths.add(path)
            names.add(path.rsplit(".", 1)[-1])
    return [f for f in fields if (f not in paths if "." in f else f not in names)]


# -- walking a record along its schema -----------------------------------------------------


def _masked_by_schema(datum: Any, schema: _Schema, named: Mapping[str, Any]) -> Any:
    if isinstance(schema, str):
        # fastavro's parsed form names every named type by its full name after its definition
        definition = named.get(schema)
        return datum if definition is None else _masked_by_schema(datum, definition, named)
    if isinstance(schema, list):  # a union: follow every branch that could hold the value
        for branch in schema:
            if _could_hold(branch, datum, named):
                datum = _masked_by_schema(datum, branch, named)
        return datum
    kind = schema.get("type")
    if kind in _RECORD_TYPES:
        if not isinstance(datum, dict):
            return datum
        copy = dict(datum)
        for field in schema.get("fields", ()):
            name = field["name"]
            if name in copy:
                copy[name] = (
                    MASK
                    if is_marked(field)
                    else _masked_by_schema(copy[name], field["type"], named)
                )
        return copy
    if kind == "array":
        if not isinstance(datum, list):
            return datum
        return [_masked_by_schema(item, schema["items"], named) for item in datum]
    if kind == "map":
        if not isinstance(datum, dict):
            return datum
        return {
            key: _masked_by_schema(value, schema["values"], named) for key, value in datum.items()
        }
    if isinstance(kind, list | dict):  # {"type": {...}} wraps a schema
        return _masked_by_schema(datum, kind, named)
    return datum


def _could_hold(branch: _Schema, datum: Any, named: Mapping[str, Any]) -> bool:
    if isinstance(branch, str):
        definition = named.get(branch)
        return definition is not None and _could_hold(definition, datum, named)
    if isinstance(branch, list):
        return False  # a union cannot hold a union
    kind = branch.get("type")
    if kind in (*_RECORD_TYPES, "map"):
        return isinstance(datum, dict)
    if kind == "array":
        return isinstance(datum, list)
    if isinstance(kind, list | dict):
        return _could_hold(kind, datum, named)
    return False  # the other types hold no fields


def _masked_path(datum: Any, path: Sequence[str]) -> Any:
    if isinstance(datum, list):
        return [_masked_path(item, path) for item in datum]
    if not isinstance(datum, dict) or path[0] not in datum:
        return datum
    copy = dict(datum)
    copy[path[0]] = MASK if len(path) == 1 else _masked_path(copy[path[0]], path[1:])
    return copy


def _masked_name(datum: Any, name: str) -> Any:
    if isinstance(datum, list):
        return [_masked_name(item, name) for item in datum]
    if not isinstance(datum, dict):
        return datum
    return {key: MASK if key == name else _masked_name(value, name) for key, value in datum.items()}


# -- listing the fields of a schema --------------------------------------------------------


def _walk_fields(version: SchemaVersion) -> list[tuple[str, bool]]:
    found: list[tuple[str, bool]] = []
    _collect(version.parsed, version.named, "", found, ())
    return found


def _collect(
    schema: _Schema,
    named: Mapping[str, Any],
    prefix: str,
    found: list[tuple[str, bool]],
    seen: tuple[str, ...],
) -> None:
    if isinstance(schema, str):
        definition = named.get(schema)
        if definition is not None:
            _collect(definition, named, prefix, found, seen)
        return
    if isinstance(schema, list):
        for branch in schema:
            _collect(branch, named, prefix, found, seen)
        return
    kind = schema.get("type")
    if kind in _RECORD_TYPES:
        name = str(schema.get("name", ""))
        if name in seen:
            return
        for field in schema.get("fields", ()):
            path = f"{prefix}{field['name']}"
            found.append((path, is_marked(field)))
            _collect(field["type"], named, f"{path}.", found, (*seen, name))
    elif kind == "array":
        _collect(schema["items"], named, prefix, found, seen)
    elif kind == "map":
        _collect(schema["values"], named, prefix, found, seen)
    elif isinstance(kind, list | dict):
        _collect(kind, named, prefix, found, seen)
