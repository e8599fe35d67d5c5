"""Where the archive key comes from, in each key mode.

Backup: a fresh random archive key, wrapped by the current KEK through the configured crypto
(the key file's, or keyd's while unsealed). Restore runs on a machine without keyd and without
the instance's keys, so it rebuilds the root key offline: from the key file in keyfile mode, or
from k shares and the seal record in the archive's header in sealed mode.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from refuge.security import sealing, shares
from refuge.security.backup.archive import KEY_PURPOSE, BackupError, Header
from refuge.security.crypto import Crypto, DecryptionError, KeyContext, LocalKeyCrypto
from refuge.security.keystore import KeyFileError, load_key_file

KEYFILE = "keyfile"
SEALED = "sealed"
_FINGERPRINT_DOMAIN = "backup-instance"


def key_mode() -> str:
    return str(getattr(settings, "KEY_MODE", KEYFILE))


def instance_id(crypto: Crypto, seal: sealing.SealRecord | None) -> str:
    """The seal's instance id; in keyfile mode a fingerprint of the master key (keyed BLAKE2b
    under a derived key: it names the key without revealing anything about it)."""
    if seal is not None:
        return seal.instance_id
    return "key-" + crypto.blind_index(_FINGERPRINT_DOMAIN, "instance", bits=64).hex()


def context(archive_id: str) -> KeyContext:
    return KeyContext(archive_id, KEY_PURPOSE)


@dataclass(frozen=True)
class RestoreKeys:
    """What `refuge restore` was given to open an archive."""

    key_file: Path | None = None
    # (where it came from, e.g. the file name; the share's text)
    shares: Sequence[tuple[str, str]] = ()
    # Asked once per passphrase-protected share, with where it came from.
    passphrase: Callable[[str], str] | None = None


@dataclass(frozen=True)
class OpenedKey:
    archive_key: bytes
    crypto: LocalKeyCrypto
    share_indexes: list[int]


def open_archive_key(header: Header, given: RestoreKeys) -> OpenedKey:
    if header.key_mode == SEALED:
        crypto, indexes = _root_from_shares(header, given)
    else:
        crypto, indexes = _root_from_key_file(header, given), []
    try:
        archive_key = crypto.unwrap_key(header.wrapped_key, context(header.archive_id))
    except DecryptionError:
        raise BackupError(
            _(
                "The archive key does not open: the archive header was altered, or the key does "
                "not belong to this archive."
            )
        ) from None
    return OpenedKey(archive_key, crypto, indexes)


def _root_from_key_file(header: Header, given: RestoreKeys) -> LocalKeyCrypto:
    if given.shares:
        raise BackupError(
            _("This archive comes from an instance with a key file, not shares: pass --key-file.")
        )
    path = given.key_file or settings.KEY_FILE
    try:
        crypto = LocalKeyCrypto(load_key_file(Path(path), create=False))
    except KeyFileError as exc:
        raise BackupError(
            _("This archive needs the master key file of instance %(id)s: %(error)s")
            % {"id": header.instance_id, "error": exc}
        ) from None
    if instance_id(crypto, None) != header.instance_id:
        raise BackupError(
            _("The key file %(path)s is not the one this archive was made with (instance %(id)s).")
            % {"path": path, "id": header.instance_id}
        )
    return crypto


def _root_from_shares(header: Header, given: RestoreKeys) -> tuple[LocalKeyCrypto, list[int]]:
    if header.seal is None:
        raise BackupError(_("The archive header is damaged (sealed, but no seal record)."))
    record = seal_record(header)
    if not given.shares:
        raise BackupError(
            _(
                "This archive comes from a sealed instance: pass %(k)s shares with --share (of "
                "%(n)s issued)."
            )
            % {"k": record.threshold, "n": record.shares}
        )
    texts: list[str] = []
    try:
        texts += [_unlocked(given, origin, text) for origin, text in given.shares]
        indexes = sorted(shares.parse(t).index for t in texts)
        return sealing.root_crypto_from_shares(record, texts), indexes
    except shares.ShareError as exc:
        raise BackupError(
            _("The shares do not open this archive: %(error)s") % {"error": exc}
        ) from None


def _unlocked(given: RestoreKeys, origin: str, text: str) -> str:
    """A share's plain text; a passphrase-protected share asks for its passphrase once."""
    passphrase = None
    if shares.is_locked(text) and given.passphrase is not None:
        passphrase = given.passphrase(origin)
    return shares.read(text, passphrase).text()


def seal_record(header: Header) -> sealing.SealRecord:
    try:
        return sealing.SealRecord.from_json(json.dumps(header.seal))
    except sealing.NotInitialisedError:
        raise BackupError(_("The archive header is damaged (seal record).")) from None
