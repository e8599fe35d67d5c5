"""`refuge evidence verify`: re-decrypts and re-hashes stored files; exit 1 on any mismatch."""

from __future__ import annotations

import uuid

import pytest
from django.core.management import CommandError, call_command

from refuge.security.models import AuditEntry
from tests.evidence.conftest import bin_of, ingest

pytestmark = pytest.mark.django_db


def test_verify_all_passes_on_intact_files(cast, capsys):
    ingest(cast, b"one")
    ingest(cast, b"two")
    call_command("evidence", "verify", "--all")
    assert "2 checked, 0 failed" in capsys.readouterr().out


def test_verify_records_the_check_in_the_custody_log(cast):
    evidence = ingest(cast)
    call_command("evidence", "verify", str(evidence.pk))
    assert AuditEntry.objects.filter(
        action="refuge.evidence.custody.verified", object_id=str(evidence.pk)
    ).exists()


def test_verify_exits_1_and_names_a_tampered_file(cast, evidence_dir, capsys):
    intact = ingest(cast, b"intact")
    tampered = ingest(cast, b"tampered")
    path = bin_of(tampered, evidence_dir)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(SystemExit) as exit_info:
        call_command("evidence", "verify", "--all")
    captured = capsys.readouterr()
    assert exit_info.value.code == 1
    assert f"MISMATCH {tampered.pk}: does_not_decrypt" in captured.err
    assert f"ok {intact.pk}" in captured.out


def test_verify_reports_a_recorded_hash_that_was_changed(cast, capsys):
    from refuge.evidence.models import EvidenceFile

    evidence = ingest(cast, b"contents")
    EvidenceFile.objects.filter(pk=evidence.pk).update(sha256="0" * 64)
    with pytest.raises(SystemExit):
        call_command("evidence", "verify", str(evidence.pk))
    assert "hash_mismatch" in capsys.readouterr().err


def test_verify_of_an_unknown_id_is_a_clear_error(db):
    with pytest.raises(CommandError, match="no evidence file"):
        call_command("evidence", "verify", str(uuid.uuid4()))


def test_verify_of_a_malformed_id_is_a_clear_error(db):
    with pytest.raises(CommandError, match="is not an evidence id"):
        call_command("evidence", "verify", "../../etc/passwd")


def test_clean_reports_what_it_removed(db, capsys):
    call_command("evidence", "clean")
    assert "removed 0 abandoned upload files and 0 stored files" in capsys.readouterr().out
