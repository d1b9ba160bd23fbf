"""Choreography sagas over Kafka, with a PostgreSQL outbox, inbox and saga state.

The names below are the public API (pinned by ``tests/unit/test_public_api.py``); modules
whose names start with ``_`` may change at any time.
"""

import logging

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
from saga.outbox.admin import (
    Lag,
    cleanup_inbox,
    cleanup_outbox,
    discard_parked,
    outbox_lag,
    requeue_parked,
)
from saga.outbox.inbox import Inbox, InboxConsumer, consumer_config
from saga.outbox.relay import Relay
from saga.outbox.writer import Outbox, OutboxEntry
from saga.settings import Settings
from saga.tables import create_tables, upgrade_database

__version__ = "0.1.0"

# A library never configures logging; this keeps records quiet until the application does.
logging.getLogger("saga").addHandler(logging.NullHandler())

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
    "StackError",
    "Start",
    "State",
    "Step",
    "TransportError",
    "UnknownInstanceError",
    "UnknownSchemaError",
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
    "transition",
    "upgrade_database",
]
