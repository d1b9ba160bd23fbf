"""The inventory service's tables: the first version of its own history (branch label = service).

Revision ID: 0001_inventory
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_inventory"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("inventory",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "effect",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column(
            "applied_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.create_index("effect_event", "effect", ["event_id"], unique=False)
    op.create_table(
        "reservation",
        sa.Column("reservation_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column(
            "reserved_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('held', 'released')", name="reservation_status"),
        sa.PrimaryKeyConstraint("reservation_id"),
        sa.UniqueConstraint("order_id"),
    )
    op.create_table(
        "stock",
        sa.Column("sku", sa.Text(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("available", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("available >= 0", name="stock_available_not_negative"),
        sa.CheckConstraint("reserved >= 0", name="stock_reserved_not_negative"),
        sa.PrimaryKeyConstraint("sku"),
    )
    op.create_table(
        "reservation_line",
        sa.Column("reservation_id", sa.Uuid(), nullable=False),
        sa.Column("sku", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name="reservation_line_quantity_positive"),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservation.reservation_id"],
        ),
        sa.ForeignKeyConstraint(
            ["sku"],
            ["stock.sku"],
        ),
        sa.PrimaryKeyConstraint("reservation_id", "sku"),
    )


def downgrade() -> None:
    op.drop_table("reservation_line")
    op.drop_table("stock")
    op.drop_table("reservation")
    op.drop_index("effect_event", table_name="effect")
    op.drop_table("effect")
