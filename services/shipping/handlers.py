"""The shipping service: hand an order to a carrier, or say why none will take it.

Run it as ``saga worker services.shipping --name shipping`` with ``SAGA_DATABASE_URL``
naming the ``shop_shipping`` database. Which carrier serves a country is a fixed table
(:data:`CARRIERS`), so a shipment fails for the same orders on every run of the same seed.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from saga import Context, Participant
from services.common import log_effect
from services.contracts import ShipmentFailed, ShipmentScheduled, ShipOrder
from services.shipping.tables import effect, refusal, shipment

#: Country → (carrier, days to deliver). Orders to other countries cannot ship.
CARRIERS = {
    "DE": ("DHL", 1),
    "AT": ("DHL", 2),
    "FR": ("Colissimo", 2),
    "NL": ("PostNL", 2),
    "BE": ("bpost", 2),
    "IT": ("BRT", 3),
}
_IDS = uuid.UUID("9c3e1d5a-2b7f-4e86-a0d4-6f1b8e2c7a35")  # shipment ids derive from events

shipping = Participant("shipping")


@shipping.handler
def ship(request: ShipOrder, context: Context) -> ShipmentScheduled | ShipmentFailed:
    country = request.address.country
    if country not in CARRIERS:
        reason = f"no carrier delivers to {country}"
        context.session.execute(refusal.insert().values(order_id=request.order_id, reason=reason))
        log_effect(context, effect, "refuse", request.order_id)
        return ShipmentFailed(order_id=request.order_id, failed_at=context.now, reason=reason)
    carrier, days = CARRIERS[country]
    shipment_id = uuid.uuid5(_IDS, context.event_id)
    delivery = (context.now + timedelta(days=days)).date()
    context.session.execute(
        shipment.insert().values(
            shipment_id=shipment_id,
            order_id=request.order_id,
            carrier=carrier,
            country=country,
            items=sum(item.quantity for item in request.items),
            estimated_delivery=delivery,
        )
    )
    log_effect(context, effect, "ship", request.order_id)
    return ShipmentScheduled(
        order_id=request.order_id,
        shipment_id=shipment_id,
        scheduled_at=context.now,
        carrier=carrier,
        estimated_delivery=delivery,
    )
