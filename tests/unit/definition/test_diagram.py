"""Mermaid diagrams, the choreography check, and the CLI functions behind them."""

from __future__ import annotations

import pytest
import typer

from saga.cli._diagram import choreography, diagram
from saga.definition.choreography import check_choreography
from saga.definition.diagram import mermaid
from saga.errors import ConfigError
from tests.sagas.shop import OrderPlaced, OrderSaga, ShipmentDelayed, Shop, TripSaga


def test_the_order_saga_diagram_shows_steps_joins_and_compensation() -> None:
    text = mermaid(OrderSaga)
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "stateDiagram-v2"
    assert "[*] --> checking_out : OrderPlaced" in lines
    assert "state checking_out {" in lines
    assert "--" in lines  # one region per parallel step
    assert "checking_out --> shipping : done" in lines
    assert (
        "checking_out --> rollback : OutOfStock, PaymentDeclined, after 15m, signal cancel" in lines
    )
    assert "shipping --> rollback : ShipmentRefused" in lines
    assert "capturing --> failed : CaptureFailed x3" in lines  # past the pivot: park
    assert "rollback --> compensating : steps still in flight" in lines
    assert "compensating --> failed : no answer in 1h" in lines
    assert (
        "undo, newest first: authorize_payment by VoidPayment, reserve_stock by ReleaseStock"
        in lines
    )
    assert "class compensating,compensated undo" in lines
    assert "shipping --> shipping : ShipmentDelayed [guarded] / NotifyCustomer" in lines


def test_every_move_in_the_definition_is_drawn() -> None:
    text = mermaid(TripSaga)
    for state in ("booking_hotel", "booking_flight", "booking_car"):
        assert f"{state} --> rollback" in text
    assert "booking_car --> booked : done" in text
    assert "booked --> [*]" in text


def test_the_cli_prints_the_diagram(capsys: pytest.CaptureFixture[str]) -> None:
    diagram("tests.sagas.shop:OrderSaga")
    assert capsys.readouterr().out == mermaid(OrderSaga)


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ("tests.sagas.shop", "is not module.path:Name"),
        ("tests.sagas.nowhere:OrderSaga", "cannot import module 'tests.sagas.nowhere'"),
        ("tests.sagas.shop:NoSuchSaga", "has no 'NoSuchSaga'"),
        ("tests.sagas.shop:Shop", "not a Saga class"),
    ],
)
def test_the_cli_names_a_bad_target(target: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        diagram(target)


def test_the_choreography_check_finds_loose_ends() -> None:
    report = check_choreography([OrderSaga], Shop().participants())
    assert set(report.consumed_not_produced) == {
        OrderPlaced.__event_name__,
        ShipmentDelayed.__event_name__,
    }
    assert set(report.produced_not_consumed) == {"test.shop.NotifyCustomer"}
    assert "produced but never consumed: test.shop.NotifyCustomer (produced by saga" in (
        report.render()
    )
    without_services = check_choreography([OrderSaga], [], external=[OrderPlaced, ShipmentDelayed])
    assert "test.shop.StockReserved" in without_services.consumed_not_produced
    assert "test.shop.ReserveStock" in without_services.produced_not_consumed


def test_the_choreography_cli_exits_non_zero_on_loose_ends(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(typer.Exit) as caught:
        choreography(["tests.sagas.shop"], external=["test.shop.OrderPlaced"])
    assert caught.value.exit_code == 1
    out = capsys.readouterr().out
    assert "consumed but never produced: test.shop.ShipmentDelayed" in out
    assert "OrderPlaced" not in out
