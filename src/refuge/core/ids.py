"""Human-friendly random codes (e.g. case codes K-7F3Q) that reveal nothing about counts, and
time-ordered row ids for tables written on hot paths."""

from __future__ import annotations

import secrets
import time
import uuid

# Crockford-style alphabet without look-alikes (0/O, 1/I/L, U) so codes survive being read aloud.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def random_code(prefix: str, length: int = 4) -> str:
    return prefix + "-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


_VERSION_7 = 0x7 << 76
_VARIANT_RFC = 0x2 << 62
_RANDOM_BITS = 80


def time_ordered_uuid() -> uuid.UUID:
    """A UUID version 7 (RFC 9562): Unix time in milliseconds (48 bits), then 74 random bits.

    For rows whose id may tell when the row was made because the row says so anyway (a data
    key's created_at): ids made one after another sort one after another, so new rows land at
    the end of the table's indexes (and of every index on a column that points at them)
    instead of on a random page of each, which is what a new record's commit writes out."""
    milliseconds = time.time_ns() // 1_000_000
    value = (milliseconds & ((1 << 48) - 1)) << _RANDOM_BITS | secrets.randbits(_RANDOM_BITS)
    value = (value & ~(0xF << 76)) | _VERSION_7
    value = (value & ~(0x3 << 62)) | _VARIANT_RFC
    return uuid.UUID(int=value)
