"""The relay's progress records round-trip any ascending id list."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from saga.errors import TransportError
from saga.postgres.tables import OUTBOX_LANES, lane_of
from saga.relay._progress import decode_ids, encode_ids

ids = st.lists(st.integers(min_value=1, max_value=2**62), max_size=3000, unique=True).map(sorted)


@given(ids)
def test_ids_round_trip(values: list[int]) -> None:
    assert decode_ids(encode_ids(values)) == values


def test_a_foreign_record_is_refused_with_a_fix() -> None:
    with pytest.raises(TransportError, match="own name"):
        decode_ids(b"{json}")


@given(st.binary(max_size=64))
def test_every_key_has_one_stable_lane(key: bytes) -> None:
    assert 0 <= lane_of(key) < OUTBOX_LANES
    assert lane_of(key) == lane_of(bytes(key))
