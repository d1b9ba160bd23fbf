"""The orders service's participant: the order row follows the saga's end.

The saga announces its end (``OrderApproved``, ``OrderCancelled``); this handler applies it
to the order row in the transaction that claims the event, so the row's status changes
exactly once. The saga keeps to its own tables, as any other service's saga would.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, update

from saga import Context, Participant
from services.common import log_effect
from services.contracts import OrderApproved, OrderCancelled
from services.orders.tables import effect, order

orders = Participant("orders")


@orders.handler
def complete(event: OrderApproved, context: Context) -> None:
    _settle(context, event.order_id, "completed")


@orders.handler
def cancel(event: OrderCancelled, context: Context) -> None:
    _settle(context, event.order_id, "cancelled")


def _settle(context: Context, order_id: UUID, status: str) -> None:
    done = context.session.execute(
        update(order)
        .where(order.c.order_id == order_id, order.c.status == "placed")
        .values(status=status, settled_at=func.now())
    )
    if done.rowcount != 1:
        # An order settled twice, or never placed: a bug to see in the dead letters.
        raise LookupError(f"order {order_id} is not waiting for its outcome")
    log_effect(context, effect, status, order_id)
