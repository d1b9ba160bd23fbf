"""Each outbox has an identity, drawn here; the relay's progress records carry it, so a
record written for another outbox never marks this one's rows published. And one relay
name: relays of different names would share the lanes without fencing each other.

Revision ID: 0005_saga_outbox_identity
Revises: 0004_saga_names
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_saga_outbox_identity"
down_revision: str | Sequence[str] | None = "0004_saga_names"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saga_outbox_identity",
        sa.Column("single", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "identity", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("relay_name", sa.Text(), nullable=True),
        sa.CheckConstraint("single", name="saga_outbox_identity_single"),
        sa.PrimaryKeyConstraint("single"),
    )
    op.execute("INSERT INTO saga_outbox_identity DEFAULT VALUES")


def downgrade() -> None:
    op.drop_table("saga_outbox_identity")
