"""The payments service's tables (database ``shop_payments``).

One payment per order (a unique key): authorized, then voided or captured (and refunded
if a void comes after the capture). Money moves only through ``ledger`` rows, at most one
capture and one refund per payment (a unique key), so captured minus refunded is a sum.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)

from services.common import effect_table

metadata = MetaData()

payment = Table(
    "payment",
    metadata,
    Column("payment_id", Uuid, primary_key=True),
    Column("order_id", Uuid, nullable=False, unique=True),
    Column("customer_id", Uuid, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("status", Text, nullable=False),  # authorized | voided | captured | refunded
    Column("capture_attempts", Integer, nullable=False, server_default="0"),
    Column("authorized_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("amount_cents > 0", name="payment_amount_positive"),
    CheckConstraint(
        "status IN ('authorized', 'voided', 'captured', 'refunded')", name="payment_status"
    ),
)

decline = Table(
    "decline",
    metadata,
    Column("order_id", Uuid, primary_key=True),
    Column("amount_cents", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("declined_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

ledger = Table(
    "ledger",
    metadata,
    Column("entry_id", BigInteger, Identity(always=True), primary_key=True),
    Column("payment_id", Uuid, ForeignKey("payment.payment_id"), nullable=False),
    Column("kind", Text, nullable=False),  # capture | refund
    Column("amount_cents", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("payment_id", "kind", name="ledger_once_per_kind"),
    CheckConstraint("kind IN ('capture', 'refund')", name="ledger_kind"),
    CheckConstraint("amount_cents > 0", name="ledger_amount_positive"),
)

effect = effect_table(metadata)
