"""Check-in PINs are stored as keyed hashes. The key lives in its own file outside the database
(REFUGE_PIN_KEY_FILE), apart from the master key, so that check-ins keep working when the
master key is sealed away, and a stolen database alone does not let anyone try all 10,000 PINs.

Verification always computes both hashes (normal and duress) in the same order and compares in
constant time, so a duress PIN takes exactly the code path of a normal one.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import stat
from enum import Enum
from functools import cache
from pathlib import Path

from django.conf import settings
from nacl.encoding import RawEncoder
from nacl.hash import blake2b
from nacl.utils import random as random_bytes

PIN_RE = re.compile(r"^[0-9]{4,8}$")
_HEADER = "refuge-pin-key:v1:"
_KEY_BYTES = 32


class PinKeyError(Exception):
    """The PIN key file is unreadable, malformed or too open."""


class PinMatch(Enum):
    NONE = "none"
    NORMAL = "normal"
    DURESS = "duress"


def _load_or_create(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = _HEADER + base64.b64encode(random_bytes(_KEY_BYTES)).decode("ascii") + "\n"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data.encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise PinKeyError(f"PIN key file {path} is readable by others; run: chmod 600 {path}")
    text = path.read_text(encoding="ascii").strip()
    if not text.startswith(_HEADER):
        raise PinKeyError(f"PIN key file {path} is not a Refuge PIN key file.")
    try:
        key = base64.b64decode(text[len(_HEADER) :], validate=True)
    except (binascii.Error, ValueError):
        raise PinKeyError(f"PIN key file {path} is corrupted.") from None
    if len(key) != _KEY_BYTES:
        raise PinKeyError(f"PIN key file {path} is corrupted (wrong key length).")
    return key


@cache
def _key() -> bytes:
    return _load_or_create(settings.PIN_KEY_FILE)


def pin_hash(schedule_id: str, pin: str) -> str:
    """Keyed BLAKE2b of the PIN, bound to its schedule (the same PIN on two schedules differs)."""
    message = f"refuge/pin/v1|{schedule_id}|{pin}".encode()
    digest = blake2b(message, key=_key(), digest_size=32, encoder=RawEncoder)
    return "v1$" + digest.hex()


def match(schedule_id: str, pin: str, *, normal_hash: str, duress_hash: str) -> PinMatch:
    """Which stored PIN `pin` is. Both hashes are always computed and compared."""
    candidate = pin_hash(schedule_id, pin) if PIN_RE.match(pin) else pin_hash(schedule_id, "-")
    is_normal = hmac.compare_digest(candidate, normal_hash or "v1$")
    is_duress = hmac.compare_digest(candidate, duress_hash or "v1$")
    if is_duress:
        return PinMatch.DURESS
    if is_normal:
        return PinMatch.NORMAL
    return PinMatch.NONE


class SenderError(ValueError):
    """A sender address (phone number, chat id) that cannot be normalised."""


SENDER_SMS = "sms"
SENDER_TELEGRAM = "telegram"
_PHONE_PUNCTUATION = re.compile(r"[\s().\-/]")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_CHAT_ID = re.compile(r"^-?[0-9]{1,20}$")
_RU_TRUNK_DIGITS = 11


def normalise_sender(kind: str, value: str) -> str:
    """The canonical form of a sender: E.164 for SMS (`+79001234567`; a leading 00 becomes +,
    and a Russian 11-digit number with trunk prefix 8 becomes +7), the decimal id for Telegram."""
    text = value.strip()
    if kind == SENDER_SMS:
        number = _PHONE_PUNCTUATION.sub("", text)
        if number.startswith("00"):
            number = "+" + number[2:]
        elif number.isdigit() and len(number) == _RU_TRUNK_DIGITS and number[0] in "78":
            number = "+7" + number[1:]
        if not _E164.match(number):
            raise SenderError("not a phone number in international format")
        return number
    if kind == SENDER_TELEGRAM:
        if not _CHAT_ID.match(text):
            raise SenderError("not a Telegram chat id")
        return str(int(text))
    raise SenderError(f"unknown sender kind {kind!r}")


def sender_hash(kind: str, value: str) -> str:
    """Keyed BLAKE2b of the normalised sender under the PIN key: the bindings table lists no
    phone number or account, and a stolen database alone cannot be searched for one."""
    message = f"refuge/sender/v1|{kind}|{normalise_sender(kind, value)}".encode()
    digest = blake2b(message, key=_key(), digest_size=32, encoder=RawEncoder)
    return "v1$" + digest.hex()


def inbound_message_hash(source: str, message_id: str) -> str:
    """Keyed BLAKE2b of a gateway's or bot's message id under the PIN key. A replayed message
    is refused by its id, but the id itself can name the sender (a Telegram message is known by
    its chat, `chat_id:message_id`), so the table keeps only this hash, as the bindings do."""
    message = f"refuge/inbound/v1|{source}|{message_id}".encode()
    digest = blake2b(message, key=_key(), digest_size=32, encoder=RawEncoder)
    return "v1$" + digest.hex()


def source_hash(address_block: str, window: str) -> str:
    """Keyed BLAKE2b of a client address (or its IPv6 /64) for one rate-limit window. The key is
    derived from the PIN key and the window, so the hashes of two windows cannot be linked to
    each other, and once a window's rows are deleted nothing ties them to an address."""
    window_key = blake2b(
        f"refuge/source-window/v1|{window}".encode(),
        key=_key(),
        digest_size=32,
        encoder=RawEncoder,
    )
    return blake2b(address_block.encode(), key=window_key, digest_size=32, encoder=RawEncoder).hex()
