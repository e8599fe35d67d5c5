"""Writes on evidence files: intake, custody events, integrity checks and the janitor.

Intake never holds plaintext on disk or whole in memory. An upload is encrypted as it arrives
(libsodium secretstream, 1 MiB chunks, final tag, under the file's own data key) and hashed
(SHA-256 of the original bytes) in the same pass, into tmp/<uuid>.part. Only when the whole file
is in and checked: fsync, rename to <uuid>.bin, then the row and its `custody.intake` audit entry
in one transaction. A row therefore never points at a partial ciphertext; a crash between rename
and commit leaves a .bin without a row, which the janitor removes after a grace period.

Every view and download is a custody event in the audit chain (security design b.8).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from django.conf import settings
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from refuge.cases.models import Case
from refuge.core import clock
from refuge.core.errors import DomainError, NotFoundError
from refuge.evidence import media_types, storage
from refuge.evidence.models import EvidenceFile, EvidenceKind
from refuge.security import access, audit
from refuge.security.crypto import DecryptionError, StreamEncryptor
from refuge.security.fields import record_key
from refuge.security.models import DataKey
from refuge.security.provider import get_crypto

logger = logging.getLogger(__name__)

MAX_DESCRIPTION = 5_000
MAX_NAME = 255
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
# Orphans younger than this may still belong to a running upload or an open transaction.
JANITOR_GRACE = dt.timedelta(hours=24)

INTAKE = "refuge.evidence.custody.intake"
VIEW = "refuge.evidence.custody.view"
DOWNLOAD = "refuge.evidence.custody.download"
VERIFIED = "refuge.evidence.custody.verified"
INTEGRITY_FAILED = "refuge.evidence.custody.integrity_failed"

# Why a file was fetched: codes, so the audit detail (stored unencrypted) never holds free text.
PURPOSES = {
    "review": gettext_lazy("Review by the case team"),
    "legal": gettext_lazy("Legal proceedings"),
    "court": gettext_lazy("Submission to a court"),
    "un": gettext_lazy("Submission to a UN body"),
    "analysis": gettext_lazy("Documentation and analysis"),
    "verification": gettext_lazy("Verification"),
}


class EvidenceTooLargeError(DomainError):
    """The upload passed REFUGE_EVIDENCE_MAX_BYTES (HTTP 413)."""


class EvidenceIntegrityError(Exception):
    """A stored file does not decrypt or does not match its recorded SHA-256. Never served."""

    def __init__(self, evidence_id: Any, reason: str) -> None:
        super().__init__(f"evidence {evidence_id} failed its integrity check ({reason})")
        self.reason = reason


def _stream_aad(evidence: EvidenceFile) -> bytes:
    # Binds the ciphertext to its row: a .bin copied over another file's does not decrypt.
    return f"refuge/evidence/v1|{evidence.pk}".encode()


def max_bytes() -> int:
    return int(settings.EVIDENCE_MAX_BYTES)


def too_large_message() -> str:
    return _("The file is larger than the limit of %(limit)s; nothing was kept.") % {
        "limit": filesizeformat(max_bytes())
    }


class EvidenceUpload:
    """One upload in progress: ciphertext to tmp/<uuid>.part, SHA-256 and size of the original,
    and its first bytes for type detection. Finish it with evidence_upload_commit, or abort()."""

    def __init__(
        self, evidence: EvidenceFile, encryptor: StreamEncryptor, handle: BinaryIO
    ) -> None:
        self.evidence = evidence
        self._encryptor = encryptor
        self._handle: BinaryIO | None = handle
        self._hash = hashlib.sha256()
        self.size = 0
        self.head = b""
        self.finished = False
        self.committed = False
        self.aborted = False
        handle.write(encryptor.header)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def write(self, data: bytes) -> None:
        if self._handle is None or self.finished:
            raise ValueError("this upload is closed")
        if self.size + len(data) > max_bytes():
            self.abort()
            raise EvidenceTooLargeError(too_large_message())
        self.size += len(data)
        self._hash.update(data)
        if len(self.head) < media_types.HEAD_BYTES:
            self.head += data[: media_types.HEAD_BYTES - len(self.head)]
        self._handle.write(self._encryptor.push(data))

    def finish(self) -> None:
        if self._handle is None or self.finished:
            raise ValueError("this upload is closed")
        self._handle.write(self._encryptor.finish())
        self.finished = True

    def publish(self) -> None:
        if self._handle is None or not self.finished:
            raise ValueError("this upload is not finished")
        storage.publish(self.evidence.storage_name, self._handle)
        self._handle = None

    def abort(self) -> None:
        """Remove everything this upload wrote: the partial or published ciphertext and the data
        key (the key is the only thing that could ever decrypt a copy of them)."""
        if self.committed or self.aborted:
            return
        self.aborted = True
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        storage.discard(storage.part_path(self.evidence.storage_name))
        storage.discard(storage.bin_path(self.evidence.storage_name))
        key_id = self.evidence.data_key_id
        if key_id is not None:
            DataKey.objects.filter(pk=key_id).delete()


def _check_may_upload(actor: Any, case: Case) -> None:
    if not access.scope(actor, Case.objects.filter(pk=case.pk), action=access.LOG).exists():
        raise NotFoundError


def _clean_name(name: str) -> str:
    # Only ever shown and offered as a download name; never used for storage.
    cleaned = "".join(c for c in name if c.isprintable() and c not in '/\\"').strip(" .")
    return cleaned[:MAX_NAME] or "evidence"


def evidence_upload_begin(*, actor: Any, case: Case, original_name: str) -> EvidenceUpload:
    """Start an upload to `case`: a new data key and an empty ciphertext file."""
    _check_may_upload(actor, case)
    evidence = EvidenceFile(case=case, uploaded_by=actor, kind=EvidenceKind.EVIDENTIARY)
    evidence.original_name = _clean_name(original_name)
    dek = record_key(evidence, "data_key")  # saves the (wrapped) key; abort() deletes it
    encryptor = get_crypto().stream_encryptor(dek, aad=_stream_aad(evidence))
    try:
        handle = storage.open_part(evidence.storage_name)
    except OSError:
        DataKey.objects.filter(pk=evidence.data_key_id).delete()
        raise
    return EvidenceUpload(evidence, encryptor, handle)


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(_("Please correct the errors below."), field_errors={field: [message]})


def _validate(
    upload: EvidenceUpload,
    *,
    description: str,
    client_sha256: str,
    derived_from: EvidenceFile | None,
) -> None:
    if not upload.finished:
        raise _invalid("file", _("Choose a file to upload."))
    if upload.size == 0:
        raise _invalid("file", _("The file is empty."))
    if len(description) > MAX_DESCRIPTION:
        raise _invalid(
            "description",
            _("Keep the description under %(limit)d characters.") % {"limit": MAX_DESCRIPTION},
        )
    if client_sha256 and not SHA256_HEX.match(client_sha256):
        raise _invalid("sha256", _("A SHA-256 is 64 hexadecimal characters."))
    if derived_from is not None and derived_from.case_id != upload.evidence.case_id:
        raise _invalid("derived_from", _("A working copy must belong to the same case."))
    if client_sha256 and client_sha256 != upload.sha256:
        raise DomainError(
            _(
                "Transfer corrupted: the file that arrived does not match the SHA-256 you sent. "
                "Nothing was kept; please upload it again."
            ),
            field_errors={"sha256": [_("Transfer corrupted.")]},
        )


def evidence_upload_commit(
    *,
    actor: Any,
    upload: EvidenceUpload,
    description: str = "",
    client_sha256: str = "",
    derived_from: EvidenceFile | None = None,
) -> EvidenceFile:
    """Check the finished upload, publish its ciphertext and record it. Any refusal or failure
    removes everything the upload wrote."""
    evidence = upload.evidence
    try:
        _check_may_upload(actor, evidence.case)
        client_sha256 = client_sha256.strip().lower()
        _validate(
            upload,
            description=description,
            client_sha256=client_sha256,
            derived_from=derived_from,
        )
        evidence.size = upload.size
        evidence.sha256 = upload.sha256
        evidence.media_type = media_types.detect(upload.head)
        evidence.description = description.strip() or None
        if derived_from is not None:
            evidence.kind = EvidenceKind.WORKING
            evidence.derived_from = derived_from
        upload.publish()
        with transaction.atomic():
            evidence.save(force_insert=True)
            audit.record(
                INTAKE,
                actor=actor,
                obj=evidence,
                detail={
                    "case": str(evidence.case_id),
                    "sha256": evidence.sha256,
                    "size": evidence.size,
                    "media_type": evidence.media_type,
                    "kind": evidence.kind,
                    "derived_from": str(evidence.derived_from_id or ""),
                },
            )
    except BaseException:
        upload.abort()
        raise
    upload.committed = True
    return evidence


def evidence_ingest(
    *,
    actor: Any,
    case: Case,
    chunks: Iterable[bytes],
    original_name: str,
    description: str = "",
    client_sha256: str = "",
    derived_from: EvidenceFile | None = None,
) -> EvidenceFile:
    """The whole intake for a file that is already at hand as chunks (command line, demo)."""
    upload = evidence_upload_begin(actor=actor, case=case, original_name=original_name)
    try:
        for chunk in chunks:
            upload.write(chunk)
        upload.finish()
    except BaseException:
        upload.abort()
        raise
    return evidence_upload_commit(
        actor=actor,
        upload=upload,
        description=description,
        client_sha256=client_sha256,
        derived_from=derived_from,
    )


# --- Custody events and integrity ---------------------------------------------------------------


def evidence_viewed(*, actor: Any, evidence: EvidenceFile) -> None:
    with transaction.atomic():
        audit.record(VIEW, actor=actor, obj=evidence, detail={"case": str(evidence.case_id)})


def _plaintext(evidence: EvidenceFile) -> Iterator[bytes]:
    dek = record_key(evidence, "data_key")
    return get_crypto().decrypt_stream(
        dek, storage.read_chunks(evidence.storage_name), aad=_stream_aad(evidence)
    )


def _record_failure(actor: Any, evidence: EvidenceFile, reason: str) -> None:
    with transaction.atomic():
        audit.record(
            INTEGRITY_FAILED,
            actor=actor,
            obj=evidence,
            detail={"case": str(evidence.case_id), "reason": reason},
        )
    logger.error("evidence %s failed its integrity check: %s", evidence.pk, reason)


def integrity_problem(evidence: EvidenceFile) -> str:
    """Decrypt and re-hash the stored file: "" if it matches its record, else why not."""
    digest = hashlib.sha256()
    size = 0
    try:
        for block in _plaintext(evidence):
            digest.update(block)
            size += len(block)
    except FileNotFoundError:
        return "missing"
    except DecryptionError:
        return "does_not_decrypt"
    if size != evidence.size:
        return "size_mismatch"
    if digest.hexdigest() != evidence.sha256:
        return "hash_mismatch"
    return ""


def evidence_verify(*, actor: Any, evidence: EvidenceFile) -> str:
    """Check one stored file and record the result in its custody log; "" means intact."""
    problem = integrity_problem(evidence)
    if problem:
        _record_failure(actor, evidence, problem)
    else:
        with transaction.atomic():
            audit.record(
                VERIFIED,
                actor=actor,
                obj=evidence,
                detail={"case": str(evidence.case_id), "sha256": evidence.sha256},
            )
    return problem


def _checked_stream(actor: Any, evidence: EvidenceFile) -> Iterator[bytes]:
    """The plaintext again, checked once more while it is sent: if the file changed since the
    check, the response is cut off before the last bytes, so it never arrives complete."""
    digest = hashlib.sha256()
    held: bytes | None = None
    try:
        for block in _plaintext(evidence):
            if held is not None:
                yield held
            digest.update(block)
            held = block
    except (FileNotFoundError, DecryptionError):
        _record_failure(actor, evidence, "changed_while_sent")
        raise EvidenceIntegrityError(evidence.pk, "changed_while_sent") from None
    if digest.hexdigest() != evidence.sha256:
        _record_failure(actor, evidence, "changed_while_sent")
        raise EvidenceIntegrityError(evidence.pk, "changed_while_sent")
    if held:
        yield held


def evidence_download(*, actor: Any, evidence: EvidenceFile, purpose: str = "") -> Iterator[bytes]:
    """The original bytes, after checking the whole file against its SHA-256 (a tampered file
    raises EvidenceIntegrityError and is recorded, never served) and recording the download."""
    if purpose and purpose not in PURPOSES:
        raise _invalid("purpose", _("Choose a purpose from the list."))
    problem = integrity_problem(evidence)
    if problem:
        _record_failure(actor, evidence, problem)
        raise EvidenceIntegrityError(evidence.pk, problem)
    with transaction.atomic():
        audit.record(
            DOWNLOAD,
            actor=actor,
            obj=evidence,
            detail={"case": str(evidence.case_id), "purpose": purpose},
        )
    return _checked_stream(actor, evidence)


# --- Janitor -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class JanitorResult:
    parts: int
    orphans: int


def evidence_clean_orphans(now: dt.datetime | None = None) -> JanitorResult:
    """Remove upload files whose upload died, and ciphertexts that no row points at (a crash
    between rename and commit), once they are older than JANITOR_GRACE."""
    cutoff = (now or clock.now()) - JANITOR_GRACE
    parts = storage.stale_parts(cutoff)
    for path in parts:
        storage.discard(path)
    stored = storage.stored_files(cutoff)
    known = set(
        EvidenceFile.objects.filter(storage_name__in=list(stored)).values_list(
            "storage_name", flat=True
        )
    )
    orphans = [path for name, path in stored.items() if name not in known]
    for path in orphans:
        storage.discard(path)
    if parts or orphans:
        logger.info(
            "evidence janitor removed %d upload files and %d orphans", len(parts), len(orphans)
        )
    return JanitorResult(parts=len(parts), orphans=len(orphans))
