"""The framework's tables, as SQLAlchemy 2 Core tables on one :data:`metadata`.

=====================  ===================================================================
table                  holds
=====================  ===================================================================
``saga_outbox``        encoded events written in the business transaction, until relayed
``saga_relay_lane``    one row per lane: which relay holds it, until when
``saga_relay_member``  relays alive (heartbeats), to share the lanes fairly
``saga_inbox``         (consumer group, event id) of every event a consumer applied
``saga_instance``      one row per saga instance: its snapshot with an optimistic version
``saga_history``       one row per input an instance handled: trigger, states, what it emitted
``saga_deadline``      pending deadlines of instances, due by the database clock
``saga_signal``        signals and operators' commands, waiting for a worker to apply them
``saga_orphan_event``  events kept for an instance that did not exist yet (out of order)
``saga_definition``    the sagas workers host: versions, signals, states (for the CLI)
``saga_operator_action``  what operators did outside a saga's history: who, what, why
``saga_outbox_identity``  one row: this outbox's identity, which relay progress records carry
=====================  ===================================================================

Production databases get these tables from the Alembic history in ``migrations/`` next to
this module
(:func:`upgrade_database`); tests may call :func:`create_tables`. A service keeps its own
tables in its own Alembic history and points ``version_locations`` at ours as well (see
``alembic.ini``).

Every outbox row belongs to one of :data:`OUTBOX_LANES` lanes, a hash of its key. A lane is
the unit a relay leases, so all events of one key are relayed by one relay at a time, in
order. The lane count is part of the schema: change it only with an empty backlog.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    Uuid,
    create_engine,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from saga.postgres.connect import psycopg_url

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "OUTBOX_CHANNEL",
    "OUTBOX_LANES",
    "alembic_config",
    "create_tables",
    "deadline_table",
    "definition_table",
    "history_table",
    "inbox_table",
    "instance_table",
    "lane_of",
    "metadata",
    "migrations_dir",
    "operator_action_table",
    "orphan_event_table",
    "outbox_table",
    "relay_lane_table",
    "relay_member_table",
    "signal_table",
    "upgrade_database",
]

#: Number of lanes; a lane is ``crc32(key) % OUTBOX_LANES``.
OUTBOX_LANES = 8
#: The LISTEN/NOTIFY channel a statement-level trigger on ``saga_outbox`` notifies.
OUTBOX_CHANNEL = "saga_outbox"

metadata = MetaData()

outbox_table = Table(
    "saga_outbox",
    metadata,
    # Identity without a cache: values follow insertion order in real time, which the relay's
    # per-key ordering relies on (a row inserted after another committed gets a larger id).
    Column("id", BigInteger, Identity(always=True, cache=1), primary_key=True),
    Column("lane", SmallInteger, nullable=False),
    Column("topic", Text, nullable=False),
    Column("key", LargeBinary, nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("header_names", ARRAY(Text), nullable=False),
    Column("header_values", ARRAY(LargeBinary), nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True)),
    Column("refused_at", DateTime(timezone=True)),  # Kafka refused it for good
    Column("error", Text),
    Index(
        "saga_outbox_pending",
        "id",
        postgresql_where=text("published_at IS NULL AND refused_at IS NULL"),
    ),
    Index(
        "saga_outbox_refused",
        "lane",
        "key",
        "id",
        postgresql_where=text("refused_at IS NOT NULL"),
    ),
)

# One row: this outbox's identity, drawn when its tables are made. The relay's progress
# records carry it, so a record written for another outbox (a database dropped and created
# again under the same name, another service's relay of the same name) never marks a row
# of this one published.
outbox_identity_table = Table(
    "saga_outbox_identity",
    metadata,
    Column("single", Boolean, primary_key=True, server_default=text("true")),
    Column("identity", Uuid, nullable=False, server_default=text("gen_random_uuid()")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The relay name the first relay ran under: relays of other names are refused, since
    # they would share the lanes' leases without fencing each other's producers.
    Column("relay_name", Text),
    CheckConstraint("single", name="saga_outbox_identity_single"),
)

relay_lane_table = Table(
    "saga_relay_lane",
    metadata,
    Column("lane", SmallInteger, primary_key=True, autoincrement=False),
    Column("owner", Text),
    Column("lease_until", DateTime(timezone=True)),
    Column("epoch", BigInteger, nullable=False, server_default=text("0")),
)

relay_member_table = Table(
    "saga_relay_member",
    metadata,
    Column("relay_id", Text, primary_key=True),
    Column("heartbeat_until", DateTime(timezone=True), nullable=False),
)

inbox_table = Table(
    "saga_inbox",
    metadata,
    Column("consumer_group", Text, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("consumer_group", "event_id", name="saga_inbox_pkey"),
    Index("saga_inbox_processed_at", "processed_at"),
)

instance_table = Table(
    "saga_instance",
    metadata,
    Column("saga", Text, nullable=False),
    Column("instance_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("definition_version", Integer, nullable=False),
    Column("state", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("snapshot", JSONB, nullable=False),  # Instance.to_json(): what the engine reads
    Column("parked_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("saga", "instance_id", name="saga_instance_pkey"),
    # Operators list by status and state (issue "find stuck sagas"); running ones are few.
    Index("saga_instance_status", "saga", "status", "updated_at"),
)

history_table = Table(
    "saga_history",
    metadata,
    Column("saga", Text, nullable=False),
    Column("instance_id", Text, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("trigger", Text, nullable=False),
    Column("input_id", Text, nullable=False),
    Column("from_state", Text),
    Column("to_state", Text, nullable=False),
    Column("entry", JSONB, nullable=False),  # HistoryEntry.to_json()
    Column("trace_id", Text),
    PrimaryKeyConstraint("saga", "instance_id", "seq", name="saga_history_pkey"),
)

deadline_table = Table(
    "saga_deadline",
    metadata,
    Column("deadline_id", Text, primary_key=True),
    Column("saga", Text, nullable=False),
    Column("instance_id", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Index("saga_deadline_due", "due_at"),
)

signal_table = Table(
    "saga_signal",
    metadata,
    Column("signal_id", Text, primary_key=True),
    Column("saga", Text, nullable=False),
    Column("instance_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("sent_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # 'signal', or 'operation' (an operator's retry, compensate or resume, in ``name``): one
    # queue, so that both are applied in the order they were sent.
    Column("kind", Text, nullable=False, server_default=text("'signal'")),
    Column("sent_by", Text),  # the operator, for the instance's history
    Column("reason", Text),
    Index("saga_signal_sent", "sent_at"),
)

orphan_event_table = Table(
    "saga_orphan_event",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("consumer", Text, nullable=False),
    Column("instance_id", Text, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("topic", Text, nullable=False),
    # The record as it came, so that it can be applied later or sent back to its topic.
    Column("key", LargeBinary, nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("header_names", ARRAY(Text), nullable=False),
    Column("header_values", ARRAY(LargeBinary), nullable=False),
    Column("reason", Text, nullable=False),
    Column("kept_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("saga_orphan_event_instance", "consumer", "instance_id", "id"),
)

definition_table = Table(
    "saga_definition",
    metadata,
    Column("saga", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("description", JSONB, nullable=False),  # states, signals and where they apply
    Column("registered_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("saga", "version", name="saga_definition_pkey"),
)

# What an operator did to something that has no history of its own (an orphan event sent
# back or discarded, a dead letter sent back, a refused outbox row requeued or discarded).
# Operators' commands to saga instances are kept in the instance's history instead.
operator_action_table = Table(
    "saga_operator_action",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("action", Text, nullable=False),  # e.g. "outbox.discard", "orphans.replay"
    Column("target", Text, nullable=False),  # what it acted on: an id, a position
    Column("by", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Index("saga_operator_action_at", "at"),
)

# Wakes relays when outbox rows commit (notifications are delivered at commit, once per
# transaction and channel). Kept as SQL so the migration and create_tables share it.
NOTIFY_TRIGGER_DDL = (
    f"""
