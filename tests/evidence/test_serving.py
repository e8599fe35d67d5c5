"""Serving: access-checked, streamed, attachment-only, checked against the recorded SHA-256."""

from __future__ import annotations

import pytest

from refuge.evidence.models import EvidenceFile
from refuge.security.models import AuditEntry
from tests.evidence.conftest import MIB, bin_of, ingest, payload

pytestmark = pytest.mark.django_db


def _download(client, evidence, query=""):
    return client.get(f"/evidence/{evidence.pk}/download/{query}")


def test_a_download_is_an_attachment_with_the_original_name(cast, login):
    evidence = ingest(cast, name="apology.mp4")
    response = _download(login(cast.caseworker), evidence)
    assert response["Content-Disposition"] == 'attachment; filename="apology.mp4"'


def test_a_non_ascii_name_is_sent_per_rfc_5987(cast, login):
    evidence = ingest(cast, name="видео извинения.mp4")
    response = _download(login(cast.caseworker), evidence)
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''%D0%B2%D0%B8%D0%B4%D0%B5%D0%BE%20"
        "%D0%B8%D0%B7%D0%B2%D0%B8%D0%BD%D0%B5%D0%BD%D0%B8%D1%8F.mp4"
    )


def test_a_name_with_quotes_and_slashes_cannot_break_the_header(cast, login):
    evidence = ingest(cast, name='../../etc/"passwd"\r\nX-Evil: 1')
    header = _download(login(cast.caseworker), evidence)["Content-Disposition"]
    assert "\r" not in header
    assert "\n" not in header
    assert "/" not in header


def test_a_download_is_never_sniffed_or_cached(cast, login):
    response = _download(login(cast.caseworker), ingest(cast))
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store"


def test_a_download_is_not_buffered_to_disk_by_nginx(cast, login):
    response = _download(login(cast.caseworker), ingest(cast))
    assert response["X-Accel-Buffering"] == "no"


def test_a_download_is_streamed_with_its_length(cast, login):
    data = payload(2 * MIB + 5)
    evidence = ingest(cast, data)
    response = _download(login(cast.caseworker), evidence)
    assert response.streaming
    assert response["Content-Length"] == str(len(data))
    assert b"".join(response.streaming_content) == data


def test_a_download_is_a_custody_event_with_its_purpose(cast, login):
    evidence = ingest(cast)
    response = _download(login(cast.lawyer), evidence, "?purpose=court")
    b"".join(response.streaming_content)
    entry = AuditEntry.objects.get(action="refuge.evidence.custody.download")
    assert entry.object_id == str(evidence.pk)
    assert entry.actor_label == "lawyer"
    assert '"purpose":"court"' in entry.detail


def test_an_unknown_purpose_is_refused_and_nothing_is_sent(cast, login):
    evidence = ingest(cast)
    response = _download(login(cast.lawyer), evidence, "?purpose=sell")
    assert response.status_code == 400
    assert not response.streaming
    assert not AuditEntry.objects.filter(action="refuge.evidence.custody.download").exists()


def test_the_detail_page_is_a_custody_event(cast, login):
    evidence = ingest(cast)
    login(cast.lawyer).get(f"/evidence/{evidence.pk}/")
    assert AuditEntry.objects.filter(
        action="refuge.evidence.custody.view", object_id=str(evidence.pk)
    ).exists()


def test_the_detail_page_shows_the_custody_log(cast, login):
    evidence = ingest(cast)
    client = login(cast.lawyer)
    b"".join(_download(client, evidence, "?purpose=un").streaming_content)
    page = client.get(f"/evidence/{evidence.pk}/").content.decode()
    assert "Received (intake)" in page
    assert "Downloaded" in page
    assert "Submission to a UN body" in page
    assert evidence.sha256 in page


def test_the_api_detail_lists_the_custody_events(cast, login):
    evidence = ingest(cast)
    body = login(cast.lawyer).get(f"/api/v1/evidence/{evidence.pk}").json()
    assert [e["event"] for e in body["custody"]] == ["intake", "view"]


def _tamper(evidence: EvidenceFile, evidence_dir, offset: int) -> None:
    path = bin_of(evidence, evidence_dir)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_tampered_file_is_not_served(cast, login, evidence_dir):
    evidence = ingest(cast, payload(2 * MIB + 100))
    _tamper(evidence, evidence_dir, MIB + 500)  # inside the second chunk
    response = _download(login(cast.caseworker), evidence)
    assert response.status_code == 500
    assert not response.streaming
    assert "failed its integrity check" in response.content.decode()


def test_a_tampered_file_is_recorded_in_the_audit_log(cast, login, evidence_dir):
    evidence = ingest(cast)
    _tamper(evidence, evidence_dir, 40)
    _download(login(cast.caseworker), evidence)
    entry = AuditEntry.objects.get(action="refuge.evidence.custody.integrity_failed")
    assert entry.object_id == str(evidence.pk)
    assert '"reason":"does_not_decrypt"' in entry.detail
    assert not AuditEntry.objects.filter(action="refuge.evidence.custody.download").exists()


