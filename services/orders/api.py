"""The orders service's HTTP API: place an order, read its status, cancel it.

::

    python -m services.orders.api --port 8000 [--topic-prefix P]

    POST /orders               {"customer_id", "currency", "lines": [{"sku", "quantity",
                                "unit_price_cents"}], "shipping_address": {...}, "order_id"?}
                               with "order_id" or an Idempotency-Key header (one is required)
                               → 201 {"order_id", "status", "total_cents"}; a retry → 200
                               with the stored order; another body under the same id → 422
    GET  /orders/{id}          → 200 {"order_id", "status", ..., "saga": {"state", ...}}
    POST /orders/{id}/cancel   → 202 (the saga will compensate) or 409 (too late, or the
                                 saga has not started yet: retry after a moment)
    GET  /health               → 200
    any, database away         → 503 {"error"}, Retry-After: 1 (retry: a POST is idempotent)

Placing an order writes the order row, its lines and ``OrderPlaced`` in ONE transaction
(the transactional outbox): the event exists iff the order does. The orders worker's relay
publishes it; the order saga takes it from there. A client names the order (its own
``order_id``, or an ``Idempotency-Key`` header the id is derived from) so that it can retry a
POST safely: the same id places the order once, a retry is answered from the stored order,
and a different body under the same id is refused (it would be another order).

Cancelling sends the saga's ``cancel`` signal in the transaction that records the request;
the saga accepts it while the order is checking out.
"""

from __future__ import annotations

import argparse
import hashlib
import signal
import socket
import sys
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID, uuid5

from pydantic import BaseModel, Field, ValidationError, model_validator
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from saga import Outbox, SagaError, Serializer, Settings, TopicMap, send_signal
from saga.errors import SignalRefused, UnknownInstanceError
from saga.postgres.connect import engine_for
from saga.postgres.tables import instance_table
from saga.settings import redact_error, redact_url
from services.contracts import Address, OrderLine, OrderPlaced
from services.orders.saga import OrderSaga
from services.orders.tables import order, order_line

SAGA = OrderSaga.__saga__.name


class PlaceOrder(BaseModel):
    """The body of ``POST /orders``."""

    order_id: UUID | None = None
    customer_id: UUID
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    lines: list[OrderLine] = Field(min_length=1, max_length=50)
    shipping_address: Address

    @model_validator(mode="after")
    def _lines_make_sense(self) -> PlaceOrder:
        skus = [line.sku for line in self.lines]
        if len(set(skus)) != len(skus):
            raise ValueError("each SKU may appear on one line only")
        if any(line.quantity < 1 or line.unit_price_cents < 1 for line in self.lines):
            raise ValueError("quantities and prices must be positive")
        return self

    @property
    def total_cents(self) -> int:
        return sum(line.quantity * line.unit_price_cents for line in self.lines)

    def digest(self) -> bytes:
        """What a retry must repeat: the body without the id, in a canonical form."""
        return hashlib.sha256(self.model_dump_json(exclude={"order_id"}).encode()).digest()


# Order ids derived from a customer's Idempotency-Key.
_KEYS = UUID("1f7c2d4e-7a0b-5c4e-9a39-0b8f2f1e6a52")
_NO_NAME = (
    "give the order an order_id or send an Idempotency-Key header: without one, a retried "
    "POST would place it twice"
)


def order_id_for(body: PlaceOrder, idempotency_key: str | None) -> UUID | None:
    """The client's ``order_id``, else one derived from its key (per customer)."""
    if body.order_id is not None:
        return body.order_id
    if idempotency_key:
        return uuid5(_KEYS, f"{body.customer_id}/{idempotency_key}")
    return None


