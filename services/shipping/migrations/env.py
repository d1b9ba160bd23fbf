"""Alembic environment of the shipping service's tables (see services/common.py)."""

from services.common import run_migrations
from services.shipping.tables import metadata

run_migrations("shipping", metadata)
