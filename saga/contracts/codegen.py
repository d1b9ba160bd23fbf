"""Pydantic models generated from the Avro contracts: ``avro/`` is the single source of truth.

``saga schemas generate`` writes one module with a class per event (its latest contract
version), nested records as :class:`~saga.contracts.events.Record` classes and enums as ``Literal``
aliases. Each event class carries the schema it was generated from, so the serializer can
tell when code and contracts drift, and ``--check`` fails CI when the module is stale.

Type mapping: int/long → ``AvroInt``/``AvroLong`` (range-checked), float/double → float,
string → str, bytes/fixed → bytes, uuid → UUID, timestamp-millis/micros → AwareDatetime,
local-timestamp-* → NaiveDatetime, date → date, time-* → time, decimal → Decimal (digits
and places checked), ``["null", T]`` → ``T | None``, array → list, map → dict[str, T].
"""

from __future__ import annotations

import json
import keyword
import textwrap
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from saga.contracts.events import Event
from saga.contracts.schemas import Contracts, SchemaVersion
from saga.errors import DefinitionError

__all__ = ["generate_module"]

_WIDTH = 100
_PRIMITIVE_TYPES = {
    "null": "None",
    "boolean": "bool",
    "int": "AvroInt",
    "long": "AvroLong",
    "float": "float",
    "double": "float",
    "string": "str",
    "bytes": "bytes",
}
_LOGICAL_TYPES = {
    ("string", "uuid"): "UUID",
    ("long", "timestamp-millis"): "AwareDatetime",
    ("long", "timestamp-micros"): "AwareDatetime",
    ("long", "local-timestamp-millis"): "NaiveDatetime",
    ("long", "local-timestamp-micros"): "NaiveDatetime",
    ("int", "date"): "date",
    ("int", "time-millis"): "time",
    ("long", "time-micros"): "time",
}
_IMPORTS = {
    "AvroInt": "saga.contracts.events",
    "AvroLong": "saga.contracts.events",
    "UUID": "uuid",
    "AwareDatetime": "pydantic",
    "NaiveDatetime": "pydantic",
    "Field": "pydantic",
    "date": "datetime",
    "time": "datetime",
    "Decimal": "decimal",
    "Annotated": "typing",
    "Literal": "typing",
}
# Names a field cannot take on a pydantic model.
_RESERVED = frozenset(dir(BaseModel)) | frozenset(dir(Event))


@dataclass
class _Module:
    """What the generated module holds, in definition order."""

    imports: set[str] = field(default_factory=set)
    blocks: list[str] = field(default_factory=list)
    exported: list[str] = field(default_factory=list)
    defined: set[str] = field(default_factory=set)
    # classes whose fields name a class defined after them (recursive records)
    rebuild: list[str] = field(default_factory=list)
    # full name of a named type → (python name, its definition as JSON, where it came from)
    named: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    python_names: dict[str, str] = field(default_factory=dict)


def generate_module(contracts: Contracts) -> str:
    """The Python source of the models for the latest version of every contract.

    The text names contract files from the folder's own name (``avro/shop/...``), not from
    where the folder is on this machine, so the output is the same everywhere.
    """
    source = f"{contracts.root.resolve().name}/"
    latest = [contracts.latest(name) for name in contracts.names()]
    module = _Module(python_names=_python_names(latest))
    for version in latest:
        _Generator(module, version).event(
            source + version.path.relative_to(contracts.root).as_posix()
        )
    return _render(module, source)


def _python_names(latest: list[SchemaVersion]) -> dict[str, str]:
    """Python class names for every named type: the short name unless two would clash."""
    full_names: set[str] = set()
    for version in latest:
        full_names.update(version.named)
    by_short: dict[str, list[str]] = {}
    for full in sorted(full_names):
        by_short.setdefault(full.rsplit(".", 1)[-1], []).append(full)
    names: dict[str, str] = {}
    for short, fulls in by_short.items():
        for full in fulls:
            if len(fulls) == 1:
                names[full] = short
            else:
                names[full] = "".join(part[:1].upper() + part[1:] for part in full.split("."))
    return names


