"""Intake: streaming, encrypted, hashed, and nothing kept when anything is wrong."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from django.core.files.uploadhandler import (
    MemoryFileUploadHandler,
    TemporaryFileUploadHandler,
)

from refuge.evidence import uploads
from refuge.evidence.models import EvidenceFile, EvidenceKind
from refuge.security.models import AuditEntry, DataKey
from tests.evidence.conftest import (
    MARKER,
    MIB,
    api_upload,
    bearer,
    bin_of,
    payload,
    sha256,
    stored_files,
    web_upload,
)

pytestmark = pytest.mark.django_db

BIG = 3 * MIB + 12_345  # four secretstream chunks, the last one short


def test_web_upload_records_the_sha256_of_the_original(cast, login):
    data = payload(BIG)
    response = web_upload(login(cast.caseworker), cast.case, data)
    evidence = EvidenceFile.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/evidence/{evidence.pk}/"
    assert evidence.sha256 == sha256(data)
    assert evidence.size == BIG


def test_web_upload_round_trips_a_multi_chunk_file(cast, login):
    data = payload(BIG)
    client = login(cast.caseworker)
    web_upload(client, cast.case, data)
    evidence = EvidenceFile.objects.get()
    response = client.get(f"/evidence/{evidence.pk}/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data


def test_api_upload_round_trips_a_multi_chunk_file(cast, login):
    data = payload(BIG)
    client = login(cast.lawyer)
    created = api_upload(client, cast.case, data, sha256=sha256(data))
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["sha256"] == sha256(data)
    assert body["size"] == BIG
    response = client.get(f"/api/v1/evidence/{body['id']}/content")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data


def test_api_upload_with_a_bearer_token(cast, client):
    data = payload(MIB + 1)
    response = api_upload(client, cast.case, data, headers=bearer(cast.lawyer))
    assert response.status_code == 201, response.content
    assert EvidenceFile.objects.get().sha256 == sha256(data)


def test_the_stored_file_holds_no_plaintext_window(cast, login, evidence_dir):
    data = payload(BIG)
    web_upload(login(cast.caseworker), cast.case, data)
    stored = bin_of(EvidenceFile.objects.get(), evidence_dir).read_bytes()
    assert MARKER not in stored
    for offset in range(0, BIG - 32, 65_536):  # any 32-byte window of the original
        assert data[offset : offset + 32] not in stored


def test_the_storage_name_is_not_the_users_file_name(cast, login, evidence_dir):
    web_upload(login(cast.caseworker), cast.case, b"x" * 100, name="Testaev-apology.mp4")
    names = [p.name for p in stored_files(evidence_dir)]
    evidence = EvidenceFile.objects.get()
    assert names == [f"{evidence.storage_name}.bin"]
    assert evidence.original_name == "Testaev-apology.mp4"


def test_the_media_type_comes_from_the_bytes_not_the_name(cast, login):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    web_upload(login(cast.caseworker), cast.case, png, name="looks-like.pdf")
    assert EvidenceFile.objects.get().media_type == "image/png"


def test_intake_is_a_custody_event(cast, login):
    data = payload(1000)
    web_upload(login(cast.caseworker), cast.case, data)
    evidence = EvidenceFile.objects.get()
    entry = AuditEntry.objects.get(action="refuge.evidence.custody.intake")
    assert entry.object_id == str(evidence.pk)
    assert entry.actor_label == "caseworker"
    assert sha256(data) in entry.detail


def test_a_client_hash_mismatch_is_refused_as_transfer_corrupted(cast, login):
    response = web_upload(
        login(cast.caseworker), cast.case, payload(BIG), sha256=sha256(b"something else")
    )
    assert response.status_code == 400
    assert "Transfer corrupted" in response.content.decode()


def test_a_client_hash_mismatch_keeps_nothing(cast, login, evidence_dir):
    keys_before = DataKey.objects.count()
    api_upload(login(cast.caseworker), cast.case, payload(BIG), sha256=sha256(b"other"))
    assert not EvidenceFile.objects.exists()
    assert stored_files(evidence_dir) == []
    assert DataKey.objects.count() == keys_before
    assert not AuditEntry.objects.filter(action__startswith="refuge.evidence.").exists()


def test_the_api_reports_a_hash_mismatch_as_422(cast, login):
    response = api_upload(login(cast.caseworker), cast.case, b"abc", sha256=sha256(b"abd"))
    assert response.status_code == 422
    assert "Transfer corrupted" in response.json()["detail"]


def test_a_malformed_client_hash_is_refused(cast, login, evidence_dir):
    response = api_upload(login(cast.caseworker), cast.case, b"abc", sha256="not-a-hash")
    assert response.status_code == 422
    assert "sha256" in response.json()["errors"]
    assert stored_files(evidence_dir) == []


def test_a_file_above_the_limit_is_refused_with_the_limit(cast, login, settings):
    settings.EVIDENCE_MAX_BYTES = 2 * MIB
    response = web_upload(login(cast.caseworker), cast.case, payload(2 * MIB + 1))
    assert response.status_code == 413
    assert "larger than the limit of 2.0" in response.content.decode()


def test_a_file_above_the_limit_keeps_nothing(cast, login, settings, evidence_dir):
    settings.EVIDENCE_MAX_BYTES = 2 * MIB
    response = api_upload(login(cast.caseworker), cast.case, payload(3 * MIB))
    assert response.status_code == 413
    assert not EvidenceFile.objects.exists()
    assert stored_files(evidence_dir) == []


def test_a_file_at_the_limit_is_accepted(cast, login, settings):
    settings.EVIDENCE_MAX_BYTES = 2 * MIB
    response = api_upload(login(cast.caseworker), cast.case, payload(2 * MIB))
    assert response.status_code == 201


def test_an_empty_file_is_refused(cast, login, evidence_dir):
    response = api_upload(login(cast.caseworker), cast.case, b"")
    assert response.status_code == 422
    assert stored_files(evidence_dir) == []


def test_an_upload_without_a_file_is_refused_clearly(cast, login):
    response = login(cast.caseworker).post(
        f"/api/v1/cases/{cast.case.pk}/evidence/upload", {"description": "no file"}
    )
    assert response.status_code == 422
    assert "file" in response.json()["errors"]


def test_a_file_in_another_field_is_not_kept(cast, login, evidence_dir):
    from tests.evidence.conftest import NamedBytes

    response = login(cast.caseworker).post(
        f"/api/v1/cases/{cast.case.pk}/evidence/upload",
        {"attachment": NamedBytes(b"secret", "x.txt")},
    )
    assert response.status_code == 422
    assert stored_files(evidence_dir) == []


def test_a_failed_csrf_check_keeps_nothing(cast, evidence_dir):
    from django.test import Client

    from tests.conftest import verified_login
    from tests.evidence.conftest import NamedBytes

    client = verified_login(Client(enforce_csrf_checks=True), cast.caseworker)
    response = client.post(
        f"/evidence/cases/{cast.case.pk}/upload/", {"file": NamedBytes(payload(MIB), "a.bin")}
    )
    assert response.status_code == 403
    assert stored_files(evidence_dir) == []
    assert not EvidenceFile.objects.exists()


def test_a_working_copy_points_at_its_original(cast, login):
    client = login(cast.caseworker)
    api_upload(client, cast.case, b"original video")
    original = EvidenceFile.objects.get()
    response = api_upload(
        client, cast.case, b"redacted video", derived_from=str(original.pk), name="redacted.mp4"
    )
    copy = EvidenceFile.objects.get(pk=response.json()["id"])
    assert copy.kind == EvidenceKind.WORKING
    assert copy.derived_from == original
    assert original.sha256 == sha256(b"original video")


def test_djangos_own_upload_handlers_are_not_used_for_evidence(cast, login, monkeypatch):
    seen: list[list[object]] = []
    original = uploads.EvidenceUploadMiddleware.process_view

    def spy(self, request, *args):
        original(self, request, *args)
        seen.append(list(request.upload_handlers))

    monkeypatch.setattr(uploads.EvidenceUploadMiddleware, "process_view", spy)
    web_upload(login(cast.caseworker), cast.case, b"data")
    handlers = seen[-1]
    assert [type(h) for h in handlers] == [uploads.EncryptingUploadHandler]
    assert not any(
        isinstance(h, MemoryFileUploadHandler | TemporaryFileUploadHandler) for h in handlers
    )


def test_no_plaintext_temporary_file_appears_during_an_upload(
    cast, login, evidence_dir, monkeypatch
):
    """Look at the evidence directory and the system temp directory in the middle of an upload
    (after the second chunk), and after it."""
    temp_dir = Path(tempfile.gettempdir())
    before = set(temp_dir.iterdir())
    snapshots: list[list[Path]] = []
    original = uploads.EncryptingUploadHandler.receive_data_chunk

    def spy(self, raw_data, start):
        result = original(self, raw_data, start)
        if start == MIB:
            snapshots.append(stored_files(evidence_dir) + _new_files(temp_dir, before))
        return result

    monkeypatch.setattr(uploads.EncryptingUploadHandler, "receive_data_chunk", spy)
    web_upload(login(cast.caseworker), cast.case, payload(BIG))
    snapshots.append(stored_files(evidence_dir) + _new_files(temp_dir, before))
    assert snapshots[0], "the upload was not observed mid-way"
    for snapshot in snapshots:
        for path in snapshot:
            if path.is_file():
                assert MARKER not in path.read_bytes(), path


def _new_files(directory: Path, before: set[Path]) -> list[Path]:
    found: list[Path] = []
    for path in set(directory.iterdir()) - before:
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(p for p in path.rglob("*") if p.is_file())
    return found
