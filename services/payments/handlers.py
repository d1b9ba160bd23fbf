"""The payments service: authorize (or decline), void, capture (sometimes only at the second
try), refund.

Run it as ``saga worker services.payments --name payments`` with ``SAGA_DATABASE_URL``
naming the ``shop_payments`` database. The rules are deterministic, so that a demo run is
reproduced by its seed:

* a card's limit is :data:`CARD_LIMIT_CENTS`: a larger amount is declined;
* the provider times out on the first capture of one payment in ten (by the order id).

Its handlers take a poll batch's requests at once and write them with one statement per
table, each request in turn as if alone (a void after a capture in the same batch is a
refund); the payment rows a batch changes are locked first, in id order.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.orm import Session

from saga import BatchContext, Participant
from services.common import log_effects
from services.contracts import (
    AuthorizePayment,
    CaptureFailed,
    CapturePayment,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    VoidPayment,
)
from services.payments.tables import effect

CARD_LIMIT_CENTS = 500_00
_IDS = uuid.UUID("0d6c3a43-7f0a-4f43-b7b5-52f6d7c2e9a1")  # payment ids derive from events

payments = Participant("payments")

_DECLINE = """
    INSERT INTO decline (order_id, amount_cents, reason)
    SELECT o, a, 'over the card limit'
    FROM unnest(CAST(:orders AS uuid[]), CAST(:amounts AS bigint[])) AS t(o, a)
"""
_AUTHORIZE = """
    INSERT INTO payment (payment_id, order_id, customer_id, amount_cents, currency, status)
    SELECT p, o, c, a, cur, 'authorized'
    FROM unnest(CAST(:payments AS uuid[]), CAST(:orders AS uuid[]), CAST(:customers AS uuid[]),
                CAST(:amounts AS bigint[]), CAST(:currencies AS text[])) AS t(p, o, c, a, cur)
"""
# Payment rows are locked in id order, all of a batch's in one statement.
_LOCK = """
    SELECT payment_id, status, amount_cents, capture_attempts, currency FROM payment
    WHERE payment_id = ANY(CAST(:payments AS uuid[])) ORDER BY payment_id FOR UPDATE
"""
# ``updated_at``: the capture's time when it was asked, the transaction's when it moved the
# money (as the handler did one statement at a time).
_SET = """
    UPDATE payment SET status = t.status, capture_attempts = t.attempts,
                       updated_at = CASE WHEN t.moved THEN now() ELSE :now END
    FROM unnest(CAST(:payments AS uuid[]), CAST(:statuses AS text[]), CAST(:attempts AS int[]),
                CAST(:moved AS boolean[])) AS t(id, status, attempts, moved)
    WHERE payment.payment_id = t.id
"""
_LEDGER = """
    INSERT INTO ledger (payment_id, kind, amount_cents)
    SELECT * FROM unnest(CAST(:payments AS uuid[]), CAST(:kinds AS text[]),
                         CAST(:amounts AS bigint[]))
"""


def capture_times_out_first(order_id: UUID) -> bool:
    """The provider's flaky moment: the first capture of one order in ten fails."""
    return order_id.int % 10 == 0


@payments.batch_handler
def authorize(
    requests: list[AuthorizePayment], context: BatchContext
) -> list[PaymentAuthorized | PaymentDeclined]:
    session = context.session
    results: list[PaymentAuthorized | PaymentDeclined] = []
    effects: list[tuple[int, str, UUID]] = []
    declined: list[AuthorizePayment] = []
    authorized: list[tuple[UUID, AuthorizePayment]] = []
    for index, request in enumerate(requests):
        if request.amount_cents > CARD_LIMIT_CENTS:
            declined.append(request)
            effects.append((index, "decline", request.order_id))
            results.append(
                PaymentDeclined(
                    order_id=request.order_id,
                    declined_at=context.now,
                    reason="INSUFFICIENT_FUNDS",
                )
            )
            continue
        payment_id = uuid.uuid5(_IDS, context.per_request[index].event_id)
        authorized.append((payment_id, request))
        effects.append((index, "authorize", request.order_id))
        results.append(
            PaymentAuthorized(
                order_id=request.order_id,
                payment_id=payment_id,
                authorized_at=context.now,
                amount_cents=request.amount_cents,
                currency=request.currency,
            )
        )
    if declined:
        session.execute(
            text(_DECLINE),
            {
                "orders": [r.order_id for r in declined],
                "amounts": [r.amount_cents for r in declined],
            },
        )
    if authorized:
        session.execute(
            text(_AUTHORIZE),
            {
                "payments": [p for p, _ in authorized],
                "orders": [r.order_id for _, r in authorized],
                "customers": [r.customer_id for _, r in authorized],
                "amounts": [r.amount_cents for _, r in authorized],
                "currencies": [r.currency for _, r in authorized],
            },
        )
    log_effects(context, effect, effects)
    return results