class _Generator:
    def __init__(self, module: _Module, version: SchemaVersion) -> None:
        self.module = module
        self.version = version
        self.where = str(version.path)
        # named types each record being written refers to, innermost record last
        self._refs: list[set[str]] = []

    def event(self, location: str) -> None:
        record = self.version.parsed
        class_name = self.module.python_names[self.version.name]
        body, refs = self._fields(record)
        doc = _docstring(
            record.get("doc") or f"The event ``{self.version.name}``.",
            f"Contract version {self.version.version}: {location}.",
        )
        schema = _literal(dict(self.version.schema), 4, len("    schema="), 1)
        header = (
            f"class {class_name}(\n"
            "    Event,\n"
            f"    name={_string(self.version.name)},\n"
            f"    schema={schema},\n"
            "):\n"
        )
        self._define(class_name, header + doc + "\n" + body, refs)
        self.module.exported.append(class_name)

    def _define(self, python_name: str, block: str, refs: Set[str] = frozenset()) -> None:
        """Append a definition; a class naming one defined after it is rebuilt at the end."""
        if refs - self.module.defined - {python_name}:
            self.module.rebuild.append(python_name)
        self.module.blocks.append(block)
        self.module.defined.add(python_name)

    def _fields(self, record: Mapping[str, Any]) -> tuple[str, set[str]]:
        """The class body of a record, and the named types its fields refer to."""
        self._refs.append(set())
        try:
            return self._field_lines(record), self._refs[-1]
        finally:
            self._refs.pop()

    def _field_lines(self, record: Mapping[str, Any]) -> str:
        lines: list[str] = []
        for avro_field in record.get("fields", []):
            name = str(avro_field["name"])
            if keyword.iskeyword(name) or name in _RESERVED or name.startswith("_"):
                raise DefinitionError(
                    f"{self.where}: field `{name}` cannot be a pydantic field name (Python "
                    "keyword, leading underscore or model attribute): rename it in a new version"
                )
            annotation = self._type(avro_field["type"], f"field `{name}`")
            if avro_field.get("doc"):
                lines.extend(_comment(str(avro_field["doc"])))
            if "default" in avro_field:
                default = self._default(avro_field["type"], avro_field["default"], name)
                lines.append(f"    {name}: {annotation} = {default}")
            else:
                lines.append(f"    {name}: {annotation}")
        return "\n".join(lines) + "\n" if lines else "    pass\n"

    def _type(self, schema: Any, what: str) -> str:
        if isinstance(schema, list):
            return self._union(schema, what)
        if isinstance(schema, str):
            if schema in _PRIMITIVE_TYPES:
                return self._use(_PRIMITIVE_TYPES[schema])
            return self._named(self.version.named[schema], what)
        kind = schema["type"]
        logical = schema.get("logicalType")
        if logical == "decimal" and kind in ("bytes", "fixed"):
            self._use("Annotated")
            self._use("Decimal")
            self._use("Field")
            return (
                f"Annotated[Decimal, Field(max_digits={int(schema['precision'])}, "
                f"decimal_places={int(schema.get('scale', 0))})]"
            )
        if isinstance(kind, str) and (kind, logical) in _LOGICAL_TYPES:
            return self._use(_LOGICAL_TYPES[(kind, logical)])
        if kind in _PRIMITIVE_TYPES:
            return self._use(_PRIMITIVE_TYPES[kind])
        if kind == "array":
            return f"list[{self._type(schema['items'], what)}]"
        if kind == "map":
            return f"dict[str, {self._type(schema['values'], what)}]"
        if kind in ("record", "enum", "fixed"):
            return self._named(schema, what)
        return self._type(kind, what)

    def _union(self, branches: list[Any], what: str) -> str:
        types = [b for b in branches if b != "null"]
        complex_branches = [
            b for b in types if _kind(b, self.version.named) in ("record", "array", "map")
        ]
        if len(types) > 1 and complex_branches:
            raise DefinitionError(
                f"{self.where}: {what} is a union of several types including a record, array "
                "or map, which generated models do not support: use a nullable type or a record"
            )
        parts = [self._type(b, what) for b in types]
        if "null" in branches:
            parts.append("None")
        return " | ".join(parts)

    def _named(self, schema: Mapping[str, Any], what: str) -> str:
        full = str(schema["name"])
        python_name = self.module.python_names[full]
        if self._refs:
            self._refs[-1].add(python_name)
        definition = json.dumps(_without_docs(schema), sort_keys=True)
        known = self.module.named.get(full)
        if known is not None:
            if known[1] != definition:
                raise DefinitionError(
                    f"{self.where}: the type {full} differs from its definition in {known[2]}: "
                    "a shared named type must be identical in every contract that holds it"
                )
            return python_name
        self.module.named[full] = (python_name, definition, self.where)
        kind = schema["type"]
        if kind == "enum":
            symbols = ", ".join(_string(s) for s in schema["symbols"])
            self._use("Literal")
            alias = f"{python_name} = Literal[{symbols}]"
            if len(alias) > _WIDTH:
                alias = (
                    f"{python_name} = Literal[\n"
                    + "".join(f"    {_string(s)},\n" for s in schema["symbols"])
                    + "]"
                )
            self._define(python_name, alias + "\n")
        elif kind == "fixed":
            self._use("Annotated")
            self._use("Field")
            size = int(schema["size"])
            alias = f"{python_name} = Annotated[bytes, Field(min_length={size}, max_length={size})]"
            self._define(python_name, alias + "\n")
        else:
            body, refs = self._fields(schema)  # nested types first: defined before use
            doc = _docstring(schema.get("doc") or f"The record ``{full}``.")
            self._define(python_name, f"class {python_name}(Record):\n{doc}\n{body}", refs)
        self.module.exported.append(python_name)
        return python_name

    def _default(self, schema: Any, value: Any, name: str) -> str:
        first = schema[0] if isinstance(schema, list) else schema
        kind = _kind(first, self.version.named)
        logical = first.get("logicalType") if isinstance(first, dict) else None
        if value is None:
            return "None"
        if logical is None and kind in ("boolean", "int", "long", "float", "double", "string"):
            return _string(value) if isinstance(value, str) else repr(value)
        if kind == "enum":
            return _string(str(value))
        if kind == "bytes" and logical is None and isinstance(value, str):
            return repr(value.encode("latin-1"))
        if kind in ("array", "map") and not value:
            self._use("Field")
            return f"Field(default_factory={'list' if kind == 'array' else 'dict'})"
        raise DefinitionError(
            f"{self.where}: the default of field `{name}` ({value!r}) is not supported by "
            "generated models: use null, a primitive, an enum symbol or an empty array/map"
        )

    def _use(self, name: str) -> str:
        if name in _IMPORTS:
            self.module.imports.add(name)
        return name