def test_a_tampered_file_is_refused_by_the_api(cast, login, evidence_dir):
    evidence = ingest(cast)
    _tamper(evidence, evidence_dir, 40)
    response = login(cast.caseworker).get(f"/api/v1/evidence/{evidence.pk}/content")
    assert response.status_code == 500
    assert "integrity" in response.json()["detail"]


def test_a_missing_file_is_an_integrity_failure(cast, login, evidence_dir):
    evidence = ingest(cast)
    bin_of(evidence, evidence_dir).unlink()
    response = _download(login(cast.caseworker), evidence)
    assert response.status_code == 500
    assert AuditEntry.objects.filter(action="refuge.evidence.custody.integrity_failed").exists()


def test_a_ciphertext_moved_to_another_record_does_not_decrypt(cast, login, evidence_dir):
    first = ingest(cast, b"first file contents")
    second = ingest(cast, b"second file contents")
    bin_of(second, evidence_dir).write_bytes(bin_of(first, evidence_dir).read_bytes())
    response = _download(login(cast.caseworker), second)
    assert response.status_code == 500


def test_a_file_changed_after_the_check_is_cut_off_before_its_end(cast, login, evidence_dir):
    from refuge.evidence import services

    data = payload(2 * MIB + 100)
    evidence = ingest(cast, data)
    stream = services.evidence_download(actor=cast.caseworker, evidence=evidence)
    _tamper(evidence, evidence_dir, 2 * MIB + 60)  # the final chunk, after the check
    received = bytearray()
    with pytest.raises(services.EvidenceIntegrityError):
        _consume(stream, received)
    assert len(received) < len(data)
    assert AuditEntry.objects.filter(action="refuge.evidence.custody.integrity_failed").exists()


def _consume(stream, into: bytearray) -> None:
    for block in stream:
        into += block


@pytest.mark.parametrize(
    "path",
    [
        "/evidence/../../etc/passwd/download/",
        "/evidence/..%2F..%2Fetc%2Fpasswd/download/",
        "/evidence/%2e%2e%2f%2e%2e%2fetc%2fpasswd/download/",
        "/evidence/..%252F..%252Fsettings.py/download/",
        "/evidence/00000000-0000-0000-0000-000000000000/download/",
        "/evidence/STORAGE/download/",
        "/evidence/tmp/download/",
        "/api/v1/evidence/..%2F..%2Fsecret/content",
        "/api/v1/evidence/00000000-0000-0000-0000-000000000000/content",
    ],
)
def test_path_traversal_attempts_find_nothing(cast, login, path):
    evidence = ingest(cast)
    client = login(cast.coordinator)
    response = client.get(path.replace("STORAGE", str(evidence.storage_name)))
    assert response.status_code in {404, 422}
    assert not response.streaming


def test_a_storage_name_is_not_an_evidence_id(cast, login):
    evidence = ingest(cast)
    response = login(cast.coordinator).get(f"/evidence/{evidence.storage_name}/download/")
    assert response.status_code == 404


def _callbacks(patterns):
    from django.urls import URLResolver

    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _callbacks(entry.url_patterns)
        else:
            yield entry.callback


def test_no_url_serves_files_from_disk():
    from django.urls import get_resolver
    from django.views import static

    assert static.serve not in set(_callbacks(get_resolver().url_patterns))


def test_the_evidence_directory_is_not_a_static_or_media_root(settings):
    evidence = str(settings.EVIDENCE_DIR)
    roots = [settings.STATIC_ROOT, settings.MEDIA_ROOT, *settings.STATICFILES_DIRS]
    assert not any(root and evidence.startswith(str(root)) for root in roots)


def test_the_nginx_site_streams_evidence_uploads_unbuffered(cast):
    import re
    from pathlib import Path

    from django.urls import reverse

    conf = (Path(__file__).resolve().parents[2] / "deploy/nginx/refuge.conf").read_text()
    block = conf.split("# Evidence uploads", 1)[1].split("}", 1)[0]
    pattern = re.search(r"location ~ (\S+) \{", block).group(1)
    for url in (
        reverse("evidence:upload", args=[cast.case.pk]),
        f"/api/v1/cases/{cast.case.pk}/evidence/upload",
    ):
        assert re.match(pattern, url), url
    assert "proxy_request_buffering off;" in block


def test_the_web_download_carries_the_detected_type(cast, login):
    evidence = ingest(cast, b"%PDF-1.7\n" + b"x" * 100, name="claim.pdf")
    assert _download(login(cast.lawyer), evidence)["Content-Type"] == "application/pdf"


def test_the_api_download_is_always_an_octet_stream(cast, login):
    evidence = ingest(cast, b"%PDF-1.7\n" + b"x" * 100, name="claim.pdf")
    response = login(cast.lawyer).get(f"/api/v1/evidence/{evidence.pk}/content")
    assert response["Content-Type"] == "application/octet-stream"
