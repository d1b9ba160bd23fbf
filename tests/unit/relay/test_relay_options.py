"""Relay options and settings: bad values fail at construction, naming the fix."""

from __future__ import annotations

import pytest

from saga.errors import ConfigError
from saga.relay.relay import Relay


def test_a_relay_on_a_malformed_url_names_the_fix_without_the_password() -> None:
    with pytest.raises(ConfigError) as raised:
        Relay("postgresql://app:s3cr%zz@127.0.0.1:1/db", "127.0.0.1:1")
    assert "s3cr" not in str(raised.value)
    assert "percent-encoded" in str(raised.value)


@pytest.mark.parametrize(
    "options",
    [{"batch_size": 0}, {"lease_seconds": 0}, {"poll_interval": -1}, {"name": "a b"}],
)
def test_bad_relay_options_name_the_fix(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Relay("postgresql://app:pw@127.0.0.1:1/db", "127.0.0.1:1", **options)  # type: ignore[arg-type]


def test_a_delivery_the_relay_does_not_know_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="exactly-once, at-least-once"):
        Relay("postgresql://app:pw@127.0.0.1:1/db", "127.0.0.1:1", delivery="twice")


def test_the_delivery_comes_from_the_settings_unless_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, bootstrap = "postgresql://app:pw@127.0.0.1:1/db", "127.0.0.1:1"
    assert Relay(url, bootstrap).delivery == "exactly-once"
    monkeypatch.setenv("SAGA_RELAY_DELIVERY", "at-least-once")
    assert Relay(url, bootstrap).delivery == "at-least-once"
    assert Relay(url, bootstrap, delivery="exactly-once").delivery == "exactly-once"
    monkeypatch.setenv("SAGA_RELAY_DELIVERY", "sometimes")
    with pytest.raises(ConfigError, match="SAGA_RELAY_DELIVERY"):
        Relay(url, bootstrap)
