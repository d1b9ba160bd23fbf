"""The durable runtime's tables: instances, history, deadlines, signals, parked events and the
registry of hosted saga definitions.

Revision ID: 0002_saga_runtime
Revises: 0001_saga_tables
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_saga_runtime"
down_revision: str | Sequence[str] | None = "0001_saga_tables"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saga_deadline",
        sa.Column("deadline_id", sa.Text(), nullable=False),
        sa.Column("saga", sa.Text(), nullable=False),
        sa.Column("instance_id", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("deadline_id"),
    )
    op.create_index("saga_deadline_due", "saga_deadline", ["due_at"], unique=False)
    op.create_table(
        "saga_definition",
        sa.Column("saga", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "registered_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("saga", "version", name="saga_definition_pkey"),
    )
    op.create_table(
        "saga_history",
        sa.Column("saga", sa.Text(), nullable=False),
        sa.Column("instance_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("input_id", sa.Text(), nullable=False),
        sa.Column("from_state", sa.Text(), nullable=True),
        sa.Column("to_state", sa.Text(), nullable=False),
        sa.Column("entry", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("trace_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("saga", "instance_id", "seq", name="saga_history_pkey"),
    )
    op.create_table(
        "saga_instance",
        sa.Column("saga", sa.Text(), nullable=False),
        sa.Column("instance_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition_version", sa.Integer(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("parked_reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("saga", "instance_id", name="saga_instance_pkey"),
    )
    op.create_index(
        "saga_instance_status", "saga_instance", ["saga", "status", "updated_at"], unique=False
    )
    op.create_table(
        "saga_parked_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("consumer", sa.Text(), nullable=False),
        sa.Column("instance_id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("header_names", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("header_values", postgresql.ARRAY(sa.LargeBinary()), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "parked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "saga_parked_event_instance",
        "saga_parked_event",
        ["consumer", "instance_id", "id"],
        unique=False,
    )
    op.create_table(
        "saga_signal",
        sa.Column("signal_id", sa.Text(), nullable=False),
        sa.Column("saga", sa.Text(), nullable=False),
        sa.Column("instance_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "sent_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("signal_id"),
    )
    op.create_index("saga_signal_sent", "saga_signal", ["sent_at"], unique=False)


def downgrade() -> None:
    op.drop_index("saga_signal_sent", table_name="saga_signal")
    op.drop_table("saga_signal")
    op.drop_index("saga_parked_event_instance", table_name="saga_parked_event")
    op.drop_table("saga_parked_event")
    op.drop_index("saga_instance_status", table_name="saga_instance")
    op.drop_table("saga_instance")
    op.drop_table("saga_history")
    op.drop_table("saga_definition")
    op.drop_index("saga_deadline_due", table_name="saga_deadline")
    op.drop_table("saga_deadline")
