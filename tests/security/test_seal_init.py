"""`seal init`: the root key (adopted from the key file when data exists), the Seal record, its
copy in var/, the share files, and every refusal; plus the deploy checks of sealed production."""

from __future__ import annotations

import io
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from refuge.security import sealing, services_seal
from refuge.security import shares as share_format
from refuge.security.keystore import load_key_file
from refuge.security.logging import redact
from refuge.security.models import AuditEntry, DataKey, Seal
from tests.conftest import Cast

REFUGE = str(Path(sys.executable).with_name("refuge"))


@pytest.mark.django_db
def test_existing_data_stays_readable_because_the_key_file_becomes_the_root(cast: Cast, settings):
    key = load_key_file(settings.KEY_FILE, create=False)
    result = services_seal.seal_init(threshold=2, total=3)
    assert result.migrated_key_file == settings.KEY_FILE
    crypto = sealing.root_crypto_from_shares(result.record, [s.text() for s in result.shares[:2]])
    wrapped = DataKey.objects.get(pk=cast.falcon.data_key_id)
    context = sealing.LocalKeyCrypto(key)  # the same root, two ways
    from refuge.security.crypto import KeyContext

    key_context = KeyContext(str(wrapped.pk), wrapped.purpose)
    assert crypto.unwrap_key(bytes(wrapped.wrapped), key_context) == context.unwrap_key(
        bytes(wrapped.wrapped), key_context
    )


@pytest.mark.django_db
def test_a_fresh_instance_gets_a_random_root(settings, tmp_path):
    settings.KEY_FILE = tmp_path / "absent.key"
    result = services_seal.seal_init(threshold=3, total=5)
    assert result.migrated_key_file is None
    assert Seal.objects.get().instance_id == result.record.instance_id


@pytest.mark.django_db
def test_data_without_its_key_file_is_refused(cast: Cast, settings, tmp_path):
    settings.KEY_FILE = tmp_path / "lost.key"
    with pytest.raises(services_seal.SealInitError, match=r"key file .* is missing"):
        services_seal.seal_init(threshold=2, total=3)
    assert not Seal.objects.exists()


@pytest.mark.django_db
def test_a_second_init_is_refused(settings, tmp_path):
    settings.KEY_FILE = tmp_path / "absent.key"
    services_seal.seal_init(threshold=2, total=3)
    with pytest.raises(services_seal.SealInitError, match="already sealed"):
        services_seal.seal_init(threshold=2, total=3)


@pytest.mark.django_db
def test_the_record_is_copied_to_var_and_audited_without_secrets(settings, tmp_path):
    settings.KEY_FILE = tmp_path / "absent.key"
    result = services_seal.seal_init(threshold=2, total=3)
    copy = sealing.SealRecord.from_json(services_seal.seal_record_path().read_text())
    assert copy == sealing.seal_record() == result.record
    entry = AuditEntry.objects.get(action="refuge.security.seal.initialised")
    assert all(s.text().split(":")[5] not in entry.detail for s in result.shares)


@pytest.mark.django_db
def test_the_intake_public_key_belongs_to_the_root(settings, tmp_path):
    settings.KEY_FILE = tmp_path / "absent.key"
    result = services_seal.seal_init(threshold=2, total=3)
    crypto = sealing.root_crypto_from_shares(result.record, [s.text() for s in result.shares[1:]])
    assert crypto.intake_public_key() == result.record.intake_public_key


@pytest.mark.django_db
def test_the_command_writes_one_private_file_per_holder(settings, tmp_path):
    settings.KEY_FILE = tmp_path / "absent.key"
    out = io.StringIO()
    call_command(
        "seal",
        "init",
        "--shares",
        "5",
        "--threshold",
        "3",
        "--out",
        str(tmp_path / "s"),
        stdout=out,
    )
    files = sorted((tmp_path / "s").iterdir())
    assert len(files) == 5
    assert {f.stat().st_mode & 0o777 for f in files} == {0o600}
    shares = [share_format.parse(f.read_text()) for f in files]
    assert sealing.root_from_shares(sealing.seal_record(), shares[2:])  # type: ignore[arg-type]
    assert "3 of 5 shares" in out.getvalue()


@pytest.mark.django_db
def test_the_command_says_to_shred_an_adopted_key_file(cast: Cast, settings, tmp_path):
    out = io.StringIO()
    call_command(
        "seal",
        "init",
        "--shares",
        "3",
        "--threshold",
        "2",
        "--out",
        str(tmp_path / "s"),
        stdout=out,
    )
    assert f"shred -u {settings.KEY_FILE}" in out.getvalue()
    assert settings.KEY_FILE.exists()


