"""The body that placed each order, as a hash: a retried POST must send the same one.

Revision ID: 0002_orders_request
Revises: 0001_orders
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_orders_request"
down_revision: str | Sequence[str] | None = "0001_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("customer_order", sa.Column("request_sha256", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("customer_order", "request_sha256")
