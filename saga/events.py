"""Event models: pydantic classes that mirror the Avro contracts in ``avro/``.

Declare an event with its Avro full name::

    class OrderPlaced(Event, name="shop.orders.OrderPlaced"):
        order_id: UUID
        amount_cents: int

Every declared event is registered by name, so a consumer can find the class from the
``event-type`` header and a saga definition can be checked against the contracts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from saga.errors import DefinitionError, UnknownSchemaError

_REGISTRY: dict[str, type[Event]] = {}


class Event(BaseModel):
    """Base class of every event; instances are immutable and reject unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    __event_name__: ClassVar[str] = ""
    # The Avro schema (parsed JSON) this class mirrors; None for a class with no contract.
    __avro_schema__: ClassVar[Mapping[str, Any] | None] = None

    def __init_subclass__(
        cls, name: str | None = None, schema: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        # `name` and `schema` are consumed by __pydantic_init_subclass__, once the model exists.
        super().__init_subclass__(**kwargs)

    @classmethod
    def __pydantic_init_subclass__(
        cls, name: str | None = None, schema: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if schema is not None:
            cls.__avro_schema__ = schema
        if name is None:
            if not cls.__event_name__:
                raise DefinitionError(
                    f"event class {cls.__qualname__} needs its Avro full name: "
                    f'class {cls.__name__}(Event, name="namespace.{cls.__name__}")'
                )
            return
        known = _REGISTRY.get(name)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise DefinitionError(
                f"event name {name!r} is declared twice: {known.__module__}.{known.__qualname__} "
                f"and {cls.__module__}.{cls.__qualname__}"
            )
        cls.__event_name__ = name
        _REGISTRY[name] = cls


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
