"""JSON endpoints for evidence files.

Files are fetched through refuge.evidence.selectors (need-to-know follows the case); the upload
is received by refuge.evidence.uploads (encrypted while it arrives) before the endpoint runs, and
the endpoint commits it. Content is streamed as an attachment after the whole file has been
checked against its recorded SHA-256.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest, HttpResponseBase
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile

from refuge.accounts.api import (
    ERROR_CODES,
    NO_NUL,
    ErrorOut,
    Fetch,
    PageIn,
    PageOut,
    actor,
    paginate,
    responses,
)
from refuge.accounts.models import User
from refuge.core.errors import DomainError, NotFoundError
from refuge.evidence import presentation, selectors, services, uploads, views
from refuge.evidence.models import EvidenceFile, EvidenceKind
from refuge.security.models import AuditEntry

router = Router(tags=["evidence"])

Purpose = Literal["review", "legal", "court", "un", "analysis", "verification"]


class UserRefOut(Schema):
    id: UUID
    username: str


class EvidenceOut(Schema):
    id: UUID
    case: UUID
    kind: EvidenceKind
    derived_from: UUID | None = Field(description="For a working copy: the file it was made from.")
    media_type: str = Field(description="Detected from the file's first bytes.")
    size: int = Field(description="Bytes of the original file.")
    sha256: str = Field(description="SHA-256 of the original bytes, recorded at intake (hex).")
    original_name: str | None = Field(
        description="Only for those who may read the case's narrative; null for others."
    )
    description: str | None
    uploaded_by: UserRefOut | None
    created_at: dt.datetime


class EvidencePage(PageOut):
    items: list[EvidenceOut]


class CustodyEventOut(Schema):
    seq: int = Field(description="Position in the audit chain.")
    occurred_at: dt.datetime
    actor: str
    event: str = Field(description="intake, view, download, verified or integrity_failed.")
    purpose: str = ""
    reason: str = Field("", description="Why an integrity check failed.")


class EvidenceDetailOut(EvidenceOut):
    custody: list[CustodyEventOut]


class UploadIn(Schema):
    """The multipart form's text fields (the file itself is the field `file`)."""

    description: str = Field("", max_length=services.MAX_DESCRIPTION, pattern=NO_NUL)
    sha256: str = Field(
        "",
        max_length=64,
        pattern=NO_NUL,
        description="SHA-256 of the file as the client computed it (hex); optional.",
    )
    derived_from: UUID | None = Field(
        None, description="Makes the upload a working copy of this file (same case)."
    )


class DownloadIn(Schema):
    purpose: Purpose | None = Field(None, description="Why the file is fetched (recorded).")


def _evidence(user: User, evidence_id: UUID, action: str) -> EvidenceFile:
    # Evidence is read by whoever may see its case; there is no other action on a file.
    del action
    return selectors.evidence_get(actor=user, evidence_id=evidence_id)


PATH_OBJECTS: dict[str, Fetch] = {"evidence_id": _evidence}


def _out(user: User, evidence: EvidenceFile) -> EvidenceOut:
    shown = presentation.row(user, evidence)
    uploader = evidence.uploaded_by
    return EvidenceOut(
        id=evidence.pk,
        case=evidence.case_id,
        kind=EvidenceKind(evidence.kind),
        derived_from=evidence.derived_from_id,
        media_type=evidence.media_type,
        size=evidence.size,
        sha256=evidence.sha256,
        original_name=shown.original_name,
        description=shown.description,
        uploaded_by=UserRefOut(id=uploader.pk, username=uploader.get_username())
        if uploader
        else None,
        created_at=evidence.created_at,
    )


def _custody_out(entry: AuditEntry) -> CustodyEventOut:
    detail: dict[str, Any] = json.loads(entry.detail or "{}")
    return CustodyEventOut(
        seq=entry.seq,
        occurred_at=entry.occurred_at,
        actor=entry.actor_label,
        event=entry.action.removeprefix(selectors.CUSTODY_PREFIX),
        purpose=str(detail.get("purpose") or ""),
        reason=str(detail.get("reason") or ""),
    )


@router.get(
    "/cases/{case_id}/evidence",
    response=responses(200, EvidencePage),
    summary="Evidence files of a case",
)
def evidence_list(request: HttpRequest, case_id: UUID, paging: Query[PageIn]) -> EvidencePage:
    user = actor(request)
    case = selectors.case_for_listing(actor=user, case_id=case_id)
    items, meta = paginate(selectors.evidence_list(actor=user, case=case), paging.page)
    return EvidencePage(items=[_out(user, e) for e in items], **meta)


