"""The sample domain of the contract suite, the unit tests and the worker's process tests: an
order saga, a trip saga and the services that answer them, with inline Avro contracts.

``OrderSaga`` reserves stock and authorises the payment at once, ships (the pivot), then
captures the payment (retriable). ``TripSaga`` books three things one after another, so that
a failure at each step shows the reverse compensation order. ``Shop`` holds the services'
state, so that tests can check that each effect happened exactly once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from saga.contracts.events import Event
from saga.definition.declarations import COMPENSATE, Signal, Start, State, Step, transition
from saga.definition.participant import Participant
from saga.definition.saga import Saga
from tests.sagas import avro

# -- order events --------------------------------------------------------------------------

_N = "test.shop."


class OrderPlaced(
    Event,
    schema=avro(
        _N + "OrderPlaced", order_id="string", sku="string", quantity="int", amount_cents="long"
    ),
):
    order_id: str
    sku: str
    quantity: int
    amount_cents: int


class ReserveStock(
    Event,
    schema=avro(_N + "ReserveStock", order_id="string", sku="string", quantity="int"),
):
    order_id: str
    sku: str
    quantity: int


class StockReserved(
    Event,
    schema=avro(_N + "StockReserved", order_id="string", reservation_id="string"),
):
    order_id: str
    reservation_id: str


class OutOfStock(Event, schema=avro(_N + "OutOfStock", order_id="string", sku="string")):
    order_id: str
    sku: str


class ReleaseStock(
    Event,
    schema=avro(_N + "ReleaseStock", order_id="string", reservation_id="string"),
):
    order_id: str
    reservation_id: str


class AuthorizePayment(
    Event,
    schema=avro(_N + "AuthorizePayment", order_id="string", amount_cents="long"),
):
    order_id: str
    amount_cents: int


class PaymentAuthorized(
    Event,
    schema=avro(_N + "PaymentAuthorized", order_id="string", authorization_id="string"),
):
    order_id: str
    authorization_id: str


class PaymentDeclined(
    Event,
    schema=avro(_N + "PaymentDeclined", order_id="string", reason="string"),
):
    order_id: str
    reason: str


class VoidPayment(
    Event,
    schema=avro(_N + "VoidPayment", order_id="string", authorization_id="string"),
):
    order_id: str
    authorization_id: str


class ShipOrder(
    Event,
    schema=avro(_N + "ShipOrder", order_id="string", sku="string", quantity="int"),
):
    order_id: str
    sku: str
    quantity: int


class OrderShipped(
    Event,
    schema=avro(_N + "OrderShipped", order_id="string", tracking="string"),
):
    order_id: str
    tracking: str


class ShipmentRefused(
    Event,
    schema=avro(_N + "ShipmentRefused", order_id="string", reason="string"),
):
    order_id: str
    reason: str


class ShipmentDelayed(
    Event,
    schema=avro(_N + "ShipmentDelayed", order_id="string", days="int"),
):
    order_id: str
    days: int


class NotifyCustomer(
    Event,
    schema=avro(_N + "NotifyCustomer", order_id="string", text="string"),
):
    order_id: str
    text: str


class CapturePayment(
    Event,
    schema=avro(_N + "CapturePayment", order_id="string", authorization_id="string"),
):
    order_id: str
    authorization_id: str


class PaymentCaptured(Event, schema=avro(_N + "PaymentCaptured", order_id="string")):
    order_id: str


class CaptureFailed(Event, schema=avro(_N + "CaptureFailed", order_id="string")):
    order_id: str


# -- the order saga ------------------------------------------------------------------------


class Order(BaseModel):
    order_id: str
    sku: str
    quantity: int
    amount_cents: int
    reservation_id: str | None = None
    authorization_id: str | None = None
    tracking: str | None = None
    delays: int = 0


class OrderSaga(Saga[Order], name="test.OrderSaga", correlation="order_id"):
    """Reserve stock and authorise payment at once, ship, capture; undo on failure."""

    reserve_stock = Step(
        ReserveStock, success=StockReserved, failure=OutOfStock, compensation=ReleaseStock
    )
    authorize_payment = Step(
        AuthorizePayment,
        success=PaymentAuthorized,
        failure=PaymentDeclined,
        compensation=VoidPayment,
    )
    ship = Step(ShipOrder, success=OrderShipped, failure=ShipmentRefused, kind="pivot")
    capture = Step(
        CapturePayment, success=PaymentCaptured, failure=CaptureFailed, kind="retriable", attempts=3
    )
    cancel = Signal("a customer-service agent cancels the order")

    start = Start(OrderPlaced, to="checking_out")
    checking_out = State(
        run=(reserve_stock, authorize_payment), then="shipping", timeout=timedelta(minutes=15)
    )
    shipping = State(run=ship, then="capturing")
    capturing = State(run=capture, then="completed")
    completed = State(final="completed")

    cancelled_by_agent = transition(checking_out, on=cancel, to=COMPENSATE)

    @transition(shipping, on=ShipmentDelayed, to=shipping, guard=lambda order, e: e.days > 2)
    def tell_customer(order: Order, event: ShipmentDelayed) -> NotifyCustomer:
        order.delays += 1
        return NotifyCustomer(order_id=order.order_id, text=f"delayed by {event.days} days")


# -- the trip saga: three sequential compensatable steps ------------------------------------


def _trip_event(name: str) -> type[Event]:
    """Trip events all carry just the trip id; declaring thirteen by hand would hide the saga."""
    namespace = {"__annotations__": {"trip_id": str}, "__module__": __name__}
    return type(name, (Event,), namespace, schema=avro(_N + name, trip_id="string"))


TripBooked = _trip_event("TripBooked")
BookHotel, HotelBooked, HotelFull, CancelHotel = map(
    _trip_event, ("BookHotel", "HotelBooked", "HotelFull", "CancelHotel")
)
BookFlight, FlightBooked, FlightFull, CancelFlight = map(
    _trip_event, ("BookFlight", "FlightBooked", "FlightFull", "CancelFlight")
)
BookCar, CarBooked, NoCar, CancelCar = map(
    _trip_event, ("BookCar", "CarBooked", "NoCar", "CancelCar")
)


class Trip(BaseModel):
    trip_id: str


class TripSaga(Saga[Trip], name="test.TripSaga", correlation="trip_id", orphans="ignore"):
    hotel = Step(BookHotel, success=HotelBooked, failure=HotelFull, compensation=CancelHotel)
    flight = Step(BookFlight, success=FlightBooked, failure=FlightFull, compensation=CancelFlight)
    car = Step(BookCar, success=CarBooked, failure=NoCar, compensation=CancelCar)

    start = Start(TripBooked, to="booking_hotel")
    booking_hotel = State(run=hotel, then="booking_flight")
    booking_flight = State(run=flight, then="booking_car")
    booking_car = State(run=car, then="booked")
    booked = State(final="completed")


# -- the services -------------------------------------------------------------------------


@dataclass
class Shop:
    """The participants' own state: what a real service keeps in its database."""

    stock: dict[str, int] = field(default_factory=lambda: {"book": 10})
    card_limit_cents: int = 10_000
    refuse_shipping: bool = False
    capture_failures: int = 0
    effects: Counter[str] = field(default_factory=Counter)
    reservations: dict[str, int] = field(default_factory=dict)
    calls: list[tuple[str, int]] = field(default_factory=list)
    """Each call of a batch handler: its name and how many requests it got."""

    def participants(self) -> list[Participant]:
        inventory = Participant("inventory")
        payments = Participant("payments")
        shipping = Participant("shipping")

        @inventory.handler
        def reserve(request: ReserveStock) -> StockReserved | OutOfStock:
            if self.stock.get(request.sku, 0) < request.quantity:
                return OutOfStock(order_id=request.order_id, sku=request.sku)
            self.stock[request.sku] -= request.quantity
            self.reservations[request.order_id] = request.quantity
            self.effects["reserve"] += 1
            return StockReserved(order_id=request.order_id, reservation_id=f"r-{request.order_id}")

        @reserve.compensation
        def release(request: ReleaseStock) -> None:
            quantity = self.reservations.pop(request.order_id)
            self.stock["book"] += quantity
            self.effects["release"] += 1

        @payments.handler
        def authorize(request: AuthorizePayment) -> PaymentAuthorized | PaymentDeclined:
            if request.amount_cents > self.card_limit_cents:
                return PaymentDeclined(order_id=request.order_id, reason="over the limit")
            self.effects["authorize"] += 1
            return PaymentAuthorized(
                order_id=request.order_id, authorization_id=f"a-{request.order_id}"
            )

        @authorize.compensation
        def void(request: VoidPayment) -> None:
            self.effects["void"] += 1

        @payments.handler
        def capture(request: CapturePayment) -> PaymentCaptured | CaptureFailed:
            if self.capture_failures > 0:
                self.capture_failures -= 1
                return CaptureFailed(order_id=request.order_id)
            self.effects["capture"] += 1
            return PaymentCaptured(order_id=request.order_id)

        @shipping.handler
        def ship(request: ShipOrder) -> OrderShipped | ShipmentRefused:
            if self.refuse_shipping:
                return ShipmentRefused(order_id=request.order_id, reason="no courier")
            self.effects["ship"] += 1
            return OrderShipped(order_id=request.order_id, tracking=f"t-{request.order_id}")

        return [inventory, payments, shipping]

    def batch_participants(self) -> list[Participant]:
        """The same services with batch handlers (``void`` stays a single one: a batch
        handler's compensation may take one request at a time)."""
        one = {h.name: h for p in self.participants() for h in p.handlers.values()}
        inventory = Participant("inventory")
        payments = Participant("payments")
        shipping = Participant("shipping")

        def each(name: str, requests: Sequence[Event]) -> list[Any]:
            self.calls.append((name, len(requests)))
            return [one[name](r) for r in requests]

        @inventory.batch_handler
        def reserve(requests: list[ReserveStock]) -> list[StockReserved | OutOfStock]:
            return each("reserve", requests)

        @reserve.batch_compensation
        def release(requests: list[ReleaseStock]) -> None:
            each("release", requests)

        @payments.batch_handler
        def authorize(
            requests: list[AuthorizePayment],
        ) -> list[PaymentAuthorized | PaymentDeclined]:
            return each("authorize", requests)

        authorize.compensation(one["void"].fn)

        @payments.batch_handler
        def capture(requests: list[CapturePayment]) -> list[PaymentCaptured | CaptureFailed]:
            return each("capture", requests)

        @shipping.batch_handler
        def ship(requests: list[ShipOrder]) -> list[OrderShipped | ShipmentRefused]:
            return each("ship", requests)

        return [inventory, payments, shipping]


def placed(order_id: str = "o-1", *, quantity: int = 1, amount_cents: int = 500) -> OrderPlaced:
    return OrderPlaced(order_id=order_id, sku="book", quantity=quantity, amount_cents=amount_cents)