def _kind(schema: Any, named: Mapping[str, Any]) -> str:
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, str):
        return schema if schema in _PRIMITIVE_TYPES else str(named[schema]["type"])
    kind = schema["type"]
    return _kind(kind, named) if isinstance(kind, list | dict) else str(kind)


def _without_docs(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_docs(v) for k, v in schema.items() if k != "doc"}
    if isinstance(schema, list):
        return [_without_docs(v) for v in schema]
    return schema


def _render(module: _Module, source: str) -> str:
    by_module: dict[str, list[str]] = {}
    for name in sorted(module.imports):
        by_module.setdefault(_IMPORTS[name], []).append(name)
    stdlib = [m for m in sorted(by_module) if m not in ("pydantic", "saga.contracts.events")]
    lines = [
        f'"""Event models generated from the Avro contracts in {source} by `saga schemas '
        "generate`.",
        "",
        "Do not edit: publish a new contract version, then regenerate. A test fails when this",
        "module and the contracts drift apart.",
        '"""',
        "",
        # Recursive records name classes before they exist.
        "from __future__ import annotations",
        "",
    ]
    lines += [f"from {m} import {', '.join(sorted(by_module[m]))}" for m in stdlib]
    if stdlib:
        lines.append("")
    if "pydantic" in by_module:
        lines.append(f"from pydantic import {', '.join(sorted(by_module['pydantic']))}")
        lines.append("")
    saga_names = sorted([*by_module.get("saga.contracts.events", []), "Event", "Record"])
    lines.append(f"from saga.contracts.events import {', '.join(saga_names)}")
    lines.append("")
    lines.append("__all__ = [")
    lines += [f"    {_string(name)}," for name in sorted(module.exported)]
    lines.append("]")
    text = "\n".join(lines) + "\n"
    for block in module.blocks:
        text += "\n\n" + block
    if module.rebuild:
        # Annotations are strings (see the __future__ import): names of classes defined
        # further down resolve once the whole module has run.
        text += "\n\n" + "".join(f"{name}.model_rebuild()\n" for name in module.rebuild)
    return text


def _docstring(*paragraphs: str) -> str:
    width = _WIDTH - 4 - 6
    wrapped = [textwrap.fill(" ".join(p.split()), width) for p in paragraphs if p]
    text = "\n\n".join(wrapped).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = text.split("\n")
    if len(lines) == 1:
        return f'    """{lines[0]}"""\n'
    body = "".join(f"    {line}\n" if line else "\n" for line in lines[1:])
    return f'    """{lines[0]}\n{body}    """\n'


def _comment(text: str) -> list[str]:
    return [f"    #: {line}" for line in textwrap.wrap(" ".join(text.split()), _WIDTH - 7)]


def _string(value: str) -> str:
    if '"' in value and "'" not in value:
        return "'" + json.dumps(value)[1:-1].replace('\\"', '"') + "'"
    return json.dumps(value)


def _literal(value: Any, indent: int, before: int, after: int) -> str:
    """``value`` as Python source laid out the way ``ruff format`` lays it out.

    ``indent`` is the indentation of the line the value starts on, ``before`` the columns
    taken before it on that line and ``after`` those that follow it (a comma). A collection
    stays on one line when that fits, else it is split one element per line with a trailing
    comma, its elements indented four more than its line.
    """
    flat = _flat(value)
    if before + len(flat) + after <= _WIDTH or not _opens(value):
        return flat
    inner = indent + 4
    pad = " " * inner
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            text = _string(str(key))
            lines.append(f"{pad}{text}: {_literal(item, inner, inner + len(text) + 2, 1)},")
        return "{\n" + "\n".join(lines) + "\n" + " " * indent + "}"
    lines = [f"{pad}{_literal(item, inner, inner, 1)}," for item in value]
    return "[\n" + "\n".join(lines) + "\n" + " " * indent + "]"


def _opens(value: Any) -> bool:
    return isinstance(value, dict | list) and bool(value)


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_string(str(k))}: {_flat(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flat(v) for v in value) + "]"
    if isinstance(value, str):
        return _string(value)
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    raise DefinitionError(f"cannot write {value!r} into generated code")
