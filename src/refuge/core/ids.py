"""Human-friendly random codes (e.g. case codes K-7F3Q) that reveal nothing about counts."""

from __future__ import annotations

import secrets

# Crockford-style alphabet without look-alikes (0/O, 1/I/L, U) so codes survive being read aloud.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def random_code(prefix: str, length: int = 4) -> str:
    return prefix + "-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))