CREATE OR REPLACE FUNCTION saga_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{OUTBOX_CHANNEL}', '');
    RETURN NULL;
END $$
""",
    """
CREATE OR REPLACE TRIGGER saga_outbox_notify AFTER INSERT ON saga_outbox
FOR EACH STATEMENT EXECUTE FUNCTION saga_outbox_notify()
""",
)
NOTIFY_TRIGGER_DROP = (
    "DROP TRIGGER IF EXISTS saga_outbox_notify ON saga_outbox",
    "DROP FUNCTION IF EXISTS saga_outbox_notify()",
)


def lane_of(key: bytes) -> int:
    """The lane of a message key."""
    return zlib.crc32(key) % OUTBOX_LANES


def _engine_url(url: str) -> str:
    return psycopg_url(url)


def create_tables(url: str) -> None:
    """Create the framework's tables directly (tests, quick starts); idempotent."""
    engine = create_engine(_engine_url(url))
    try:
        with engine.begin() as conn:
            metadata.create_all(conn)
            for statement in NOTIFY_TRIGGER_DDL:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def migrations_dir() -> Path:
    """The folder of the framework's Alembic history (shipped inside the package)."""
    return Path(__file__).resolve().parent / "migrations"


def upgrade_database(url: str, revision: str = "heads") -> None:
    """Run the framework's Alembic migrations on ``url`` up to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def alembic_config(url: str) -> Config:
    """An Alembic ``Config`` for the framework's history, aimed at ``url``."""
    from alembic.config import Config

    config = Config()  # no ini file: an installed wheel has none
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("version_locations", str(migrations_dir() / "versions"))
    config.set_main_option("path_separator", "os")
    config.attributes["saga_url"] = _engine_url(url)
    return config