class OrdersApi:
    """The endpoints, on one engine and one outbox."""

    def __init__(self, engine: Engine, topic_prefix: str = "") -> None:
        self.engine = engine
        self.outbox = Outbox(
            Serializer(), producer="orders", topic=TopicMap(prefix=topic_prefix).topic_for
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/health", self.health, methods=["GET"]),
                Route("/orders", self.place, methods=["POST"]),
                Route("/orders/{order_id}", self.status, methods=["GET"]),
                Route("/orders/{order_id}/cancel", self.cancel, methods=["POST"]),
            ],
            exception_handlers={OperationalError: self.database_away},
        )

    async def database_away(self, request: Request, exc: Exception) -> JSONResponse:
        # The database restarting or unreachable: a client's retry will do (the order id
        # makes placing idempotent), so say so instead of a plain-text 500 and a traceback.
        return JSONResponse(
            {"error": "the orders database is not available: try again"},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    # Plain (not async) endpoints: Starlette runs them in its thread pool, next to the
    # blocking database driver.

    def health(self, request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def place(self, request: Request) -> JSONResponse:
        try:
            body = PlaceOrder.model_validate_json(await request.body())
        except ValidationError as exc:
            problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            return JSONResponse({"error": "; ".join(problems)}, status_code=422)
        key = request.headers.get("idempotency-key", "").strip()
        if len(key) > 255:
            return JSONResponse({"error": "Idempotency-Key: at most 255 characters"}, 422)
        order_id = order_id_for(body, key or None)
        if order_id is None:
            return JSONResponse({"error": _NO_NAME}, status_code=422)
        return await run_in_threadpool(self._place, body.model_copy(update={"order_id": order_id}))

    def _place(self, body: PlaceOrder) -> JSONResponse:
        assert body.order_id is not None  # named by the client (place)
        digest = body.digest()
        with Session(self.engine) as session, session.begin():
            placed_at = session.execute(
                insert(order)
                .values(
                    order_id=body.order_id,
                    customer_id=body.customer_id,
                    currency=body.currency,
                    total_cents=body.total_cents,
                    country=body.shipping_address.country,
                    request_sha256=digest,
                )
                .on_conflict_do_nothing(index_elements=["order_id"])
                .returning(order.c.placed_at)
            ).scalar()
            if placed_at is None:  # the client retried: answer from the stored order
                stored = session.execute(
                    select(order.c.status, order.c.total_cents, order.c.request_sha256).where(
                        order.c.order_id == body.order_id
                    )
                ).one()
                if stored.request_sha256 is not None and stored.request_sha256 != digest:
                    return JSONResponse(
                        {
                            "error": f"order {body.order_id} was placed with another body: a "
                            "retry sends the same one; a new order needs a new id or key"
                        },
                        status_code=422,
                    )
                return _order_response(body.order_id, stored.status, stored.total_cents, 200)
            session.execute(
                order_line.insert(),
                [{"order_id": body.order_id, **line.model_dump()} for line in body.lines],
            )
            self.outbox.add(
                session,
                OrderPlaced(
                    order_id=body.order_id,
                    customer_id=body.customer_id,
                    placed_at=placed_at,
                    currency=body.currency,
                    total_cents=body.total_cents,
                    lines=body.lines,
                    shipping_address=body.shipping_address,
                ),
                correlation_id=body.order_id,
            )
        return _order_response(body.order_id, "placed", body.total_cents, 201)

    def status(self, request: Request) -> JSONResponse:
        order_id = _order_id(request)
        if order_id is None:
            return _not_found()
        with self.engine.connect() as conn:
            row = conn.execute(select(order).where(order.c.order_id == order_id)).first()
            if row is None:
                return _not_found()
            saga = conn.execute(
                select(
                    instance_table.c.state,
                    instance_table.c.status,
                    instance_table.c.snapshot["failure"].astext,
                ).where(
                    instance_table.c.saga == SAGA, instance_table.c.instance_id == str(order_id)
                )
            ).first()
        return JSONResponse(
            {
                "order_id": str(order_id),
                "status": row.status,
                "total_cents": row.total_cents,
                "currency": row.currency,
                "placed_at": _iso(row.placed_at),
                "settled_at": _iso(row.settled_at),
                "cancel_requested_at": _iso(row.cancel_requested_at),
                "saga": None
                if saga is None
                else {"state": saga[0], "status": saga[1], "failure": saga[2]},
            }
        )

    def cancel(self, request: Request) -> JSONResponse:
        order_id = _order_id(request)
        if order_id is None:
            return _not_found()
        try:
            with Session(self.engine) as session, session.begin():
                known = session.execute(
                    update(order)
                    .where(order.c.order_id == order_id)
                    .values(cancel_requested_at=func.now())
                    .returning(order.c.order_id)
                ).first()
                if known is None:
                    return _not_found()
                send_signal(session, SAGA, str(order_id), "cancel")
        except UnknownInstanceError:
            return JSONResponse(
                {"error": "the order is not being processed yet: try again in a moment"},
                status_code=409,
                headers={"Retry-After": "1"},
            )
        except SignalRefused as exc:
            return JSONResponse({"error": f"too late to cancel: {exc}"}, status_code=409)
        return JSONResponse({"order_id": str(order_id), "cancel": "requested"}, status_code=202)


def _order_id(request: Request) -> UUID | None:
    try:
        return UUID(request.path_params["order_id"])
    except ValueError:
        return None


def _not_found() -> JSONResponse:
    return JSONResponse({"error": "no such order"}, status_code=404)


def _order_response(order_id: UUID, status: str, total_cents: int, code: int) -> JSONResponse:
    return JSONResponse(
        {"order_id": str(order_id), "status": status, "total_cents": total_cents},
        status_code=code,
        headers={"Location": f"/orders/{order_id}"},
    )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def missing_tables(engine: Engine) -> str | None:
    """Why this database cannot be served (its tables are missing), or None."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1 FROM customer_order, order_line, saga_outbox LIMIT 0"))
    except ProgrammingError as exc:
        if "does not exist" not in str(exc):
            raise
        return (
            "the orders tables are missing in this database: run `saga db upgrade` and "
            "`alembic -c services/alembic.ini -n orders upgrade head` with SAGA_DATABASE_URL "
            "naming the orders database"
        )
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the API until SIGTERM or Ctrl-C."""
    import uvicorn

    from saga.stack import resolve_endpoints

    parser = argparse.ArgumentParser(prog="python -m services.orders.api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--topic-prefix", default="", help="prefix of every topic")
    args = parser.parse_args(argv)
    try:
        url = resolve_endpoints(Settings()).database_url
    except SagaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with socket.socket() as probe:
        # As uvicorn binds: a crashed predecessor's connections in TIME_WAIT do not make the
        # port busy (a supervisor restarts the API at once); a listener still does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((args.host, args.port))
        except OSError:
            print(
                f"error: port {args.port} on {args.host} is busy: pass --port with a free one",
                file=sys.stderr,
            )
            return 2
    engine = engine_for(url, pool_size=10, max_overflow=10)
    try:
        problem = missing_tables(engine)
    except OperationalError as exc:
        problem = (
            f"cannot reach PostgreSQL at {redact_url(url)} ({redact_error(exc.orig or exc, url)}): "
            "run `saga stack up` or check SAGA_DATABASE_URL"
        )
    if problem is not None:
        engine.dispose()
        print(f"error: {problem}", file=sys.stderr)
        return 2
    app = OrdersApi(engine, args.topic_prefix).app()
    print(f"orders API listening on http://{args.host}:{args.port}", flush=True)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again to the
    # handler found before it: a no-op here, so that a clean stop exits 0.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    print("orders API stopped", flush=True)
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