@router.post(
    "/cases/{case_id}/evidence/upload",
    response=responses(201, EvidenceOut),
    url_name="evidence_upload",
    summary="Upload an evidence file (multipart/form-data)",
    description=(
        "Send the file in the multipart field `file`. The server encrypts it as it arrives and "
        "records the SHA-256 of the original bytes. If you send `sha256` (hex) and the file "
        "that arrived differs, nothing is kept and the answer is 422 “transfer corrupted”. "
        "Files above REFUGE_EVIDENCE_MAX_BYTES are refused with 413. `derived_from` makes the "
        "upload a working copy (redacted, converted) of a file of the same case."
    ),
)
def evidence_upload(
    request: HttpRequest,
    case_id: UUID,
    fields: Form[UploadIn],
    file: File[UploadedFile | None] = None,
) -> Status[EvidenceOut]:
    user = actor(request)
    case = selectors.case_for_upload(actor=user, case_id=case_id)
    handler = uploads.handler_of(request)
    if handler is not None and handler.error:
        if handler.status == uploads.TOO_LARGE:
            raise HttpError(uploads.TOO_LARGE, handler.error)
        raise DomainError(handler.error, field_errors={"file": [handler.error]})
    received: object = file  # ninja's UploadedFile type, holding the handler's ReceivedEvidence
    if not isinstance(received, uploads.ReceivedEvidence):
        message = _("Send the file in the multipart field “file”.")
        raise DomainError(message, field_errors={"file": [message]})
    try:
        origin = (
            selectors.evidence_on_case(actor=user, case=case, evidence_id=fields.derived_from)
            if fields.derived_from
            else None
        )
    except NotFoundError:
        received.upload.abort()
        message = _("Unknown evidence file on this case.")
        raise DomainError(message, field_errors={"derived_from": [message]}) from None
    try:
        evidence = services.evidence_upload_commit(
            actor=user,
            upload=received.upload,
            description=fields.description,
            client_sha256=fields.sha256,
            derived_from=origin,
        )
    except services.EvidenceTooLargeError as error:
        raise HttpError(uploads.TOO_LARGE, error.message) from None
    return Status(201, _out(user, evidence))


@router.get(
    "/evidence/{evidence_id}",
    response=responses(200, EvidenceDetailOut),
    summary="One evidence file's metadata and custody log (recorded as a view)",
)
def evidence_detail(request: HttpRequest, evidence_id: UUID) -> EvidenceDetailOut:
    user = actor(request)
    evidence = selectors.evidence_get(actor=user, evidence_id=evidence_id)
    services.evidence_viewed(actor=user, evidence=evidence)
    custody = [_custody_out(e) for e in selectors.custody_log(evidence=evidence)]
    return EvidenceDetailOut(**_out(user, evidence).model_dump(), custody=custody)


@router.get(
    "/evidence/{evidence_id}/content",
    response={**dict.fromkeys(ERROR_CODES, ErrorOut), 500: ErrorOut},
    summary="Download the file (streamed; recorded as a download)",
    description=(
        "The whole file is checked against its recorded SHA-256 first; a file that fails is "
        "never sent (500, recorded in the audit log)."
    ),
    openapi_extra={
        "responses": {
            "200": {
                "description": (
                    "The original bytes, as an attachment (the detected media type is in the "
                    "file's metadata)."
                ),
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        }
    },
)
def evidence_content(
    request: HttpRequest, evidence_id: UUID, query: Query[DownloadIn]
) -> HttpResponseBase:
    user = actor(request)
    evidence = selectors.evidence_get(actor=user, evidence_id=evidence_id)
    try:
        stream = services.evidence_download(
            actor=user, evidence=evidence, purpose=query.purpose or ""
        )
    except services.EvidenceIntegrityError:
        raise HttpError(
            500,
            _(
                "This file failed its integrity check and was not sent. The failure has been "
                "recorded in the audit log."
            ),
        ) from None
    # Always octet-stream here (as documented); the detected type is in the metadata.
    return views.streaming_attachment(
        stream,
        evidence,
        presentation.download_name(user, evidence),
        content_type="application/octet-stream",
    )
