"""The evidence pages: thin interfaces over refuge.evidence.selectors and services.

The upload itself is received by refuge.evidence.uploads before this view runs (encrypted as it
arrives); the view only commits it or reports why it was refused. Downloads stream the decrypted
file as an attachment, after the whole file has been checked against its SHA-256.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from refuge.accounts.models import User
from refuge.cases.models import Case
from refuge.core.errors import DomainError
from refuge.core.web import apply_domain_error
from refuge.evidence import presentation, selectors, services, uploads
from refuge.evidence.forms import DownloadForm, EvidenceUploadForm
from refuge.evidence.models import EvidenceFile, EvidenceKind

INTEGRITY_FAILED_STATUS = 500


def _actor(request: HttpRequest) -> User:
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


def upload_form(
    actor: User,
    case: Case,
    data: Any = None,
    files: Any = None,
    *,
    case_files: Iterable[EvidenceFile] | None = None,
) -> EvidenceUploadForm:
    """The upload form; `case_files`: the case's files when the caller has them already."""
    candidates = (
        selectors.evidentiary_copies(actor=actor, case=case) if case_files is None else case_files
    )
    origins = [
        (evidence, presentation.origin_label(evidence))
        for evidence in candidates
        if evidence.kind == EvidenceKind.EVIDENTIARY
    ]
    return EvidenceUploadForm(data, files, origins=origins)


def _render_upload(
    request: HttpRequest, case: Case, form: EvidenceUploadForm, status: int = 200
) -> HttpResponse:
    context = {"case": case, "form": form, "max_bytes": services.max_bytes()}
    return render(request, "evidence/evidence_upload.html", context, status=status)


def _commit(request: HttpRequest, actor: User, case: Case, form: EvidenceUploadForm) -> Any:
    """The committed file, or the HTTP status of the refusal (the form carries the reasons)."""
    handler = uploads.handler_of(request)
    if handler is not None and handler.error:
        form.is_valid()  # binds the other fields, so the page shows what was sent
        form.errors["file"] = form.error_class([handler.error])
        return handler.status if handler.status == uploads.TOO_LARGE else 400
    received = request.FILES.get(uploads.FILE_FIELD)
    if not form.is_valid() or not isinstance(received, uploads.ReceivedEvidence):
        return 400
    origin_id = form.cleaned_data["derived_from"]
    try:
        origin = (
            selectors.evidence_on_case(actor=actor, case=case, evidence_id=origin_id)
            if origin_id
            else None
        )
        return services.evidence_upload_commit(
            actor=actor,
            upload=received.upload,
            description=form.cleaned_data["description"],
            client_sha256=form.cleaned_data["sha256"],
            derived_from=origin,
        )
    except DomainError as error:
        apply_domain_error(form, error)
        if error.field_errors:
            form.add_error(None, error.message)
        return uploads.TOO_LARGE if isinstance(error, services.EvidenceTooLargeError) else 400


@login_required
@require_http_methods(["GET", "POST"])
def evidence_upload(request: HttpRequest, case_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    case = selectors.case_for_upload(actor=actor, case_id=case_id)
    if request.method == "GET":
        return _render_upload(request, case, upload_form(actor, case))
    form = upload_form(actor, case, request.POST, request.FILES)
    outcome = _commit(request, actor, case, form)
    if isinstance(outcome, EvidenceFile):
        messages.success(
            request,
            _("Evidence received and encrypted. SHA-256: %(sha)s") % {"sha": outcome.sha256},
        )
        return redirect("evidence:detail", evidence_id=outcome.pk)
    return _render_upload(request, case, form, status=outcome)


@login_required
@require_GET
def evidence_detail(request: HttpRequest, evidence_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    evidence = selectors.evidence_get(actor=actor, evidence_id=evidence_id)
    services.evidence_viewed(actor=actor, evidence=evidence)
    context = {
        "row": presentation.row(actor, evidence),
        "evidence": evidence,
        "case": evidence.case,
        "custody": selectors.custody_log(evidence=evidence),
        "working_copies": presentation.rows(
            actor, selectors.working_copies(actor=actor, evidence=evidence)
        ),
        "download_form": DownloadForm(),
    }
    return render(request, "evidence/evidence_detail.html", context)


@login_required
@require_GET
def evidence_download(request: HttpRequest, evidence_id: uuid.UUID) -> HttpResponseBase:
    actor = _actor(request)
    evidence = selectors.evidence_get(actor=actor, evidence_id=evidence_id)
    form = DownloadForm(request.GET)
    if not form.is_valid():
        return render(
            request,
            "evidence/evidence_detail.html",
            {
                "row": presentation.row(actor, evidence),
                "evidence": evidence,
                "case": evidence.case,
                "custody": selectors.custody_log(evidence=evidence),
                "working_copies": [],
                "download_form": form,
            },
            status=400,
        )
    try:
        stream = services.evidence_download(
            actor=actor, evidence=evidence, purpose=form.cleaned_data["purpose"]
        )
    except services.EvidenceIntegrityError:
        return render(
            request,
            "evidence/integrity_failed.html",
            {"evidence": evidence, "case": evidence.case},
            status=INTEGRITY_FAILED_STATUS,
        )
    return streaming_attachment(stream, evidence, presentation.download_name(actor, evidence))


def streaming_attachment(
    stream: Any, evidence: EvidenceFile, filename: str, *, content_type: str = ""
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(stream, content_type=content_type or evidence.media_type)
    response["Content-Length"] = str(evidence.size)
    response["Content-Disposition"] = presentation.attachment_header(filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    # nginx would otherwise buffer a large response in a temporary file: plaintext on disk.
    response["X-Accel-Buffering"] = "no"
    return response
