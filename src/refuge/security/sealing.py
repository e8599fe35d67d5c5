"""Sealing: the root key R wrapped by the unseal key U, which exists only as k-of-n shares.

    shares --Shamir--> U --AEAD(U, R, aad="refuge/root/v1|<instance id>")--> R --HKDF--> KEKs, ...

The wrapped root and the share hashes live in the singleton `Seal` row (and, for restores, in a
JSON copy under var/). In sealed mode R is held by `refuge keyd` only; `root_crypto_from_shares`
rebuilds it offline from k shares for `refuge restore`, which must work without keyd.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from nacl import bindings
from nacl.exceptions import CryptoError

from refuge.security import shares as share_format
from refuge.security.crypto import DEK_BYTES, LocalKeyCrypto
from refuge.security.models import Seal

ROOT_AAD_PREFIX = "refuge/root/v1|"
_NONCE_BYTES = bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES


class SealedError(Exception):
    """The keys are not available: the instance is sealed, or keyd is down or unreachable.

    Always fail closed: callers show "sealed", never a partial or stale answer."""


class NotInitialisedError(Exception):
    """No Seal record: `refuge seal init` has not been run on this instance."""


@dataclass(frozen=True)
class SealRecord:
    """The public part of the seal, as stored in the `Seal` row. Safe to copy into backups."""

    instance_id: str
    threshold: int
    shares: int
    wrapped_root: bytes
    share_hashes: dict[int, str]
    intake_public_key: bytes
    created_at: dt.datetime

    @property
    def issued_on(self) -> str:
        return self.created_at.date().isoformat()

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": "refuge-seal:v1",
                "instance_id": self.instance_id,
                "threshold": self.threshold,
                "shares": self.shares,
                "wrapped_root": base64.b64encode(self.wrapped_root).decode("ascii"),
                "share_hashes": {str(k): v for k, v in sorted(self.share_hashes.items())},
                "intake_public_key": base64.b64encode(self.intake_public_key).decode("ascii"),
                "created_at": self.created_at.isoformat(),
            },
            indent=2,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> SealRecord:
        try:
            data: dict[str, Any] = json.loads(text)
            _check_format(data)
            return cls(
                instance_id=str(data["instance_id"]),
                threshold=int(data["threshold"]),
                shares=int(data["shares"]),
                wrapped_root=base64.b64decode(data["wrapped_root"], validate=True),
                share_hashes={int(k): str(v) for k, v in data["share_hashes"].items()},
                intake_public_key=base64.b64decode(data["intake_public_key"], validate=True),
                created_at=dt.datetime.fromisoformat(data["created_at"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise NotInitialisedError(_("the seal record is damaged: %s") % exc) from None

    @classmethod
    def from_model(cls, seal: Seal) -> SealRecord:
        return cls(
            instance_id=seal.instance_id,
            threshold=seal.threshold,
            shares=seal.shares,
            wrapped_root=bytes(seal.wrapped_root),
            share_hashes={int(k): str(v) for k, v in seal.share_hashes.items()},
            intake_public_key=bytes(seal.intake_public_key),
            created_at=seal.created_at,
        )

    def to_model(self) -> Seal:
        return Seal(
            id=1,
            instance_id=self.instance_id,
            threshold=self.threshold,
            shares=self.shares,
            wrapped_root=self.wrapped_root,
            share_hashes={str(k): v for k, v in self.share_hashes.items()},
            intake_public_key=self.intake_public_key,
            created_at=self.created_at,
        )


def _check_format(data: dict[str, Any]) -> None:
    if data.get("format") != "refuge-seal:v1":
        raise ValueError("unknown format")


def seal_record() -> SealRecord | None:
    """The instance's seal, or None before `refuge seal init`."""
    seal = Seal.objects.filter(id=1).first()
    return SealRecord.from_model(seal) if seal is not None else None


def root_aad(instance_id: str) -> bytes:
    return (ROOT_AAD_PREFIX + instance_id).encode("ascii")


def wrap_root(unseal_key: bytes, root: bytes, instance_id: str) -> bytes:
    from nacl.utils import random as random_bytes  # noqa: PLC0415 - only here

    nonce = random_bytes(_NONCE_BYTES)
    return nonce + bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        root, root_aad(instance_id), nonce, unseal_key
    )


def open_root(record: SealRecord, unseal_key: bytes | bytearray) -> bytearray:
    """R from U; a wrong U (wrong combination of shares) is a clear error, never a wrong key."""
    nonce, ct = record.wrapped_root[:_NONCE_BYTES], record.wrapped_root[_NONCE_BYTES:]
    try:
        root = bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            ct, root_aad(record.instance_id), nonce, bytes(unseal_key)
        )
    except (CryptoError, ValueError, TypeError):
        raise share_format.ShareError(
            _("the shares combine to a wrong unseal key: the root key does not authenticate")
        ) from None
    if len(root) != DEK_BYTES:
        raise share_format.ShareError(_("the seal record is damaged (root key length)"))
    return bytearray(root)


def check_share(record: SealRecord, share: share_format.Share) -> None:
    share_format.check_one(
        share,
        instance_id=record.instance_id,
        threshold=record.threshold,
        total=record.shares,
        share_hashes=record.share_hashes,
        issued_on=record.issued_on,
    )


def root_from_shares(record: SealRecord, chosen: Sequence[share_format.Share]) -> bytearray:
    """Check every share by name first, then combine and verify against the wrapped root."""
    share_format.check_against(
        chosen,
        instance_id=record.instance_id,
        threshold=record.threshold,
        total=record.shares,
        share_hashes=record.share_hashes,
        issued_on=record.issued_on,
    )
    if len(chosen) < record.threshold:
        raise share_format.ShareError(
            _("%(have)s of %(need)s shares given: not enough to unseal")
            % {"have": len(chosen), "need": record.threshold}
        )
    unseal_key = bytearray(share_format.combine(chosen))
    try:
        return open_root(record, unseal_key)
    finally:
        wipe(unseal_key)


def root_crypto_from_shares(record: SealRecord, share_texts: Sequence[str]) -> LocalKeyCrypto:
    """Stable entry point for offline recovery (`refuge restore`): R from k plain share texts.

    Passphrase-locked shares must be unlocked first with `refuge.security.shares.read`.
    Raises ShareError, naming the share at fault, before anything is combined."""
    parsed = [share_format.parse(text) for text in share_texts]
    root = root_from_shares(record, parsed)
    try:
        return LocalKeyCrypto(bytes(root))
    finally:
        wipe(root)


def wipe(buffer: bytearray) -> None:
    """Overwrite a key buffer. Best effort: Python may hold other copies (see docs/sealing.md)."""
    for i in range(len(buffer)):
        buffer[i] = 0
