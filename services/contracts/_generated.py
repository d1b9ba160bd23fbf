"""Event models generated from the Avro contracts in avro/ by `saga schemas generate`.

Do not edit: publish a new contract version, then regenerate. A test fails when this
module and the contracts drift apart.
"""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime

from saga.contracts.events import AvroInt, AvroLong, Event, Record

__all__ = [
    "Address",
    "AuthorizePayment",
    "CaptureFailed",
    "CapturePayment",
    "DeclineReason",
    "DeliveryAddress",
    "OrderApproved",
    "OrderCancelled",
    "OrderLine",
    "OrderPlaced",
    "OrderRejected",
    "PaymentAuthorized",
    "PaymentCaptured",
    "PaymentDeclined",
    "PaymentRefunded",
    "RejectionReason",
    "ReleaseStock",
    "ReservationLine",
    "ReserveStock",
    "ReservedItem",
    "SalesChannel",
    "ShipOrder",
    "ShipmentFailed",
    "ShipmentItem",
    "ShipmentScheduled",
    "StockReleased",
    "StockReservationFailed",
    "StockReserved",
    "VoidPayment",
]


class ReleaseStock(
    Event,
    name="shop.inventory.ReleaseStock",
    schema={
        "type": "record",
        "name": "ReleaseStock",
        "namespace": "shop.inventory",
        "role": "request",
        "doc": "Compensation: give a reservation back. Not answered.",
        "fields": [
            {
                "name": "order_id",
                "type": {"type": "string", "logicalType": "uuid"},
                "doc": "The order, also the saga's correlation id.",
            },
            {"name": "reservation_id", "type": {"type": "string", "logicalType": "uuid"}},
        ],
    },
):
    """Compensation: give a reservation back. Not answered.

    Contract version 1: avro/shop/inventory/ReleaseStock.v1.avsc.
    """

    #: The order, also the saga's correlation id.
    order_id: UUID
    reservation_id: UUID


class ReservationLine(Record):
    """The record ``shop.inventory.ReservationLine``."""

    sku: str
    quantity: AvroInt


class ReserveStock(
    Event,
    name="shop.inventory.ReserveStock",
    schema={
        "type": "record",
        "name": "ReserveStock",
        "namespace": "shop.inventory",
        "role": "request",
        "doc": "Request: set stock aside for every line of an order, or none.",
        "fields": [
            {
                "name": "order_id",
                "type": {"type": "string", "logicalType": "uuid"},
                "doc": "The order, also the saga's correlation id.",
            },
            {
                "name": "lines",
                "type": {
                    "type": "array",
                    "items": {
                        "type": "record",
                        "name": "ReservationLine",
                        "fields": [
                            {"name": "sku", "type": "string"},
                            {"name": "quantity", "type": "int"},
                        ],
                    },
                },
            },
        ],
    },
):
    """Request: set stock aside for every line of an order, or none.

    Contract version 1: avro/shop/inventory/ReserveStock.v1.avsc.
    """

    #: The order, also the saga's correlation id.
    order_id: UUID
    lines: list[ReservationLine]


