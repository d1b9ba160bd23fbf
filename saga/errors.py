"""The framework's exceptions: one small tree under :class:`SagaError`.

::

    SagaError                     root; ``retriable`` says whether trying again may succeed
     ├── ConfigError              settings missing or invalid (names the setting to fix)
     ├── StackError               the local Kafka/PostgreSQL stack cannot start or is not up
     ├── ContractError            an event does not fit its Avro contract
     │    ├── EncodeError         wrong types / extra fields at produce time: nothing is written
     │    ├── DecodeError         undecodable, truncated or trailing bytes
     │    ├── UnknownSchemaError  fingerprint or schema id that no known schema matches
     │    ├── PayloadTooLarge     payload over the configured cap (checked before decoding)
     │    └── RegistryUnavailable schema registry unreachable (retriable)
     ├── CompatibilityError       schema evolution breaks the configured compatibility rule
     ├── DefinitionError          invalid saga, participant or event contract definition
     ├── UnknownInstanceError     an event or signal names a saga instance that does not exist
     ├── SignalRefused            a signal names an unknown saga or signal, or a state refuses it
     ├── OperationRefused         an operator's command the saga or the instance cannot take
     ├── ConcurrencyError         another worker saved the saga instance first (retriable)
     └── TransportError           Kafka or PostgreSQL unreachable or refusing work (retriable)

Every error carries one message that says what went wrong and how to fix it. Callers
that loop (relays, consumers) look at ``retriable`` instead of matching classes.
"""

from __future__ import annotations


class SagaError(Exception):
    """Root of every error the framework raises on purpose."""

    retriable: bool = False


class ConfigError(SagaError):
    """A setting is missing or invalid; the message names the setting and the fix."""


class StackError(SagaError):
    """The local stack (Kafka broker, PostgreSQL server) cannot be started or reached."""


class ContractError(SagaError):
    """An event does not fit its Avro contract."""


class EncodeError(ContractError):
    """An event could not be encoded (wrong types, missing or extra fields)."""


class DecodeError(ContractError):
    """Bytes on the wire could not be decoded into an event."""


class UnknownSchemaError(ContractError):
    """No known schema matches the fingerprint or schema id of a payload."""


class PayloadTooLarge(ContractError):
    """A payload is larger than the configured cap; it was not decoded."""


class RegistryUnavailable(ContractError):
    """The schema registry could not be reached; retrying later may succeed."""

    retriable = True


class CompatibilityError(SagaError):
    """A schema change breaks the configured compatibility rule."""


class DefinitionError(SagaError):
    """A saga or participant definition is invalid."""


class UnknownInstanceError(SagaError):
    """An event or signal names a saga instance that does not exist."""


class SignalRefused(SagaError):
    """A signal names a saga or signal no worker hosts, or a state that does not accept it."""


class OperationRefused(SagaError):
    """An operator's command (retry, compensate, resume) names an unknown saga or step, or
    an instance whose status cannot take it; or a worker recorded it as ignored."""


class ConcurrencyError(SagaError):
    """Another worker saved the saga instance first; reload it and try again."""

    retriable = True


class TransportError(SagaError):
    """Kafka or PostgreSQL could not be reached or refused the work; retrying may succeed."""

    retriable = True
