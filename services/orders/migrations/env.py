"""Alembic environment of the orders service's tables (see services/common.py)."""

from services.common import run_migrations
from services.orders.tables import metadata

run_migrations("orders", metadata)
