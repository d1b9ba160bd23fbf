"""Operators' commands share the signal queue: what kind of row it is, who sent it and why.

Revision ID: 0003_saga_operations
Revises: 0002_saga_runtime
Create Date: 2027-01-15
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_saga_operations"
down_revision: str | Sequence[str] | None = "0002_saga_runtime"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "saga_signal",
        sa.Column("kind", sa.Text(), server_default=sa.text("'signal'"), nullable=False),
    )
    op.add_column("saga_signal", sa.Column("sent_by", sa.Text(), nullable=True))
    op.add_column("saga_signal", sa.Column("reason", sa.Text(), nullable=True))


def downgrade() -> None:
    # Older workers would take a queued command for a signal of the same name.
    op.execute("DELETE FROM saga_signal WHERE kind <> 'signal'")
    op.drop_column("saga_signal", "reason")
    op.drop_column("saga_signal", "sent_by")
    op.drop_column("saga_signal", "kind")
