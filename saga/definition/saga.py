"""The base class of saga definitions: ``class OrderSaga(Saga[Order], ...)``.

The class body declares the parts (:mod:`saga.definition.declarations`); the whole
definition is compiled and checked when the class is created (:mod:`saga.definition._compile`),
so a mistake fails at import with one :class:`~saga.errors.DefinitionError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from saga.contracts.events import Event
from saga.definition._compile import compile_saga
from saga.definition.model import OrphanPolicy, SagaDefinition

D = TypeVar("D", bound=BaseModel)


class Saga(Generic[D]):
    """Base class of saga definitions; ``Saga[MyData]`` names the instance's data model.

    Class keywords: ``name`` (stable type name, default the class name), ``correlation``
    (the event field holding the instance id: one name for every event, or a mapping per
    event class; default the envelope's correlation id), ``orphans`` (events for no
    instance yet: ``"keep"`` them until it exists (default), ``"ignore"`` or ``"error"``),
    ``compensation_timeout`` (how long to wait for steps still in flight after a failure
    before parking) and ``version`` (stored on each instance).
    """

    __saga__: ClassVar[SagaDefinition]

    def __init_subclass__(
        cls,
        *,
        name: str | None = None,
        correlation: str | Mapping[type[Event], str] | None = None,
        orphans: OrphanPolicy = "keep",
        compensation_timeout: timedelta = timedelta(hours=1),
        version: int = 1,
    ) -> None:
        super().__init_subclass__()
        cls.__saga__ = compile_saga(
            cls,
            base=Saga,
            name=name or cls.__name__,
            correlation=correlation,
            orphans=orphans,
            compensation_timeout=compensation_timeout,
            version=version,
        )


def definition_of(saga: type[Saga[Any]] | SagaDefinition) -> SagaDefinition:
    """The compiled definition of a saga class."""
    if isinstance(saga, SagaDefinition):
        return saga
    return saga.__saga__
