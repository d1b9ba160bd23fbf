"""Choreography sagas over Kafka, with a PostgreSQL outbox, inbox and saga state.

The names below are the public API; everything in modules starting with ``_`` may change.
"""

import logging

from saga.errors import (
    CompatibilityError,
    ConfigError,
    ContractError,
    DecodeError,
    DefinitionError,
    EncodeError,
    PayloadTooLarge,
    RegistryUnavailable,
    SagaError,
    StackError,
    UnknownSchemaError,
)
from saga.settings import Settings

__version__ = "0.1.0"

# A library never configures logging; this keeps records quiet until the application does.
logging.getLogger("saga").addHandler(logging.NullHandler())

__all__ = [
    "CompatibilityError",
    "ConfigError",
    "ContractError",
    "DecodeError",
    "DefinitionError",
    "EncodeError",
    "PayloadTooLarge",
    "RegistryUnavailable",
    "SagaError",
    "Settings",
    "StackError",
    "UnknownSchemaError",
    "__version__",
]
