"""Alembic environment of the inventory service's tables (see services/common.py)."""

from services.common import run_migrations
from services.inventory.tables import metadata

run_migrations("inventory", metadata)
