"""The payments service: authorize (or decline), void, capture (sometimes only at the second
try), refund.

Run it as ``saga worker services.payments --name payments`` with ``SAGA_DATABASE_URL``
naming the ``shop_payments`` database. The rules are deterministic, so that a demo run is
reproduced by its seed:

* a card's limit is :data:`CARD_LIMIT_CENTS`: a larger amount is declined;
* the provider times out on the first capture of one payment in ten (by the order id).
"""

from __future__ import annotations

import uuid
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from saga import Context, Participant
from services.common import log_effect
from services.contracts import (
    AuthorizePayment,
    CaptureFailed,
    CapturePayment,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    VoidPayment,
)
from services.payments.tables import decline, effect, ledger, payment

CARD_LIMIT_CENTS = 500_00
_IDS = uuid.UUID("0d6c3a43-7f0a-4f43-b7b5-52f6d7c2e9a1")  # payment ids derive from events

payments = Participant("payments")


def capture_times_out_first(order_id: UUID) -> bool:
    """The provider's flaky moment: the first capture of one order in ten fails."""
    return order_id.int % 10 == 0


@payments.handler
def authorize(request: AuthorizePayment, context: Context) -> PaymentAuthorized | PaymentDeclined:
    session = context.session
    if request.amount_cents > CARD_LIMIT_CENTS:
        session.execute(
            decline.insert().values(
                order_id=request.order_id,
                amount_cents=request.amount_cents,
                reason="over the card limit",
            )
        )
        log_effect(context, effect, "decline", request.order_id)
        return PaymentDeclined(
            order_id=request.order_id,
            declined_at=context.now,
            reason="INSUFFICIENT_FUNDS",
        )
    payment_id = uuid.uuid5(_IDS, context.event_id)
    session.execute(
        payment.insert().values(
            payment_id=payment_id,
            order_id=request.order_id,
            customer_id=request.customer_id,
            amount_cents=request.amount_cents,
            currency=request.currency,
            status="authorized",
        )
    )
    log_effect(context, effect, "authorize", request.order_id)
    return PaymentAuthorized(
        order_id=request.order_id,
        payment_id=payment_id,
        authorized_at=context.now,
        amount_cents=request.amount_cents,
        currency=request.currency,
    )


@authorize.compensation
def void(request: VoidPayment, context: Context) -> None:
    session = context.session
    status, amount = _lock(session, request.payment_id)
    if status == "authorized":
        _set_status(session, request.payment_id, "voided")
        log_effect(context, effect, "void", request.order_id)
    elif status == "captured":  # the money was taken already: give it back
        refund = {"payment_id": request.payment_id, "kind": "refund", "amount_cents": amount}
        session.execute(ledger.insert().values(refund))
        _set_status(session, request.payment_id, "refunded")
        log_effect(context, effect, "refund", request.order_id)
    else:
        raise LookupError(f"payment {request.payment_id} cannot be voided: it is {status}")


@payments.handler
def capture(request: CapturePayment, context: Context) -> PaymentCaptured | CaptureFailed:
    session = context.session
    status, amount = _lock(session, request.payment_id)
    if status != "authorized":
        raise LookupError(f"payment {request.payment_id} cannot be captured: it is {status}")
    attempts = session.execute(
        update(payment)
        .where(payment.c.payment_id == request.payment_id)
        .values(capture_attempts=payment.c.capture_attempts + 1, updated_at=context.now)
        .returning(payment.c.capture_attempts, payment.c.currency)
    ).one()
    if attempts.capture_attempts == 1 and capture_times_out_first(request.order_id):
        log_effect(context, effect, "capture-failed", request.order_id)
        return CaptureFailed(
            order_id=request.order_id,
            payment_id=request.payment_id,
            failed_at=context.now,
            reason="the card provider timed out",
        )
    session.execute(
        ledger.insert().values(payment_id=request.payment_id, kind="capture", amount_cents=amount)
    )
    _set_status(session, request.payment_id, "captured")
    log_effect(context, effect, "capture", request.order_id)
    return PaymentCaptured(
        order_id=request.order_id,
        payment_id=request.payment_id,
        captured_at=context.now,
        amount_cents=amount,
        currency=attempts.currency,
    )


def _lock(session: Session, payment_id: UUID) -> tuple[str, int]:
    row = session.execute(
        select(payment.c.status, payment.c.amount_cents)
        .where(payment.c.payment_id == payment_id)
        .with_for_update()
    ).first()
    if row is None:
        raise LookupError(f"no payment {payment_id}")
    return str(row.status), int(row.amount_cents)


def _set_status(session: Session, payment_id: UUID, status: str) -> None:
    session.execute(
        update(payment)
        .where(payment.c.payment_id == payment_id)
        .values(status=status, updated_at=func.now())
    )
