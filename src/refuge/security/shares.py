"""Unseal-key shares: the text format, its checks, Shamir split/combine and passphrase wrapping.

A share reads `refuge-share:v1:<instance id>:<x>:<k>/<n>:<payload base32>:<crc32>`. The CRC is
zlib's CRC-32 (IEEE polynomial) over everything before the last colon, as 8 hex digits: it only
catches typing and copying mistakes; a wrong share of the right shape is caught by the payload
hash kept in the Seal record, and a wrong combination by the root key failing to authenticate.
Every problem is named *before* the shares are combined.

The 32-byte unseal key is split as two independent 16-byte Shamir sharings (pycryptodome works on
16-byte secrets over GF(2^128)) that use the same x index; a share's payload is both halves.

Shares are secrets: they live in memory only as long as needed and never reach a log.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from Crypto.Protocol.SecretSharing import Shamir
from django.utils.translation import gettext as _
from nacl import bindings, pwhash
from nacl.exceptions import CryptoError
from nacl.utils import random as random_bytes

PREFIX = "refuge-share"
LOCKED_PREFIX = "refuge-share-locked"
VERSION = "v1"
HALF_BYTES = 16
UNSEAL_KEY_BYTES = 2 * HALF_BYTES
MIN_THRESHOLD = 2
MAX_SHARES = 255
_SHARE_RE = re.compile(
    r"^refuge-share:v1:(?P<instance>[0-9a-f]{8}):(?P<x>\d{1,3}):(?P<k>\d{1,3})/(?P<n>\d{1,3}):"
    r"(?P<payload>[A-Z2-7]+):(?P<crc>[0-9a-f]{8})$"
)
_LOCKED_RE = re.compile(
    r"^refuge-share-locked:v1:(?P<instance>[0-9a-f]{8}):(?P<x>\d{1,3}):(?P<k>\d{1,3})/(?P<n>\d{1,3}):"
    r"argon2id,(?P<ops>\d{1,3}),(?P<mem>\d{1,11}):(?P<blob>[A-Za-z0-9+/=]+)$"
)
# Argon2id at libsodium's "moderate" level: about a second and 256 MiB on a laptop, once per unseal.
PASSPHRASE_OPSLIMIT = pwhash.argon2id.OPSLIMIT_MODERATE
PASSPHRASE_MEMLIMIT = pwhash.argon2id.MEMLIMIT_MODERATE
_SALT_BYTES = pwhash.argon2id.SALTBYTES
_NONCE_BYTES = bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES


class ShareError(Exception):
    """A share, or a set of shares, is unusable; the message says which and why."""


@dataclass(frozen=True)
class Share:
    instance_id: str
    index: int
    threshold: int
    total: int
    payload: bytes

    def text(self) -> str:
        body = (
            f"{PREFIX}:{VERSION}:{self.instance_id}:{self.index}:{self.threshold}/{self.total}:"
            f"{base64.b32encode(self.payload).decode('ascii').rstrip('=')}"
        )
        return f"{body}:{_crc(body)}"

    def payload_hash(self) -> str:
        return hashlib.sha256(self.payload).hexdigest()

    def __repr__(self) -> str:
        # Never the payload: a repr ends up in tracebacks and logs.
        return f"Share(#{self.index} of {self.threshold}/{self.total}, {self.instance_id})"


def _crc(body: str) -> str:
    return f"{zlib.crc32(body.encode('ascii')) & 0xFFFFFFFF:08x}"


def _normalise(text: str) -> str:
    """Holders type shares from paper: ignore whitespace and line breaks."""
    return "".join(text.split())


def is_locked(text: str) -> bool:
    return _normalise(text).startswith(LOCKED_PREFIX + ":")


def parse(text: str) -> Share:
    """Parse one share; a wrong shape or checksum is named, never combined."""
    cleaned = _normalise(text)
    if cleaned.startswith(LOCKED_PREFIX + ":"):
        raise ShareError(_("this share is protected by a passphrase; unlock it first"))
    if not cleaned.startswith(PREFIX + ":"):
        raise ShareError(_("this is not a Refuge share (it must start with “refuge-share:”)"))
    if not cleaned.startswith(f"{PREFIX}:{VERSION}:"):
        raise ShareError(_("this share has an unknown format version"))
    if not cleaned.isascii():  # a share is ASCII; the checksum below could not even be computed
        raise ShareError(_("share looks mistyped (it has a character no share contains)"))
    body, _sep, crc = cleaned.rpartition(":")
    if not re.fullmatch(r"[0-9a-fA-F]{8}", crc) or _crc(body) != crc.lower():
        raise ShareError(_("share looks mistyped (checksum)"))
    match = _SHARE_RE.match(cleaned)
    if match is None:
        raise ShareError(_("share looks mistyped (its fields are malformed)"))
    index, threshold, total = int(match["x"]), int(match["k"]), int(match["n"])
    _check_numbers(index, threshold, total)
    payload_text = match["payload"]
    try:
        payload = base64.b32decode(payload_text + "=" * (-len(payload_text) % 8))
    except (binascii.Error, ValueError):
        raise ShareError(_("share looks mistyped (its payload is not base32)")) from None
    if len(payload) != UNSEAL_KEY_BYTES:
        raise ShareError(_("share looks mistyped (its payload has the wrong length)"))
    return Share(match["instance"], index, threshold, total, payload)


def _check_numbers(index: int, threshold: int, total: int) -> None:
    if not MIN_THRESHOLD <= threshold <= total <= MAX_SHARES:
        raise ShareError(_("share has an impossible threshold %(k)s/%(n)s") % _kn(threshold, total))
    if not 1 <= index <= total:
        raise ShareError(
            _("share index #%(index)s is out of range 1..%(n)s") % {"index": index, "n": total}
        )


def _kn(threshold: int, total: int) -> dict[str, int]:
    return {"k": threshold, "n": total}


def split(unseal_key: bytes, *, threshold: int, total: int, instance_id: str) -> list[Share]:
    if len(unseal_key) != UNSEAL_KEY_BYTES:
        raise ValueError("the unseal key must be 32 bytes")
    check_threshold(threshold, total, accept_total_loss=True)
    first = Shamir.split(threshold, total, unseal_key[:HALF_BYTES])
    second = Shamir.split(threshold, total, unseal_key[HALF_BYTES:])
    return [
        Share(instance_id, x1, threshold, total, a + b)
        for (x1, a), (x2, b) in zip(first, second, strict=True)
        if x1 == x2
    ]


def check_threshold(threshold: int, total: int, *, accept_total_loss: bool) -> None:
    """The guards of `seal init`: each refusal says what to change."""
    if threshold < MIN_THRESHOLD:
        raise ShareError(_("the threshold must be at least 2: one person alone must not unseal"))
    if total > MAX_SHARES:
        raise ShareError(_("at most 255 shares can be issued"))
    if threshold > total:
        raise ShareError(_("the threshold cannot exceed the number of shares"))
    if threshold == total and not accept_total_loss:
        raise ShareError(
            _(
                "with the threshold equal to the number of shares, losing one share loses every "
                "record for good; issue more shares, or pass "
                "--i-accept-total-loss-if-one-share-is-lost"
            )
        )


def check_against(
    shares: Sequence[Share],
    *,
    instance_id: str,
    threshold: int,
    total: int,
    share_hashes: dict[int, str],
    issued_on: str,
) -> None:
    """Check each share against the Seal record; the first problem is named, by share."""
    seen: set[int] = set()
    for share in shares:
        check_one(
            share,
            instance_id=instance_id,
            threshold=threshold,
            total=total,
            share_hashes=share_hashes,
            issued_on=issued_on,
        )
        if share.index in seen:
            raise ShareError(_("share #%(index)s was given twice") % {"index": share.index})
        seen.add(share.index)


def check_one(
    share: Share,
    *,
    instance_id: str,
    threshold: int,
    total: int,
    share_hashes: dict[int, str],
    issued_on: str,
) -> None:
    if share.instance_id != instance_id:
        raise ShareError(
            _("share belongs to instance %(theirs)s, not %(ours)s")
            % {"theirs": share.instance_id, "ours": instance_id}
        )
    if (share.threshold, share.total) != (threshold, total):
        raise ShareError(
            _("share says %(theirs)s but this instance was sealed %(ours)s")
            % {
                "theirs": f"{share.threshold}/{share.total}",
                "ours": f"{threshold}/{total}",
            }
        )
    expected = share_hashes.get(share.index)
    if expected is None:
        raise ShareError(
            _("share index #%(index)s is out of range 1..%(n)s")
            % {"index": share.index, "n": total}
        )
    if not _equal(share.payload_hash(), expected):
        raise ShareError(
            _("share #%(index)s does not match the one issued on %(date)s")
            % {"index": share.index, "date": issued_on}
        )


def _equal(a: str, b: str) -> bool:
    import hmac  # noqa: PLC0415 - only here

    return hmac.compare_digest(a.encode(), b.encode())


def combine(shares: Iterable[Share]) -> bytes:
    """Combine already checked shares into the unseal key (a bytearray the caller should wipe)."""
    chosen = list(shares)
    if not chosen or len(chosen) < chosen[0].threshold:
        raise ShareError(_("not enough shares to unseal"))
    chosen = chosen[: chosen[0].threshold]
    first = Shamir.combine([(s.index, s.payload[:HALF_BYTES]) for s in chosen])
    second = Shamir.combine([(s.index, s.payload[HALF_BYTES:]) for s in chosen])
    return first + second


def lock(share: Share, passphrase: str) -> str:
    """Wrap a share with its holder's passphrase; the header stays readable."""
    if not passphrase:
        raise ShareError(_("the passphrase is empty"))
    header = (
        f"{LOCKED_PREFIX}:{VERSION}:{share.instance_id}:{share.index}:"
        f"{share.threshold}/{share.total}:argon2id,{PASSPHRASE_OPSLIMIT},{PASSPHRASE_MEMLIMIT}"
    )
    salt = random_bytes(_SALT_BYTES)
    key = _passphrase_key(passphrase, salt, PASSPHRASE_OPSLIMIT, PASSPHRASE_MEMLIMIT)
    nonce = random_bytes(_NONCE_BYTES)
    ct = bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        share.text().encode("ascii"), header.encode("ascii"), nonce, key
    )
    return f"{header}:{base64.b64encode(salt + nonce + ct).decode('ascii')}"


