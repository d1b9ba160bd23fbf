"""Choreography sagas over Kafka, with a PostgreSQL outbox, inbox and saga state.

The names below are the public API (pinned by ``tests/unit/test_public_api.py``); modules
whose names start with ``_`` may change at any time. Each name is imported on first use,
so ``import saga`` (and every ``saga`` command) starts without loading Kafka, PostgreSQL
or Avro machinery it does not need.

==================  =====================================================================
package             holds
==================  =====================================================================
``saga.contracts``  events, envelope, Avro serde, the schema folder, compatibility, codegen
``saga.definition`` the saga DSL, participants, compiler and checks, diagrams, choreography
``saga.engine``     the pure decision function, the shared processing path, ports, data
``saga.outbox``     transactional outbox writer, relay, inbox consumer, operations
``saga.stack``      the local Kafka and PostgreSQL
``saga.testing``    in-memory harness, pytest fixtures
``saga.cli``        the ``saga`` command
==================  =====================================================================
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from saga.contracts.compatibility import Level, check_contracts
    from saga.contracts.envelope import Envelope
    from saga.contracts.events import (
        AvroInt,
        AvroLong,
        Event,
        Record,
        contract_of,
        event_class,
        event_name,
        registered_events,
    )
    from saga.contracts.schemas import Contracts, SchemaVersion, load_contracts
    from saga.contracts.serde import Decoded, Encoded, Serializer
    from saga.definition.choreography import ChoreographyReport, check_choreography
    from saga.definition.declarations import COMPENSATE, Signal, Start, State, Step, transition
    from saga.definition.diagram import mermaid
    from saga.definition.participant import Context, Participant
    from saga.definition.saga import Saga
    from saga.engine.instance import HistoryEntry, Instance
    from saga.engine.messages import Message
    from saga.errors import (
        CompatibilityError,
        ConcurrencyError,
        ConfigError,
        ContractError,
        DecodeError,
        DefinitionError,
        EncodeError,
        PayloadTooLarge,
        RegistryUnavailable,
        SagaError,
        StackError,
        TransportError,
        UnknownInstanceError,
        UnknownSchemaError,
    )
    from saga.postgres.inbox import Inbox, cleanup_inbox
    from saga.postgres.maintenance import (
        Lag,
        cleanup_outbox,
        discard_parked,
        outbox_lag,
        requeue_parked,
    )
    from saga.postgres.outbox import Outbox, OutboxEntry
    from saga.postgres.tables import create_tables, upgrade_database
    from saga.relay.relay import Relay
    from saga.runtime.inbox_consumer import InboxConsumer, consumer_config
    from saga.settings import Settings

_WHERE = {
    "Level": "saga.contracts.compatibility",
    "check_contracts": "saga.contracts.compatibility",
    "Envelope": "saga.contracts.envelope",
    "AvroInt": "saga.contracts.events",
    "AvroLong": "saga.contracts.events",
    "Event": "saga.contracts.events",
    "Record": "saga.contracts.events",
    "contract_of": "saga.contracts.events",
    "event_class": "saga.contracts.events",
    "event_name": "saga.contracts.events",
    "registered_events": "saga.contracts.events",
    "Contracts": "saga.contracts.schemas",
    "SchemaVersion": "saga.contracts.schemas",
    "DatabaseClock": "saga.postgres.store",
    "SignalRefused": "saga.errors",
    "TopicMap": "saga.contracts.topics",
    "Worker": "saga.runtime.worker",
    "send_signal": "saga.postgres.signals",
    "load_contracts": "saga.contracts.schemas",
    "Decoded": "saga.contracts.serde",
    "Encoded": "saga.contracts.serde",
    "Serializer": "saga.contracts.serde",
    "ChoreographyReport": "saga.definition.choreography",
    "check_choreography": "saga.definition.choreography",
    "COMPENSATE": "saga.definition.declarations",
    "Signal": "saga.definition.declarations",
    "Start": "saga.definition.declarations",
    "State": "saga.definition.declarations",
    "Step": "saga.definition.declarations",
    "transition": "saga.definition.declarations",
    "mermaid": "saga.definition.diagram",
    "Context": "saga.definition.participant",
    "Participant": "saga.definition.participant",
    "Saga": "saga.definition.saga",
    "HistoryEntry": "saga.engine.instance",
    "Instance": "saga.engine.instance",
    "Message": "saga.engine.messages",
    "CompatibilityError": "saga.errors",
    "ConcurrencyError": "saga.errors",
    "ConfigError": "saga.errors",
    "ContractError": "saga.errors",
    "DecodeError": "saga.errors",
    "DefinitionError": "saga.errors",
    "EncodeError": "saga.errors",
    "PayloadTooLarge": "saga.errors",
    "RegistryUnavailable": "saga.errors",
    "SagaError": "saga.errors",
    "StackError": "saga.errors",
    "TransportError": "saga.errors",
    "UnknownInstanceError": "saga.errors",
    "UnknownSchemaError": "saga.errors",
    "Lag": "saga.postgres.maintenance",
    "cleanup_inbox": "saga.postgres.inbox",
    "cleanup_outbox": "saga.postgres.maintenance",
    "discard_parked": "saga.postgres.maintenance",
    "outbox_lag": "saga.postgres.maintenance",
    "requeue_parked": "saga.postgres.maintenance",
    "Inbox": "saga.postgres.inbox",
    "InboxConsumer": "saga.runtime.inbox_consumer",
    "consumer_config": "saga.runtime.inbox_consumer",
    "Relay": "saga.relay.relay",
    "Outbox": "saga.postgres.outbox",
    "OutboxEntry": "saga.postgres.outbox",
    "Settings": "saga.settings",
    "create_tables": "saga.postgres.tables",
    "upgrade_database": "saga.postgres.tables",
}

__version__ = "0.1.0"

# A library never configures logging; this keeps records quiet until the application does.
logging.getLogger("saga").addHandler(logging.NullHandler())


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'saga' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "COMPENSATE",
    "AvroInt",
    "AvroLong",
    "ChoreographyReport",
    "CompatibilityError",
    "ConcurrencyError",
    "ConfigError",
    "Context",
    "ContractError",
    "Contracts",
    "DatabaseClock",
    "DecodeError",
    "Decoded",
    "DefinitionError",
    "EncodeError",
    "Encoded",
    "Envelope",
    "Event",
    "HistoryEntry",
    "Inbox",
    "InboxConsumer",
    "Instance",
    "Lag",
    "Level",
    "Message",
    "Outbox",
    "OutboxEntry",
    "Participant",
    "PayloadTooLarge",
    "Record",
    "RegistryUnavailable",
    "Relay",
    "Saga",
    "SagaError",
    "SchemaVersion",
    "Serializer",
    "Settings",
    "Signal",
    "SignalRefused",
    "StackError",
    "Start",
    "State",
    "Step",
    "TopicMap",
    "TransportError",
    "UnknownInstanceError",
    "UnknownSchemaError",
    "Worker",
    "__version__",
    "check_choreography",
    "check_contracts",
    "cleanup_inbox",
    "cleanup_outbox",
    "consumer_config",
    "contract_of",
    "create_tables",
    "discard_parked",
    "event_class",
    "event_name",
    "load_contracts",
    "mermaid",
    "outbox_lag",
    "registered_events",
    "requeue_parked",
    "send_signal",
    "transition",
    "upgrade_database",
]
