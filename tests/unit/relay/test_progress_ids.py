"""The relay's progress records round-trip the outbox's identity and any ascending id list;
a record of another format or a corrupt one is one line naming the fix."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from saga.errors import TransportError
from saga.postgres.tables import OUTBOX_LANES, lane_of
from saga.relay._progress import Progress, decode_progress, encode_progress

ids = st.lists(st.integers(min_value=1, max_value=2**62), max_size=3000, unique=True).map(sorted)


@given(st.uuids(), ids)
def test_identity_and_ids_round_trip(outbox: uuid.UUID, values: list[int]) -> None:
    assert decode_progress(encode_progress(outbox, values)) == Progress(outbox, values)


def test_a_record_from_before_identities_names_no_outbox() -> None:
    legacy = encode_progress(uuid.uuid4(), [3, 5, 9])
    # Format 1 was the ids alone: the same compressed deltas without the identity.
    assert decode_progress(b"\x01" + legacy[17:]) == Progress(None, [3, 5, 9])


def test_a_foreign_record_is_refused_with_a_fix() -> None:
    with pytest.raises(TransportError, match="own name"):
        decode_progress(b"{json}")


@pytest.mark.parametrize("value", [b"\x02", b"\x02" + bytes(16) + b"not zlib", b"\x01\xff"])
def test_a_corrupt_record_is_one_line(value: bytes) -> None:
    with pytest.raises(TransportError, match="corrupt progress record") as raised:
        decode_progress(value)
    assert "\n" not in str(raised.value)


@given(st.binary(max_size=64))
def test_every_key_has_one_stable_lane(key: bytes) -> None:
    assert 0 <= lane_of(key) < OUTBOX_LANES
    assert lane_of(key) == lane_of(bytes(key))