@authorize.batch_compensation
def void(requests: list[VoidPayment], context: BatchContext) -> None:
    """Void what is only authorized; give back what was captured already (a refund)."""
    found = _Payments.locked(context.session, [r.payment_id for r in requests])
    effects: list[tuple[int, str, UUID]] = []
    for index, request in enumerate(requests):
        payment = found.get(request.payment_id)
        if payment.status == "authorized":
            payment.move("voided")
            effects.append((index, "void", request.order_id))
        elif payment.status == "captured":  # the money was taken already: give it back
            payment.move("refunded", ledger="refund")
            effects.append((index, "refund", request.order_id))
        else:
            raise LookupError(
                f"payment {request.payment_id} cannot be voided: it is {payment.status}"
            )
    found.write(context)
    log_effects(context, effect, effects)


@payments.batch_handler
def capture(
    requests: list[CapturePayment], context: BatchContext
) -> list[PaymentCaptured | CaptureFailed]:
    found = _Payments.locked(context.session, [r.payment_id for r in requests])
    results: list[PaymentCaptured | CaptureFailed] = []
    effects: list[tuple[int, str, UUID]] = []
    for index, request in enumerate(requests):
        payment = found.get(request.payment_id)
        if payment.status != "authorized":
            raise LookupError(
                f"payment {request.payment_id} cannot be captured: it is {payment.status}"
            )
        payment.attempts += 1
        payment.asked = True
        if payment.attempts == 1 and capture_times_out_first(request.order_id):
            effects.append((index, "capture-failed", request.order_id))
            results.append(
                CaptureFailed(
                    order_id=request.order_id,
                    payment_id=request.payment_id,
                    failed_at=context.now,
                    reason="the card provider timed out",
                )
            )
            continue
        payment.move("captured", ledger="capture")
        effects.append((index, "capture", request.order_id))
        results.append(
            PaymentCaptured(
                order_id=request.order_id,
                payment_id=request.payment_id,
                captured_at=context.now,
                amount_cents=payment.amount_cents,
                currency=payment.currency,
            )
        )
    found.write(context)
    log_effects(context, effect, effects)
    return results


@dataclass
class _Payment:
    """A locked payment row as the batch changes it, request after request."""

    status: str
    amount_cents: int
    attempts: int
    currency: str
    asked: bool = False  # a capture was asked for
    moved: bool = False  # its status changed
    ledger: list[str] | None = None  # the kinds of ledger rows it gets

    def move(self, status: str, *, ledger: str | None = None) -> None:
        self.status = status
        self.moved = True
        if ledger is not None:
            self.ledger = [*(self.ledger or []), ledger]


class _Payments:
    """The payments a batch touches, locked, changed in memory, written at once."""

    def __init__(self, rows: dict[UUID, _Payment]) -> None:
        self.rows = rows

    @classmethod
    def locked(cls, session: Session, ids: list[UUID]) -> _Payments:
        found = session.execute(text(_LOCK), {"payments": sorted(set(ids))}).all()
        return cls({r[0]: _Payment(str(r[1]), int(r[2]), int(r[3]), str(r[4])) for r in found})

    def get(self, payment_id: UUID) -> _Payment:
        payment = self.rows.get(payment_id)
        if payment is None:
            raise LookupError(f"no payment {payment_id}")
        return payment

    def write(self, context: BatchContext) -> None:
        """The changed rows (one statement) and their ledger rows (one statement)."""
        changed = {i: p for i, p in self.rows.items() if p.moved or p.asked}
        if changed:
            context.session.execute(
                text(_SET),
                {
                    "payments": list(changed),
                    "statuses": [p.status for p in changed.values()],
                    "attempts": [p.attempts for p in changed.values()],
                    "moved": [p.moved for p in changed.values()],
                    "now": context.now,
                },
            )
        entries = [
            (i, kind, p.amount_cents) for i, p in self.rows.items() for kind in p.ledger or ()
        ]
        if entries:
            context.session.execute(
                text(_LEDGER),
                {
                    "payments": [i for i, _, _ in entries],
                    "kinds": [k for _, k, _ in entries],
                    "amounts": [a for _, _, a in entries],
                },
            )
