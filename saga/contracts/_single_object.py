"""Avro single-object encoding: ``C3 01``, the 8-byte CRC-64-AVRO fingerprint, the body.

The registry-less wire format: a reader finds the writer's schema by fingerprint in its
own contract folder.
"""

from __future__ import annotations

from saga.errors import DecodeError

MARKER = b"\xc3\x01"
PREFIX_SIZE = len(MARKER) + 8


def prefix(fingerprint: bytes) -> bytes:
    """The bytes that precede the Avro body for a schema with this fingerprint."""
    if len(fingerprint) != 8:
        raise ValueError(f"a CRC-64-AVRO fingerprint has 8 bytes, not {len(fingerprint)}")
    return MARKER + fingerprint


def is_single_object(value: bytes) -> bool:
    """True when ``value`` starts with the single-object marker."""
    return value[:2] == MARKER


def split_prefix(value: bytes) -> bytes:
    """The prefix (marker + fingerprint) of a single-object payload."""
    if len(value) < PREFIX_SIZE:
        raise DecodeError(
            f"payload of {len(value)} bytes is truncated: an Avro single-object payload "
            f"starts with {PREFIX_SIZE} bytes of marker and fingerprint"
        )
    return value[:PREFIX_SIZE]
