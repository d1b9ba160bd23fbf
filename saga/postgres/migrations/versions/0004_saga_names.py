"""One name per thing: "parked" stays the word for a halted saga instance; an event kept for
an instance that did not exist yet is an orphan event (``saga_orphan_event``); an outbox row
Kafka refused for good is refused (``saga_outbox.refused_at``). And the operators' actions
outside a saga's history are recorded (``saga_operator_action``).

Stop workers and relays of the previous release before upgrading: they still write the old
names.

Revision ID: 0004_saga_names
Revises: 0003_saga_operations
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_saga_names"
down_revision: str | Sequence[str] | None = "0003_saga_operations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Renaming a column keeps the partial indexes on it (their predicates follow the column).
    op.alter_column("saga_outbox", "parked_at", new_column_name="refused_at")
    op.execute("ALTER INDEX saga_outbox_parked RENAME TO saga_outbox_refused")
    op.rename_table("saga_parked_event", "saga_orphan_event")
    op.alter_column("saga_orphan_event", "parked_at", new_column_name="kept_at")
    op.execute("ALTER INDEX saga_parked_event_instance RENAME TO saga_orphan_event_instance")
    op.execute("ALTER INDEX saga_parked_event_pkey RENAME TO saga_orphan_event_pkey")
    op.execute("ALTER SEQUENCE IF EXISTS saga_parked_event_id_seq RENAME TO saga_orphan_event_id_seq")
    op.create_table(
        "saga_operator_action",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("by", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "detail",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("saga_operator_action_at", "saga_operator_action", ["at"])


def downgrade() -> None:
    op.drop_index("saga_operator_action_at", table_name="saga_operator_action")
    op.drop_table("saga_operator_action")
    op.execute("ALTER SEQUENCE IF EXISTS saga_orphan_event_id_seq RENAME TO saga_parked_event_id_seq")
    op.execute("ALTER INDEX saga_orphan_event_pkey RENAME TO saga_parked_event_pkey")
    op.execute("ALTER INDEX saga_orphan_event_instance RENAME TO saga_parked_event_instance")
    op.alter_column("saga_orphan_event", "kept_at", new_column_name="parked_at")
    op.rename_table("saga_orphan_event", "saga_parked_event")
    op.execute("ALTER INDEX saga_outbox_refused RENAME TO saga_outbox_parked")
    op.alter_column("saga_outbox", "refused_at", new_column_name="parked_at")
