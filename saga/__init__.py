"""Choreography sagas over Kafka, with a PostgreSQL outbox, inbox and saga state.

The names imported below are the public API, one line each (pinned by
``tests/unit/test_public_api.py``); everything else may change at any time. The packages,
from the top of the dependency order down (``lint-imports`` keeps it so):

=========================  ====================================================================
package                    holds
=========================  ====================================================================
``saga.cli``               the ``saga`` command: thin, over the packages below
``saga.testing``           in-memory harness, pytest fixtures, replaying recorded histories
``saga.runtime``           the one consumer loop; :class:`Worker` and :class:`InboxConsumer`
``saga.operators``         the library behind the operators' commands (find, inspect, act)
``saga.relay``             committed outbox rows to Kafka, exactly once, in per-key order
``saga.postgres``          every statement on the framework's tables, and their migrations
``saga.kafka``             consumer offsets, dead-letter headers, topic admin, reading topics
``saga.observability``     spans, metrics and log context (OpenTelemetry API only)
``saga.engine``            the pure decision function, the processing path, ports (no I/O)
``saga.definition``        the saga DSL, participants, compiler and checks, diagrams
``saga.stack``             the local Kafka and PostgreSQL for development and tests
``saga.contracts``         events, envelope, Avro serde, schema folder, compatibility, topics
``saga.settings``,         ``SAGA_*`` settings; the one exception tree
``saga.errors``
=========================  ====================================================================
"""

from __future__ import annotations

import logging
import types

from saga.contracts.compatibility import Level as Level
from saga.contracts.compatibility import check_contracts as check_contracts
from saga.contracts.envelope import Envelope as Envelope
from saga.contracts.events import AvroInt as AvroInt
from saga.contracts.events import AvroLong as AvroLong
from saga.contracts.events import Event as Event
from saga.contracts.events import Record as Record
from saga.contracts.events import contract_of as contract_of
from saga.contracts.events import event_class as event_class
from saga.contracts.events import event_name as event_name
from saga.contracts.events import registered_events as registered_events
from saga.contracts.schemas import Contracts as Contracts
from saga.contracts.schemas import SchemaVersion as SchemaVersion
from saga.contracts.schemas import load_contracts as load_contracts
from saga.contracts.serde import Decoded as Decoded
from saga.contracts.serde import Encoded as Encoded
from saga.contracts.serde import Serializer as Serializer
from saga.contracts.topics import TopicMap as TopicMap
from saga.definition.choreography import ChoreographyReport as ChoreographyReport
from saga.definition.choreography import check_choreography as check_choreography
from saga.definition.declarations import COMPENSATE as COMPENSATE
from saga.definition.declarations import Signal as Signal
from saga.definition.declarations import Start as Start
from saga.definition.declarations import State as State
from saga.definition.declarations import Step as Step
from saga.definition.declarations import transition as transition
from saga.definition.diagram import mermaid as mermaid
from saga.definition.participant import BatchContext as BatchContext
from saga.definition.participant import Context as Context
from saga.definition.participant import Participant as Participant
from saga.definition.saga import Saga as Saga
from saga.engine.instance import HistoryEntry as HistoryEntry
from saga.engine.instance import Instance as Instance
from saga.engine.messages import Message as Message
from saga.errors import CompatibilityError as CompatibilityError
from saga.errors import ConcurrencyError as ConcurrencyError
from saga.errors import ConfigError as ConfigError
from saga.errors import ContractError as ContractError
from saga.errors import DecodeError as DecodeError
from saga.errors import DefinitionError as DefinitionError
from saga.errors import EncodeError as EncodeError
from saga.errors import PayloadTooLarge as PayloadTooLarge
from saga.errors import RegistryUnavailable as RegistryUnavailable
from saga.errors import SagaError as SagaError
from saga.errors import SignalRefused as SignalRefused
from saga.errors import StackError as StackError
from saga.errors import TransportError as TransportError
from saga.errors import UnknownInstanceError as UnknownInstanceError
from saga.errors import UnknownSchemaError as UnknownSchemaError
from saga.operators.outbox import discard_refused as discard_refused
from saga.operators.outbox import requeue_refused as requeue_refused
from saga.postgres.inbox import Inbox as Inbox
from saga.postgres.inbox import cleanup_inbox as cleanup_inbox
from saga.postgres.maintenance import Lag as Lag
from saga.postgres.maintenance import cleanup_outbox as cleanup_outbox
from saga.postgres.maintenance import outbox_lag as outbox_lag
from saga.postgres.outbox import Outbox as Outbox
from saga.postgres.outbox import OutboxEntry as OutboxEntry
from saga.postgres.signals import send_signal as send_signal
from saga.postgres.store import DatabaseClock as DatabaseClock
from saga.postgres.tables import create_tables as create_tables
from saga.postgres.tables import upgrade_database as upgrade_database
from saga.relay.relay import Relay as Relay
from saga.runtime.inbox_consumer import InboxConsumer as InboxConsumer
from saga.runtime.inbox_consumer import consumer_config as consumer_config
from saga.runtime.worker import Worker as Worker
from saga.settings import Settings as Settings

__version__ = "0.1.0"

# Every name imported above, and only those: one list, the imports.
__all__ = [
    *sorted(
        name
        for name, value in list(globals().items())
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"  # the __future__ feature
    ),
    "__version__",
]

# A library never configures logging; this keeps records quiet until the application does.
logging.getLogger("saga").addHandler(logging.NullHandler())
