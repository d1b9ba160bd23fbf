"""The framework's tables, as SQLAlchemy 2 Core tables on one :data:`metadata`.

=====================  ===================================================================
table                  holds
=====================  ===================================================================
``saga_outbox``        encoded events written in the business transaction, until relayed
``saga_relay_lane``    one row per lane: which relay holds it, until when
``saga_relay_member``  relays alive (heartbeats), to share the lanes fairly
``saga_inbox``         (consumer group, event id) of every event a consumer applied
=====================  ===================================================================

Production databases get these tables from the Alembic history in ``migrations/``
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
    Column,
    DateTime,
    Identity,
    Index,
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
from sqlalchemy.dialects.postgresql import ARRAY

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "OUTBOX_CHANNEL",
    "OUTBOX_LANES",
    "alembic_config",
    "create_tables",
    "inbox_table",
    "lane_of",
    "metadata",
    "migrations_dir",
    "outbox_table",
    "relay_lane_table",
    "relay_member_table",
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
    Column("parked_at", DateTime(timezone=True)),
    Column("error", Text),
    Index(
        "saga_outbox_pending",
        "id",
        postgresql_where=text("published_at IS NULL AND parked_at IS NULL"),
    ),
    Index(
        "saga_outbox_parked",
        "lane",
        "key",
        "id",
        postgresql_where=text("parked_at IS NOT NULL"),
    ),
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
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


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
    """The folder of the framework's Alembic history (in a wheel: ``saga/_migrations``)."""
    here = Path(__file__).resolve().parent
    packaged = here / "_migrations"
    return packaged if packaged.is_dir() else here.parent / "migrations"


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