def unlock(text: str, passphrase: str) -> Share:
    cleaned = _normalise(text)
    match = _LOCKED_RE.match(cleaned)
    if match is None:
        raise ShareError(_("this passphrase-protected share is damaged (malformed header)"))
    ops, mem = int(match["ops"]), int(match["mem"])
    if not (1 <= ops <= pwhash.argon2id.OPSLIMIT_SENSITIVE and mem <= (1 << 31)):
        raise ShareError(_("this passphrase-protected share is damaged (bad parameters)"))
    try:
        blob = base64.b64decode(match["blob"], validate=True)
    except (binascii.Error, ValueError):
        raise ShareError(_("this passphrase-protected share is damaged (not base64)")) from None
    salt, nonce, ct = (
        blob[:_SALT_BYTES],
        blob[_SALT_BYTES : _SALT_BYTES + _NONCE_BYTES],
        blob[_SALT_BYTES + _NONCE_BYTES :],
    )
    header = cleaned.rpartition(":")[0]
    key = _passphrase_key(passphrase, salt, ops, mem)
    try:
        plain = bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            ct, header.encode("ascii"), nonce, key
        )
    except (CryptoError, ValueError, TypeError):
        raise ShareError(_("wrong passphrase, or the share file is damaged")) from None
    return parse(plain.decode("ascii"))


def _passphrase_key(passphrase: str, salt: bytes, ops: int, mem: int) -> bytes:
    if len(salt) != _SALT_BYTES:
        raise ShareError(_("this passphrase-protected share is damaged (truncated)"))
    return pwhash.argon2id.kdf(32, passphrase.encode("utf-8"), salt, opslimit=ops, memlimit=mem)


def read(text: str, passphrase: str | None = None) -> Share:
    """A share from a file or a form: plain, or locked with `passphrase`."""
    if is_locked(text):
        if passphrase is None:
            raise ShareError(_("this share is protected by a passphrase; enter it"))
        return unlock(text, passphrase)
    return parse(text)
