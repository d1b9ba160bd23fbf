"""The shipping service's tables (database ``shop_shipping``): one shipment per order (a
unique key), and the orders no carrier could take."""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Integer, MetaData, Table, Text, Uuid, func

from services.common import effect_table

metadata = MetaData()

shipment = Table(
    "shipment",
    metadata,
    Column("shipment_id", Uuid, primary_key=True),
    Column("order_id", Uuid, nullable=False, unique=True),
    Column("carrier", Text, nullable=False),
    Column("country", Text, nullable=False),
    Column("items", Integer, nullable=False),
    Column("scheduled_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("estimated_delivery", Date, nullable=False),
)

refusal = Table(
    "refusal",
    metadata,
    Column("order_id", Uuid, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("refused_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

effect = effect_table(metadata)