class StockReleased(
    Event,
    name="shop.inventory.StockReleased",
    schema={
        "type": "record",
        "name": "StockReleased",
        "namespace": "shop.inventory",
        "doc": "Compensation: a reservation was given back after a later step failed.",
        "fields": [
            {
                "name": "order_id",
                "type": {"type": "string", "logicalType": "uuid"},
                "doc": "The order, also the saga's correlation id.",
            },
            {"name": "reservation_id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "released_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {
                "name": "reason",
                "type": "string",
                "doc": "Which failure caused the release, e.g. payment declined.",
            },
        ],
    },
):
    """Compensation: a reservation was given back after a later step failed.

    Contract version 1: avro/shop/inventory/StockReleased.v1.avsc.
    """

    #: The order, also the saga's correlation id.
    order_id: UUID
    reservation_id: UUID
    released_at: AwareDatetime
    #: Which failure caused the release, e.g. payment declined.
    reason: str


class StockReservationFailed(
    Event,
    name="shop.inventory.StockReservationFailed",
    schema={
        "type": "record",
        "name": "StockReservationFailed",
        "namespace": "shop.inventory",
        "doc": "Some lines of an order could not be reserved; nothing was set aside.",
        "fields": [
            {
                "name": "order_id",
                "type": {"type": "string", "logicalType": "uuid"},
                "doc": "The order, also the saga's correlation id.",
            },
            {"name": "failed_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "unavailable_skus", "type": {"type": "array", "items": "string"}},
        ],
    },
):
    """Some lines of an order could not be reserved; nothing was set aside.

    Contract version 1: avro/shop/inventory/StockReservationFailed.v1.avsc.
    """

    #: The order, also the saga's correlation id.
    order_id: UUID
    failed_at: AwareDatetime
    unavailable_skus: list[str]


class ReservedItem(Record):
    """The record ``shop.inventory.ReservedItem``."""

    sku: str
    quantity: AvroInt
    warehouse: str


class StockReserved(
    Event,
    name="shop.inventory.StockReserved",
    schema={
        "type": "record",
        "name": "StockReserved",
        "namespace": "shop.inventory",
        "doc": "Inventory set stock aside for every line of an order.",
        "fields": [
            {
                "name": "order_id",
                "type": {"type": "string", "logicalType": "uuid"},
                "doc": "The order, also the saga's correlation id.",
            },
            {"name": "reservation_id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "reserved_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {
                "name": "items",
                "type": {
                    "type": "array",
                    "items": {
                        "type": "record",
                        "name": "ReservedItem",
                        "fields": [
                            {"name": "sku", "type": "string"},
                            {"name": "quantity", "type": "int"},
                            {"name": "warehouse", "type": "string"},
                        ],
                    },
                },
            },
        ],
    },
):
    """Inventory set stock aside for every line of an order.

    Contract version 1: avro/shop/inventory/StockReserved.v1.avsc.
    """

    #: The order, also the saga's correlation id.
    order_id: UUID
    reservation_id: UUID
    reserved_at: AwareDatetime
    items: list[ReservedItem]


class OrderApproved(
    Event,
    name="shop.orders.OrderApproved",
    schema={
        "type": "record",
        "name": "OrderApproved",
        "namespace": "shop.orders",
        "doc": "Stock reserved, payment authorized, shipment scheduled: the saga completed.",
        "fields": [
            {
                "name": "order_id",
                "type": {"type": "string", "logicalType": "uuid"},
                "doc": "The order, also the saga's correlation id.",
            },
            {"name": "approved_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "payment_id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "shipment_id", "type": {"type": "string", "logicalType": "uuid"}},
        ],
    },
):
    """Stock reserved, payment authorized, shipment scheduled: the saga completed.

    Contract version 1: avro/shop/orders/OrderApproved.v1.avsc.
    """

    #: The order, also the saga's correlation id.
    order_id: UUID
    approved_at: AwareDatetime
    payment_id: UUID
    shipment_id: UUID


class OrderCancelled(
    Event,
    name="shop.orders.OrderCancelled",
    schema={
        "type": "record",
        "name": "OrderCancelled",
        "namespace": "shop.orders",
        "doc": "The order saga ended compensated: nothing stays held for it.",
        "fields": [
            {
                "name": "order_id",
                "type": {"type": "string", "logicalType": "uuid"},
                "doc": "The order, also the saga's correlation id.",
            },
            {
                "name": "stock_released",
                "type": "boolean",
                "doc": "Whether a reservation was given back (false: none was made).",
            },
            {
                "name": "payment_voided",
                "type": "boolean",
                "doc": "Whether an authorization was voided (false: none was made).",
            },
        ],
    },
):
    """The order saga ended compensated: nothing stays held for it.

    Contract version 1: avro/shop/orders/OrderCancelled.v1.avsc.
    """

    #: The order, also the saga's correlation id.
    order_id: UUID
    #: Whether a reservation was given back (false: none was made).
    stock_released: bool
    #: Whether an authorization was voided (false: none was made).
    payment_voided: bool


class OrderLine(Record):
    """The record ``shop.orders.OrderLine``."""

    sku: str
    quantity: AvroInt
    unit_price_cents: AvroLong


class Address(Record):
    """The record ``shop.orders.Address``."""

    line1: str
    line2: str | None = None
    city: str
    postal_code: str
    #: ISO 3166-1 alpha-2 code.
    country: str


SalesChannel = Literal["WEB", "MOBILE", "PHONE"]


class OrderPlaced(
    Event,
    name="shop.orders.OrderPlaced",
    schema={
        "type": "record",
        "name": "OrderPlaced",
        "namespace": "shop.orders",
        "doc": "A customer placed an order; starts the order saga.",
        "fields": [
            {
                "name": "order_id",
                "type": {"type": "string", "logicalType": "uuid"},
                "doc": "The order, also the saga's correlation id.",
            },
            {"name": "customer_id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "placed_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "currency", "type": "string", "doc": "ISO 4217 code, e.g. EUR."},
            {
                "name": "total_cents",
                "type": "long",
                "doc": "Order total in minor units of currency.",
            },
            {
                "name": "lines",
                "type": {
                    "type": "array",
                    "items": {
                        "type": "record",
                        "name": "OrderLine",
                        "fields": [
                            {"name": "sku", "type": "string"},
                            {"name": "quantity", "type": "int"},
                            {"name": "unit_price_cents", "type": "long"},
                        ],
                    },
                },
            },
            {
                "name": "shipping_address",
                "type": {
                    "type": "record",
                    "name": "Address",
                    "fields": [
                        {"name": "line1", "type": "string", "sensitive": True},
                        {
                            "name": "line2",
                            "type": ["null", "string"],
                            "default": None,
                            "sensitive": True,
                        },
                        {"name": "city", "type": "string", "sensitive": True},
                        {"name": "postal_code", "type": "string", "sensitive": True},
                        {"name": "country", "type": "string", "doc": "ISO 3166-1 alpha-2 code."},
                    ],
                },
            },
            {
                "name": "channel",
                "type": {
                    "type": "enum",
                    "name": "SalesChannel",
                    "symbols": ["WEB", "MOBILE", "PHONE"],
                    "default": "WEB",
                },
                "default": "WEB",
                "doc": "Where the order was placed; added in v2.",
            },
            {
                "name": "coupon_code",
                "type": ["null", "string"],
                "default": None,
                "doc": "Promotion code the customer entered, if any; added in v2.",
            },
        ],
    },
):
    """A customer placed an order; starts the order saga.

    Contract version 2: avro/shop/orders/OrderPlaced.v2.avsc.
    """

    #: The order, also the saga's correlation id.
    order_id: UUID
    customer_id: UUID
    placed_at: AwareDatetime
    #: ISO 4217 code, e.g. EUR.
    currency: str
    #: Order total in minor units of currency.
    total_cents: AvroLong
    lines: list[OrderLine]
    shipping_address: Address
    #: Where the order was placed; added in v2.
    channel: SalesChannel = "WEB"
    #: Promotion code the customer entered, if any; added in v2.
    coupon_code: str | None = None


RejectionReason = Literal["OUT_OF_STOCK", "PAYMENT_DECLINED", "SHIPPING_UNAVAILABLE", "OTHER"]


class OrderRejected(
    Event,
    name="shop.orders.OrderRejected",
    schema={
        "type": "record",
        "name": "OrderRejected",
        "namespace": "shop.orders",
        "doc": "The saga ended without an order; every step taken was compensated.",
        "fields": [
            {
                "name": "order_id",
                "type": {"type": "string", "logicalType": "uuid"},
                "doc": "The order, also the saga's correlation id.",
            },
            {"name": "rejected_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {
                "name": "reason",
                "type": {
                    "type": "enum",
                    "name": "RejectionReason",
                    "symbols": [
                        "OUT_OF_STOCK",
                        "PAYMENT_DECLINED",
                        "SHIPPING_UNAVAILABLE",
                        "OTHER",
                    ],
                    "default": "OTHER",
                },
            },
            {
                "name": "detail",
                "type": "string",
                "doc": "Human-readable explanation for support staff.",
                "default": "",
            },
        ],
    },
):
    """The saga ended without an order; every step taken was compensated.

    Contract version 1: avro/shop/orders/OrderRejected.v1.avsc.
    """

    #: The order, also the saga's correlation id.
    order_id: UUID
    rejected_at: AwareDatetime
    reason: RejectionReason
    #: Human-readable explanation for support staff.
    detail: str = ""


class AuthorizePayment(
    Event,
    name="shop.payments.AuthorizePayment",
    schema={
        "type": "record",
        "name": "AuthorizePayment",
        "namespace": "shop.payments",
        "role": "request",
        "doc": "Request: hold the order total on the customer's card.",
        "fields": [
            {
                "name": "order_id",
                "type": {"type": "string", "logicalType": "uuid"},
                "doc": "The order, also the saga's correlation id.",
            },
            {"name": "customer_id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "amount_cents", "type": "long", "doc": "Amount in minor units of currency."},
            {"name": "currency", "type": "string", "doc": "ISO 4217 code, e.g. EUR."},
        ],
    },
):
    """Request: hold the order total on the customer's card.

    Contract version 1: avro/shop/payments/AuthorizePayment.v1.avsc.
    """

    #: The order, also the saga's correlation id.
    order_id: UUID
    customer_id: UUID
    #: Amount in minor units of currency.
    amount_cents: AvroLong
    #: ISO 4217 code, e.g. EUR.
    currency: str


class CaptureFailed(
    Event,
    name="shop.payments.CaptureFailed",
    schema={
        "type": "record",
        "name": "CaptureFailed",
        "namespace": "shop.payments",
        "doc": "The provider did not take the money this time; asked again.",
        "fields": [
            {
                "name": "order_id",
                "type": {"type": "string", "logicalType": "uuid"},
                "doc": "The order, also the saga's correlation id.",
            },
            {"name": "payment_id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "failed_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "reason", "type": "string"},
        ],
    },
):
    """The provider did not take the money this time; asked again.

    Contract version 1: avro/shop/payments/CaptureFailed.v1.avsc.
    """

    #: The order, also the saga's correlation id.
    order_id: UUID
    payment_id: UUID
    failed_at: AwareDatetime
    reason: str


class CapturePayment(
    Event,
    name="shop.payments.CapturePayment",
    schema={
        "type": "record",
        "name": "CapturePayment",
        "namespace": "shop.payments",
        "role": "request",
        "doc": "Request: take the authorized money once the order shipped.",
        "fields": [
            {
                "name": "order_id",
                "type": {"type": "string", "logicalType": "uuid"},
                "doc": "The order, also the saga's correlation id.",
            },
            {"name": "payment_id", "type": {"type": "string", "logicalType": "uuid"}},
        ],
    },
):
    """Request: take the authorized money once the order shipped.

    Contract version 1: avro/shop/payments/CapturePayment.v1.avsc.
    """

    #: The order, also the saga's correlation id.
    order_id: UUID
    payment_id: UUID


class PaymentAuthorized(
    Event,
    name="shop.payments.PaymentAuthorized",
    schema={
        "type": "record",
        "name": "PaymentAuthorized",
        "namespace": "shop.payments",
        "doc": "The order total was authorized on the customer's payment method.",
        "fields": [
            {
                "name": "order_id",
                "type": {"type": "string", "logicalType": "uuid"},
                "doc": "The order, also the saga's correlation id.",
            },
            {"name": "payment_id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "authorized_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "amount_cents", "type": "long"},
            {"name": "currency", "type": "string", "doc": "ISO 4217 code, e.g. EUR."},
        ],
    },
):
    """The order total was authorized on the customer's payment method.

    Contract version 1: avro/shop/payments/PaymentAuthorized.v1.avsc.
    """

    #: The order, also the saga's correlation id.
    order_id: UUID
    payment_id: UUID
    authorized_at: AwareDatetime
    amount_cents: AvroLong
    #: ISO 4217 code, e.g. EUR.
    currency: str


class PaymentCaptured(
    Event,
    name="shop.payments.PaymentCaptured",
    schema={
        "type": "record",
        "name": "PaymentCaptured",
        "namespace": "shop.payments",
        "doc": "The authorized amount was taken from the customer's card.",
        "fields": [
            {
                "name": "order_id",
                "type": {"type": "string", "logicalType": "uuid"},
                "doc": "The order, also the saga's correlation id.",
            },
            {"name": "payment_id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "captured_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "amount_cents", "type": "long"},
            {"name": "currency", "type": "string", "doc": "ISO 4217 code, e.g. EUR."},
        ],
    },
):
    """The authorized amount was taken from the customer's card.

    Contract version 1: avro/shop/payments/PaymentCaptured.v1.avsc.
    """

    #: The order, also the saga's correlation id.
    order_id: UUID
    payment_id: UUID
    captured_at: AwareDatetime
    amount_cents: AvroLong
    #: ISO 4217 code, e.g. EUR.
    currency: str


DeclineReason = Literal["INSUFFICIENT_FUNDS", "CARD_EXPIRED", "FRAUD_SUSPECTED", "OTHER"]


class PaymentDeclined(
    Event,
    name="shop.payments.PaymentDeclined",
    schema={
        "type": "record",
        "name": "PaymentDeclined",
        "namespace": "shop.payments",
        "doc": "The payment provider refused the charge; the saga compensates.",
        "fields": [
            {
                "name": "order_id",
                "type": {"type": "string", "logicalType": "uuid"},
                "doc": "The order, also the saga's correlation id.",
            },
            {"name": "declined_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {
                "name": "reason",
                "type": {
                    "type": "enum",
                    "name": "DeclineReason",
                    "symbols": ["INSUFFICIENT_FUNDS", "CARD_EXPIRED", "FRAUD_SUSPECTED", "OTHER"],
                    "default": "OTHER",
                },
            },
        ],
    },
):
    """The payment provider refused the charge; the saga compensates.

    Contract version 1: avro/shop/payments/PaymentDeclined.v1.avsc.
    """

    #: The order, also the saga's correlation id.
    order_id: UUID
    declined_at: AwareDatetime
    reason: DeclineReason


class PaymentRefunded(
    Event,
    name="shop.payments.PaymentRefunded",
    schema={
        "type": "record",
        "name": "PaymentRefunded",
        "namespace": "shop.payments",
        "doc": "Compensation: an authorized payment was refunded after a later step failed.",
        "fields": [
            {
                "name": "order_id",
                "type": {"type": "string", "logicalType": "uuid"},
                "doc": "The order, also the saga's correlation id.",
            },
            {"name": "payment_id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "refunded_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "amount_cents", "type": "long"},
            {"name": "currency", "type": "string", "doc": "ISO 4217 code, e.g. EUR."},
        ],
    },
):
    """Compensation: an authorized payment was refunded after a later step failed.

    Contract version 1: avro/shop/payments/PaymentRefunded.v1.avsc.
    """

    #: The order, also the saga's correlation id.
    order_id: UUID
    payment_id: UUID
    refunded_at: AwareDatetime
    amount_cents: AvroLong
    #: ISO 4217 code, e.g. EUR.
    currency: str


class VoidPayment(
    Event,
    name="shop.payments.VoidPayment",
    schema={
        "type": "record",
        "name": "VoidPayment",
        "namespace": "shop.payments",
        "role": "request",
        "doc": "Compensation: release an authorization (refund if captured).",
        "fields": [
            {
                "name": "order_id",
                "type": {"type": "string", "logicalType": "uuid"},
                "doc": "The order, also the saga's correlation id.",
            },
            {"name": "payment_id", "type": {"type": "string", "logicalType": "uuid"}},
        ],
    },
):
    """Compensation: release an authorization (refund if captured).

    Contract version 1: avro/shop/payments/VoidPayment.v1.avsc.
    """

    #: The order, also the saga's correlation id.
    order_id: UUID
    payment_id: UUID


class ShipmentItem(Record):
    """The record ``shop.shipping.ShipmentItem``."""

    sku: str
    quantity: AvroInt


class DeliveryAddress(Record):
    """The record ``shop.shipping.DeliveryAddress``."""

    line1: str
    line2: str | None = None
    city: str
    postal_code: str
    #: ISO 3166-1 alpha-2 code.
    country: str


class ShipOrder(
    Event,
    name="shop.shipping.ShipOrder",
    schema={
        "type": "record",
        "name": "ShipOrder",
        "namespace": "shop.shipping",
        "role": "request",
        "doc": "Request: hand the order to a carrier (the point of no return).",
        "fields": [
            {
                "name": "order_id",
                "type": {"type": "string", "logicalType": "uuid"},
                "doc": "The order, also the saga's correlation id.",
            },
            {
                "name": "items",
                "type": {
                    "type": "array",
                    "items": {
                        "type": "record",
                        "name": "ShipmentItem",
                        "fields": [
                            {"name": "sku", "type": "string"},
                            {"name": "quantity", "type": "int"},
                        ],
                    },
                },
            },
            {
                "name": "address",
                "type": {
                    "type": "record",
                    "name": "DeliveryAddress",
                    "fields": [
                        {"name": "line1", "type": "string"},
                        {"name": "line2", "type": ["null", "string"], "default": None},
                        {"name": "city", "type": "string"},
                        {"name": "postal_code", "type": "string"},
                        {"name": "country", "type": "string", "doc": "ISO 3166-1 alpha-2 code."},
                    ],
                },
            },
        ],
    },
):
    """Request: hand the order to a carrier (the point of no return).

    Contract version 1: avro/shop/shipping/ShipOrder.v1.avsc.
    """

    #: The order, also the saga's correlation id.
    order_id: UUID
    items: list[ShipmentItem]
    address: DeliveryAddress


class ShipmentFailed(
    Event,
    name="shop.shipping.ShipmentFailed",
    schema={
        "type": "record",
        "name": "ShipmentFailed",
        "namespace": "shop.shipping",
        "doc": "No carrier can deliver the order; stock and payment are compensated.",
        "fields": [
            {
                "name": "order_id",
                "type": {"type": "string", "logicalType": "uuid"},
                "doc": "The order, also the saga's correlation id.",
            },
            {"name": "failed_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "reason", "type": "string"},
        ],
    },
):
    """No carrier can deliver the order; stock and payment are compensated.

    Contract version 1: avro/shop/shipping/ShipmentFailed.v1.avsc.
    """

    #: The order, also the saga's correlation id.
    order_id: UUID
    failed_at: AwareDatetime
    reason: str


class ShipmentScheduled(
    Event,
    name="shop.shipping.ShipmentScheduled",
    schema={
        "type": "record",
        "name": "ShipmentScheduled",
        "namespace": "shop.shipping",
        "doc": "A carrier will pick the order up; the last step of the saga.",
        "fields": [
            {
                "name": "order_id",
                "type": {"type": "string", "logicalType": "uuid"},
                "doc": "The order, also the saga's correlation id.",
            },
            {"name": "shipment_id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "scheduled_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "carrier", "type": "string"},
            {"name": "estimated_delivery", "type": {"type": "int", "logicalType": "date"}},
        ],
    },
):
    """A carrier will pick the order up; the last step of the saga.

    Contract version 1: avro/shop/shipping/ShipmentScheduled.v1.avsc.
    """

    #: The order, also the saga's correlation id.
    order_id: UUID
    shipment_id: UUID
    scheduled_at: AwareDatetime
    carrier: str
    estimated_delivery: date