@pytest.mark.django_db
def test_remove_key_file_deletes_it(cast: Cast, settings, tmp_path):
    key_file = tmp_path / "copy.key"
    key_file.write_bytes(settings.KEY_FILE.read_bytes())
    key_file.chmod(0o600)
    settings.KEY_FILE = key_file
    call_command(
        "seal",
        "init",
        "--shares",
        "3",
        "--threshold",
        "2",
        "--out",
        str(tmp_path / "s"),
        "--remove-key-file",
        stdout=io.StringIO(),
    )
    assert not key_file.exists()


@pytest.mark.django_db
def test_passphrases_from_the_environment_protect_the_files(settings, tmp_path, monkeypatch):
    from nacl import pwhash

    monkeypatch.setattr(share_format, "PASSPHRASE_OPSLIMIT", pwhash.argon2id.OPSLIMIT_MIN)
    monkeypatch.setattr(share_format, "PASSPHRASE_MEMLIMIT", pwhash.argon2id.MEMLIMIT_MIN)
    monkeypatch.setenv("HOLDER_PASS_2", "second holder's words")
    settings.KEY_FILE = tmp_path / "absent.key"
    call_command(
        "seal",
        "init",
        "--shares",
        "3",
        "--threshold",
        "2",
        "--out",
        str(tmp_path / "s"),
        "--passphrase-env",
        "HOLDER_PASS_",
        stdout=io.StringIO(),
    )
    files = sorted((tmp_path / "s").iterdir())
    assert [share_format.is_locked(f.read_text()) for f in files] == [False, True, False]
    assert share_format.read(files[1].read_text(), "second holder's words").index == 2


@pytest.mark.django_db
@pytest.mark.parametrize(("k", "n"), [(1, 3), (4, 3), (3, 3)])
def test_the_command_refuses_bad_thresholds_and_writes_nothing(settings, tmp_path, k, n):
    settings.KEY_FILE = tmp_path / "absent.key"
    with pytest.raises(CommandError):
        call_command(
            "seal", "init", "--shares", str(n), "--threshold", str(k), "--out", str(tmp_path / "s")
        )
    assert not Seal.objects.exists()
    assert not (tmp_path / "s").exists()


@pytest.mark.django_db
def test_the_command_refuses_a_non_empty_directory(settings, tmp_path):
    settings.KEY_FILE = tmp_path / "absent.key"
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "old").write_text("x")
    with pytest.raises(CommandError, match="not empty"):
        call_command(
            "seal", "init", "--shares", "3", "--threshold", "2", "--out", str(tmp_path / "s")
        )
    assert not Seal.objects.exists()


def test_logs_never_carry_a_share():
    share = share_format.split(
        secrets.token_bytes(32), threshold=2, total=3, instance_id="0a0b0c0d"
    )[0]
    line = redact(f"unseal failed for {share.text()} from holder x")
    assert share.text().split(":")[5] not in line
    assert "[redacted share]" in line


def _production_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("REFUGE_") and k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        REFUGE_SECRET_KEY=secrets.token_urlsafe(50),
        REFUGE_VAR_DIR=str(var_dir),
        REFUGE_ALLOWED_HOSTS="refuge.example.org",
        REFUGE_CSRF_TRUSTED_ORIGINS="https://refuge.example.org",
        REFUGE_BEHIND_TLS_PROXY="1",
        **extra,
    )
    return env


def _deploy_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REFUGE, "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_defaults_to_sealed(tmp_path):
    done = subprocess.run(
        [
            REFUGE,
            "shell",
            "-v",
            "0",
            "-c",
            "from django.conf import settings; print(settings.KEY_MODE)",
        ],
        env=_production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == "sealed"


def test_production_with_a_key_file_fails_the_deploy_check(tmp_path):
    done = _deploy_check(_production_env(tmp_path, REFUGE_KEY_MODE="keyfile"))
    assert done.returncode != 0
    assert "refuge.security.E001" in done.stderr


def test_production_with_the_demo_unseal_file_fails_the_deploy_check(tmp_path):
    (tmp_path / "demo-unseal.key").write_text("x")
    done = _deploy_check(_production_env(tmp_path))
    assert done.returncode != 0
    assert "refuge.security.E003" in done.stderr


def test_the_demo_flag_fails_the_deploy_check(tmp_path):
    done = _deploy_check(_production_env(tmp_path, REFUGE_DEMO="1"))
    assert done.returncode != 0
    assert "refuge.security.E002" in done.stderr
