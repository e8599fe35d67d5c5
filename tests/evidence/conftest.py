"""Evidence tests: a fresh evidence directory per test, and helpers to upload through the web
form and the API."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from refuge.accounts import tokens
from refuge.evidence import services
from refuge.evidence.models import EvidenceFile

MIB = 1 << 20
MARKER = b"FALCON-APOLOGY-VIDEO-MARKER-7f3a"


def payload(size: int, *, marker: bytes = MARKER) -> bytes:
    """Distinct, recognisable bytes: the marker repeated through random filler, so any
    plaintext window would be found in the ciphertext."""
    filler = os.urandom(size)
    step = 4096
    out = bytearray(filler)
    for offset in range(0, max(size - len(marker), 0), step):
        out[offset : offset + len(marker)] = marker
    return bytes(out[:size])


@pytest.fixture(autouse=True)
def evidence_dir(settings, tmp_path: Path) -> Path:
    settings.EVIDENCE_DIR = tmp_path / "evidence"
    return settings.EVIDENCE_DIR


class NamedBytes:
    """A file object for the test client's multipart encoder."""

    def __init__(self, data: bytes, name: str) -> None:
        self._data = data
        self._pos = 0
        self.name = name

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size is None or size < 0 else self._pos + size
        chunk = self._data[self._pos : end]
        self._pos += len(chunk)
        return chunk


def web_upload(client: Client, case, data: bytes, name: str = "video.mp4", **fields):
    return client.post(
        reverse("evidence:upload", args=[case.pk]),
        {"file": NamedBytes(data, name), **fields},
    )


def api_upload(client: Client, case, data: bytes, name: str = "video.mp4", headers=None, **fields):
    return client.post(
        f"/api/v1/cases/{case.pk}/evidence/upload",
        {"file": NamedBytes(data, name), **fields},
        headers=headers or {},
    )


def bearer(user) -> dict[str, str]:
    _token, plaintext = tokens.token_create(actor=None, user=user, name="evidence tests")
    return {"Authorization": f"Bearer {plaintext}"}


def ingest(cast, data: bytes = b"evidence bytes " * 100, *, name: str = "apology.mp4"):
    return services.evidence_ingest(
        actor=cast.caseworker,
        case=cast.case,
        chunks=[data],
        original_name=name,
        description="Recorded in detention",
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_files(evidence_dir: Path) -> list[Path]:
    return sorted(p for p in evidence_dir.rglob("*") if p.is_file())


def bin_of(evidence: EvidenceFile, evidence_dir: Path) -> Path:
    return evidence_dir / f"{evidence.storage_name}.bin"
