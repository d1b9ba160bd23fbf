"""The inventory service's tables (database ``shop_inventory``).

Stock per SKU never goes negative (CHECK constraints) and is conserved: ``available +
reserved`` stays what was received. A reservation holds every line of one order (one per
order: a unique key) until it is released.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    Uuid,
    func,
)

from services.common import effect_table

metadata = MetaData()

stock = Table(
    "stock",
    metadata,
    Column("sku", Text, primary_key=True),
    Column("received", Integer, nullable=False),
    Column("available", Integer, nullable=False),
    Column("reserved", Integer, nullable=False, server_default="0"),
    CheckConstraint("available >= 0", name="stock_available_not_negative"),
    CheckConstraint("reserved >= 0", name="stock_reserved_not_negative"),
)

reservation = Table(
    "reservation",
    metadata,
    Column("reservation_id", Uuid, primary_key=True),
    Column("order_id", Uuid, nullable=False, unique=True),
    Column("status", Text, nullable=False),  # held | released
    Column("reserved_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("released_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('held', 'released')", name="reservation_status"),
)

reservation_line = Table(
    "reservation_line",
    metadata,
    Column("reservation_id", Uuid, ForeignKey("reservation.reservation_id"), nullable=False),
    Column("sku", Text, ForeignKey("stock.sku"), nullable=False),
    Column("quantity", Integer, nullable=False),
    PrimaryKeyConstraint("reservation_id", "sku"),
    CheckConstraint("quantity > 0", name="reservation_line_quantity_positive"),
)

effect = effect_table(metadata)
