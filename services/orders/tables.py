"""The orders service's tables (database ``shop_orders``, next to the order saga's own).

An order row is written with its lines and its ``OrderPlaced`` event in one transaction
(the HTTP API); its status follows the saga's end: ``placed`` → ``completed`` (on
``OrderApproved``) or ``cancelled`` (on ``OrderCancelled``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    Uuid,
    func,
)

from services.common import effect_table

metadata = MetaData()

order = Table(
    "customer_order",
    metadata,
    Column("order_id", Uuid, primary_key=True),
    Column("customer_id", Uuid, nullable=False),
    Column("status", Text, nullable=False, server_default="placed"),
    Column("currency", Text, nullable=False),
    Column("total_cents", BigInteger, nullable=False),
    Column("country", Text, nullable=False),
    Column("placed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("cancel_requested_at", DateTime(timezone=True)),
    Column("settled_at", DateTime(timezone=True)),
    # SHA-256 of the POST body that placed it: a retry must send the same body.
    Column("request_sha256", LargeBinary),
    CheckConstraint("status IN ('placed', 'completed', 'cancelled')", name="order_status"),
    CheckConstraint("total_cents > 0", name="order_total_positive"),
)

order_line = Table(
    "order_line",
    metadata,
    Column("order_id", Uuid, ForeignKey("customer_order.order_id"), nullable=False),
    Column("sku", Text, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_cents", BigInteger, nullable=False),
    PrimaryKeyConstraint("order_id", "sku"),
    CheckConstraint("quantity > 0", name="order_line_quantity_positive"),
)

effect = effect_table(metadata)
