"""Event models: pydantic classes that mirror the Avro contracts in ``avro/``.

Declare an event with the contract it mirrors (its Avro full name comes from there)::

    class OrderPlaced(Event, schema={"type": "record", "name": "shop.orders.OrderPlaced", ...}):
        order_id: UUID
        amount_cents: AvroLong

``saga schemas generate`` writes such classes from ``avro/`` (the source of truth), so in
practice a service imports its events from generated code. Every declared event is
registered by name, so a consumer can find the class from the ``event-type`` header.

``register=False`` declares a model that is not the process-wide class for its name, e.g.
a reader pinned to an older contract version, passed to a serializer explicitly.

Models are strict: a value of the wrong type is rejected when the event is built (no
``"12"`` → ``12`` coercion), unknown fields are rejected, instances are immutable, and
``model_copy(update=...)`` validates its update. Only ``model_construct`` skips validation:
the serializer trusts it, so keep it for values that were already validated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field

from saga.errors import DefinitionError, UnknownSchemaError

__all__ = [
    "AvroInt",
    "AvroLong",
    "Event",
    "Record",
    "contract_of",
    "event_class",
    "event_name",
    "registered_events",
]

#: An Avro ``int``: a signed 32-bit integer.
AvroInt = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
#: An Avro ``long``: a signed 64-bit integer.
AvroLong = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]

_REGISTRY: dict[str, type[Event]] = {}


class Record(BaseModel):
    """Base class of nested Avro records: strict, immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; unlike plain pydantic, the ``update`` values are validated."""
        if not update:
            return super().model_copy(deep=deep)
        return self.model_validate({**self.__dict__, **update})


class Event(Record):
    """Base class of every event; instances are immutable and reject unknown fields."""

    __event_name__: ClassVar[str] = ""
    # The Avro schema (parsed JSON) this class mirrors; None for a class with no contract.
    __avro_schema__: ClassVar[Mapping[str, Any] | None] = None

    def __init_subclass__(
        cls,
        name: str | None = None,
        schema: Mapping[str, Any] | None = None,
        register: bool = True,
        **kwargs: Any,
    ) -> None:
        # The class kwargs are consumed by __pydantic_init_subclass__, once the model exists.
        super().__init_subclass__(**kwargs)

    @classmethod
    def __pydantic_init_subclass__(
        cls,
        name: str | None = None,
        schema: Mapping[str, Any] | None = None,
        register: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if schema is not None:
            cls.__avro_schema__ = schema
            if name is None:  # the contract names the event
                name = _full_name(schema)
        if name is None:
            if not cls.__event_name__:
                raise DefinitionError(
                    f"event class {cls.__qualname__} needs its Avro full name: "
                    f'class {cls.__name__}(Event, name="namespace.{cls.__name__}")'
                )
            return
        if schema is not None:
            _check_schema_names(name, schema, cls.__qualname__)
        cls.__event_name__ = name
        if not register:
            return
        known = _REGISTRY.get(name)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise DefinitionError(
                f"event name {name!r} is declared twice: {known.__module__}.{known.__qualname__} "
                f"and {cls.__module__}.{cls.__qualname__}"
            )
        _REGISTRY[name] = cls


def _full_name(schema: Mapping[str, Any]) -> str:
    declared = str(schema.get("name", ""))
    namespace = schema.get("namespace")
    return declared if not namespace or "." in declared else f"{namespace}.{declared}"


def _check_schema_names(name: str, schema: Mapping[str, Any], qualname: str) -> None:
    full = _full_name(schema)
    if schema.get("type") != "record" or full != name:
        raise DefinitionError(
            f"event class {qualname} is declared as {name!r} but its schema is "
            f"{schema.get('type')!r} {full!r}: pass the record schema whose full name is {name!r}"
        )


def event_name(event: type[Event] | Event) -> str:
    """The Avro full name of an event class or instance."""
    return event.__event_name__


def contract_of(event: type[Event] | Event) -> Mapping[str, Any] | None:
    """The Avro schema an event class mirrors, or None when it has no contract in ``avro/``."""
    return event.__avro_schema__


def event_class(name: str) -> type[Event]:
    """The registered event class for an Avro full name."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownSchemaError(
            f"no event class is registered for {name!r}: import the module that declares it"
        ) from None


def registered_events() -> dict[str, type[Event]]:
    """A copy of the name → class registry."""
    return dict(_REGISTRY)
