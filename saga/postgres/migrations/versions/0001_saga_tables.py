"""Framework tables: outbox, relay lanes and members, inbox.

Revision ID: 0001_saga_tables
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_saga_tables"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("saga",)
depends_on: str | Sequence[str] | None = None

# Kept literal (not imported from saga.postgres.tables) so this revision never changes after release.
_NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION saga_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('saga_outbox', '');
    RETURN NULL;
END $$
"""
_NOTIFY_TRIGGER = """
CREATE OR REPLACE TRIGGER saga_outbox_notify AFTER INSERT ON saga_outbox
FOR EACH STATEMENT EXECUTE FUNCTION saga_outbox_notify()
"""


def upgrade() -> None:
    op.create_table(
        "saga_outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True, cache=1), nullable=False),
        sa.Column("lane", sa.SmallInteger(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("header_names", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("header_values", postgresql.ARRAY(sa.LargeBinary()), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="saga_outbox_pkey"),
    )
    op.create_index(
        "saga_outbox_pending",
        "saga_outbox",
        ["id"],
        postgresql_where=sa.text("published_at IS NULL AND parked_at IS NULL"),
    )
    op.create_index(
        "saga_outbox_parked",
        "saga_outbox",
        ["lane", "key", "id"],
        postgresql_where=sa.text("parked_at IS NOT NULL"),
    )
    op.execute(_NOTIFY_FUNCTION)
    op.execute(_NOTIFY_TRIGGER)
    op.create_table(
        "saga_relay_lane",
        sa.Column("lane", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("epoch", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("lane", name="saga_relay_lane_pkey"),
    )
    op.create_table(
        "saga_relay_member",
        sa.Column("relay_id", sa.Text(), nullable=False),
        sa.Column("heartbeat_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("relay_id", name="saga_relay_member_pkey"),
    )
    op.create_table(
        "saga_inbox",
        sa.Column("consumer_group", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("consumer_group", "event_id", name="saga_inbox_pkey"),
    )
    op.create_index("saga_inbox_processed_at", "saga_inbox", ["processed_at"])


def downgrade() -> None:
    op.drop_index("saga_inbox_processed_at", table_name="saga_inbox")
    op.drop_table("saga_inbox")
    op.drop_table("saga_relay_member")
    op.drop_table("saga_relay_lane")
    op.execute("DROP TRIGGER IF EXISTS saga_outbox_notify ON saga_outbox")
    op.execute("DROP FUNCTION IF EXISTS saga_outbox_notify()")
    op.drop_index("saga_outbox_parked", table_name="saga_outbox")
    op.drop_index("saga_outbox_pending", table_name="saga_outbox")
    op.drop_table("saga_outbox")
