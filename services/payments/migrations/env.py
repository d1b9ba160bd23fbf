"""Alembic environment of the payments service's tables (see services/common.py)."""

from services.common import run_migrations
from services.payments.tables import metadata

run_migrations("payments", metadata)
