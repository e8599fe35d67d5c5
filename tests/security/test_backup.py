"""Backups in one process: the archive's format, what it refuses, and the keys that open it.

The full round trip (back up one instance, restore into a fresh one, on SQLite and PostgreSQL)
runs in subprocesses in test_backup_roundtrip.py."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest

from refuge.security import sealing, services_seal, shares
from refuge.security.backup import archive, keys, restore, services, tables
from refuge.security.backup.archive import BackupError
from refuge.security.crypto import LocalKeyCrypto
from refuge.security.keyd.client import KeydCrypto
from refuge.security.keystore import load_key_file
from refuge.security.models import AuditEntry
from refuge.security.provider import get_crypto
from tests.security.test_data_at_rest import scan

EVIDENCE_NAME = "0b5c1d2e-3f40-4a51-8b62-7c8d9e0fa1b2.bin"
EVIDENCE_BYTES = b"evidence ciphertext stand-in " * 5000
PIN_KEY_TEXT = "refuge-pin-key:v1:" + "A" * 43 + "=\n"


@pytest.fixture
def instance(cast, settings, tmp_path):
    """The cast, an evidence file and a PIN key file, in a var/ of their own."""
    settings.EVIDENCE_DIR = tmp_path / "evidence"
    settings.EVIDENCE_DIR.mkdir()
    (settings.EVIDENCE_DIR / EVIDENCE_NAME).write_bytes(EVIDENCE_BYTES)
    settings.PIN_KEY_FILE = tmp_path / "pin.key"
    settings.PIN_KEY_FILE.write_text(PIN_KEY_TEXT)
    settings.VAR_DIR = tmp_path
    get_crypto()  # creates the test key file if this is the first test to need it
    return cast


def _backup(tmp_path: Path, name: str = "refuge.backup") -> Path:
    path = tmp_path / name
    services.backup_create(path=path)
    return path


def _verify(path: Path, given: keys.RestoreKeys) -> dict:
    header, raw = restore._header_of(path)
    opened = restore._Opened(header, raw, keys.open_archive_key(header, given))
    manifest, _pin = restore._verify(path, opened)
    return manifest


def _key_file(settings) -> keys.RestoreKeys:
    return keys.RestoreKeys(key_file=Path(settings.KEY_FILE))


def test_archive_is_private_and_starts_with_the_header(instance, tmp_path):
    path = _backup(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(archive.MAGIC)
    assert not (tmp_path / "refuge.backup.part").exists()


def test_backup_refuses_to_overwrite_an_existing_file(instance, tmp_path):
    path = tmp_path / "refuge.backup"
    path.write_bytes(b"keep me")
    with pytest.raises(BackupError, match="exists already"):
        services.backup_create(path=path)
    assert path.read_bytes() == b"keep me"


def test_backup_replaces_an_existing_file_with_force(instance, tmp_path):
    path = tmp_path / "refuge.backup"
    path.write_bytes(b"old")
    services.backup_create(path=path, force=True)
    assert path.read_bytes().startswith(archive.MAGIC)


def test_backup_is_audited(instance, tmp_path):
    result = services.backup_create(path=tmp_path / "a.backup")
    entry = AuditEntry.objects.order_by("-seq").first()
    assert entry.action == "refuge.security.backup.created"
    assert entry.object_id == result.archive_id


def test_archive_holds_every_table_the_evidence_and_the_pin_key(instance, tmp_path, settings):
    manifest = _verify(_backup(tmp_path), _key_file(settings))
    assert f"evidence/{EVIDENCE_NAME}" in manifest["files"]
    assert archive.PIN_KEY in manifest["files"]
    for model in tables.dumped_models(services.migrated_models()):
        assert tables.file_name(model) in manifest["files"]
    assert manifest["tables"]["people.protectedperson"]["count"] == 2


def test_sessions_are_left_out(instance, tmp_path, settings):
    manifest = _verify(_backup(tmp_path), _key_file(settings))
    assert "db/sessions.session.jsonl" not in manifest["files"]


def test_archive_holds_no_scenario_secret_in_plain_text(instance, tmp_path):
    blob = _backup(tmp_path).read_bytes()
    assert scan({"archive": blob}) == []
    assert EVIDENCE_BYTES[:40] not in blob
    assert PIN_KEY_TEXT.encode()[:30] not in blob


@pytest.mark.parametrize("where", ["magic", "header", "stream-header", "middle", "last"])
def test_a_changed_byte_anywhere_is_refused(instance, tmp_path, settings, where):
    path = _backup(tmp_path)
    data = bytearray(path.read_bytes())
    header_end = (
        len(archive.MAGIC) + 4 + int.from_bytes(data[len(archive.MAGIC) : len(archive.MAGIC) + 4])
    )
    offset = {
        "magic": 0,
        "header": header_end - 30,
        "stream-header": header_end + 3,
        "middle": len(data) // 2,
        "last": len(data) - 1,
    }[where]
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(BackupError):
        _verify(path, _key_file(settings))


def test_a_truncated_archive_is_refused(instance, tmp_path, settings):
    path = _backup(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(BackupError, match="altered, truncated or damaged"):
        _verify(path, _key_file(settings))


def test_a_file_that_is_no_archive_is_named(instance, tmp_path, settings):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(BackupError, match="not a Refuge backup archive"):
        _verify(path, _key_file(settings))


def test_another_key_file_is_named(instance, tmp_path):
    path = _backup(tmp_path)
    other = tmp_path / "other.key"
    from refuge.security.keystore import create_key_file

    create_key_file(other)
    with pytest.raises(BackupError, match="not the one this archive was made with"):
        _verify(path, keys.RestoreKeys(key_file=other))


def test_restore_refuses_an_instance_that_holds_data(instance, tmp_path, settings):
    path = _backup(tmp_path)
    before = AuditEntry.objects.count()
    with pytest.raises(BackupError, match="empty instance"):
        restore.backup_restore(path=path, given=_key_file(settings))
    assert AuditEntry.objects.count() == before


def test_reader_refuses_a_name_that_leaves_the_evidence_directory():
    name = b"evidence/../../etc/passwd.bin"
    stream = b"F" + len(name).to_bytes(2) + name + (0).to_bytes(4) + b"Z"
    with pytest.raises(BackupError, match="forbidden name"):
        list(archive.entries([stream]))


def test_values_keep_their_microseconds_and_bytes():
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC)
    assert tables.encode(moment) == "2026-01-02T03:04:05.123456+00:00"
    assert tables.encode(memoryview(b"\x00\xff")) == "AP8="


# --- sealed instances -------------------------------------------------------------------------


class _SealedKeyd:
    """A keyd that answers "sealed" to everything."""

    def call(self, *args, **kwargs):
        raise sealing.SealedError("sealed")


@pytest.fixture
def sealed(instance, settings):
    """Sealed 3 of 5 (the key file's key adopted as root key), keyd unsealed."""
    result = services_seal.seal_init(threshold=3, total=5)
    root = load_key_file(Path(settings.KEY_FILE), create=False)
    settings.KEY_MODE = "sealed"
    return result, LocalKeyCrypto(root)


def _sealed_backup(monkeypatch, tmp_path, crypto) -> Path:
    monkeypatch.setattr(services, "get_crypto", lambda: crypto)
    return _backup(tmp_path)


def _shares(result, *indexes: int) -> keys.RestoreKeys:
    return keys.RestoreKeys(
        shares=[(f"share-{s.index}", s.text()) for s in result.shares if s.index in indexes]
    )


def test_sealed_archive_opens_with_k_shares(sealed, tmp_path, monkeypatch):
    result, crypto = sealed
    path = _sealed_backup(monkeypatch, tmp_path, crypto)
    header, raw = restore._header_of(path)
    assert header.key_mode == "sealed"
    assert header.instance_id == result.record.instance_id
    opened = keys.open_archive_key(header, _shares(result, 1, 3, 5))
    assert opened.share_indexes == [1, 3, 5]
    assert restore._verify(path, restore._Opened(header, raw, opened))[0]["key_mode"] == "sealed"


def test_every_three_of_five_shares_open_it_and_no_two_do(sealed, tmp_path, monkeypatch):
    import itertools

    result, crypto = sealed
    header, _raw = restore._header_of(_sealed_backup(monkeypatch, tmp_path, crypto))
    for chosen in itertools.combinations(range(1, 6), 3):
        assert keys.open_archive_key(header, _shares(result, *chosen)).share_indexes == list(chosen)
    for chosen in itertools.combinations(range(1, 6), 2):
        with pytest.raises(BackupError, match="not enough"):
            keys.open_archive_key(header, _shares(result, *chosen))


def test_a_share_of_another_instance_is_named(sealed, tmp_path, monkeypatch):
    result, crypto = sealed
    header, _raw = restore._header_of(_sealed_backup(monkeypatch, tmp_path, crypto))
    stranger = shares.split(b"\x01" * 32, threshold=3, total=5, instance_id="0badf00d")[0]
    given = keys.RestoreKeys(shares=[*_shares(result, 1, 2).shares, ("stranger", stranger.text())])
    with pytest.raises(BackupError, match="belongs to instance 0badf00d"):
        keys.open_archive_key(header, given)


def test_the_key_file_alone_does_not_open_a_sealed_archive(sealed, tmp_path, monkeypatch, settings):
    _result, crypto = sealed
    header, _raw = restore._header_of(_sealed_backup(monkeypatch, tmp_path, crypto))
    with pytest.raises(BackupError, match="pass 3 shares"):
        keys.open_archive_key(header, _key_file(settings))


def test_a_passphrase_protected_share_asks_for_its_passphrase(sealed, tmp_path, monkeypatch):
    result, crypto = sealed
    header, _raw = restore._header_of(_sealed_backup(monkeypatch, tmp_path, crypto))
    locked = shares.lock(result.shares[0], "correct horse")
    asked = []
    given = keys.RestoreKeys(
        shares=[("holder-1.share", locked), *_shares(result, 2, 3).shares],
        passphrase=lambda origin: asked.append(origin) or "correct horse",
    )
    assert keys.open_archive_key(header, given).share_indexes == [1, 2, 3]
    assert asked == ["holder-1.share"]


def test_a_backup_taken_while_sealed_opens_with_the_shares(sealed, tmp_path, monkeypatch):
    # Sealed, keyd wraps nothing: the archive key is sealed to the intake public key, which only
    # the root key (k shares) opens. Nightly backups keep running after an unattended reboot.
    result, _crypto = sealed
    keyd = KeydCrypto(_SealedKeyd(), lambda: result.record.intake_public_key)
    path = _sealed_backup(monkeypatch, tmp_path, keyd)
    header, raw = restore._header_of(path)
    opened = keys.open_archive_key(header, _shares(result, 2, 4, 5))
    assert restore._verify(path, restore._Opened(header, raw, opened))[0]["files"]


def test_a_backup_without_keys_or_seal_is_refused_clearly(
    instance, tmp_path, monkeypatch, settings
):
    settings.KEY_MODE = "sealed"
    keyd = KeydCrypto(_SealedKeyd(), lambda: None)
    monkeypatch.setattr(services, "get_crypto", lambda: keyd)
    with pytest.raises(BackupError, match="seal init"):
        services.backup_create(path=tmp_path / "x.backup")
    assert not (tmp_path / "x.backup").exists()


def test_a_sealed_archive_is_not_restored_into_a_key_file_instance(
    sealed, tmp_path, monkeypatch, settings
):
    result, crypto = sealed
    path = _sealed_backup(monkeypatch, tmp_path, crypto)
    settings.KEY_MODE = "keyfile"
    with pytest.raises(BackupError, match="REFUGE_KEY_MODE=sealed"):
        restore.backup_restore(path=path, given=_shares(result, 1, 2, 3))


def test_an_evidence_file_with_an_unexpected_name_is_named(instance, tmp_path, settings):
    (settings.EVIDENCE_DIR / "odd name.bin").write_bytes(b"x")
    with pytest.raises(BackupError, match=r"odd name\.bin"):
        services.backup_create(path=tmp_path / "a.backup")
    assert not (tmp_path / "a.backup").exists()
