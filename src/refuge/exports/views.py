"""The exports page: thin interfaces over refuge.exports.selectors and services.

Every state change is a POST with a CSRF token; a refused one re-renders the page with the
reason and status 400. Approving and downloading an unredacted export need a recent
re-authentication (refuge.exports.reauth). Files are streamed, never stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from refuge.accounts.models import Team, User
from refuge.accounts.stepup import resumes_after_step_up
from refuge.cases.models import Case
from refuge.core import clock
from refuge.core.errors import DomainError, RoleNotAllowedError
from refuge.core.web import apply_domain_error
from refuge.exports import formats, selectors, services
from refuge.exports.forms import (
    DownloadForm,
    ExportForm,
    ExportRequestForm,
    RedactedExportForm,
    RejectForm,
)
from refuge.exports.models import ExportRequest, ExportStatus
from refuge.exports.reauth import web_step_up_redirect
from refuge.exports.services import REDACTED, UNREDACTED
from refuge.security import access

MY_REQUESTS_SHOWN = 50


def _actor(request: HttpRequest) -> User:
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


@dataclass(frozen=True)
class RequestRow:
    request: ExportRequest
    case_codes: list[str]
    # Past its deadline but not yet marked expired by the worker: shown as expired already.
    overdue: bool
    can_download: bool
    reject_form: RejectForm | None = None


def _rows(
    requests: Iterable[ExportRequest],
    *,
    actor: User,
    rejecting: tuple[uuid.UUID, RejectForm] | None,
) -> list[RequestRow]:
    now = clock.now()
    rows = []
    for request in requests:
        live = request.status in {ExportStatus.PENDING, ExportStatus.APPROVED}
        overdue = live and request.expires_at <= now
        form = None
        if actor.is_coordinator and request.requested_by_id != actor.pk:
            form = rejecting[1] if rejecting and rejecting[0] == request.pk else RejectForm()
        rows.append(
            RequestRow(
                request=request,
                case_codes=sorted(c.code for c in request.cases.all()),
                overdue=overdue,
                can_download=(
                    request.status == ExportStatus.APPROVED
                    and not overdue
                    and request.requested_by_id == actor.pk
                ),
                reject_form=form,
            )
        )
    return rows


def _render_list(
    request: HttpRequest,
    *,
    status: int = 200,
    redacted_form: RedactedExportForm | None = None,
    request_form: ExportRequestForm | None = None,
    error: str = "",
    reject_form: tuple[uuid.UUID, RejectForm] | None = None,
) -> HttpResponse:
    actor = _actor(request)
    teams = selectors.export_team_choices(actor=actor)
    context: dict[str, Any] = {
        "may_export": services.may_export_redacted(actor),
        "may_request": services.may_request_unredacted(actor),
        "is_coordinator": actor.is_coordinator,
        "redacted_form": redacted_form or RedactedExportForm(teams=teams),
        "request_form": request_form or ExportRequestForm(teams=teams),
        "awaiting": _rows(
            selectors.export_requests_awaiting(actor=actor), actor=actor, rejecting=reject_form
        ),
        "mine": _rows(
            selectors.export_requests_mine(actor=actor)[:MY_REQUESTS_SHOWN],
            actor=actor,
            rejecting=None,
        ),
        "download_form": DownloadForm(),
        "window_hours": int(services.download_window().total_seconds() // 3600),
        "error": error,
    }
    return render(request, "exports/export_list.html", context, status=status)


def _require_exporter(actor: User) -> None:
    if not services.may_export_redacted(actor):
        raise RoleNotAllowedError(
            _("Administrators manage staff accounts; they see no case, so they export nothing.")
        )


@login_required
@require_GET
def export_list(request: HttpRequest) -> HttpResponse:
    _require_exporter(_actor(request))
    return _render_list(request)


def _scope(
    actor: User, form: RedactedExportForm | ExportRequestForm
) -> tuple[Team | None, list[Case]]:
    """The team and the cases the form names; unknown or hidden codes become a form error."""
    team: Team | None = form.cleaned_data.get("team")
    codes = selectors.parse_case_codes(form.cleaned_data.get("cases") or "")
    cases, missing = selectors.export_cases_by_code(actor=actor, codes=codes)
    if missing:
        form.add_error(
            "cases", _("Unknown case code: %(codes)s.") % {"codes": ", ".join(missing[:10])}
        )
    return team, cases


def _refuse(form: ExportForm, error: DomainError) -> None:
    apply_domain_error(form, error)
    if error.field_errors:
        form.add_error(None, error.message)


@login_required
@require_POST
def redacted_download(request: HttpRequest) -> HttpResponseBase:
    actor = _actor(request)
    _require_exporter(actor)
    form = RedactedExportForm(request.POST, teams=selectors.export_team_choices(actor=actor))
    if form.is_valid():
        team, cases = _scope(actor, form)
        if not form.errors:
            fmt = form.cleaned_data["format"]
            try:
                plan = services.redacted_export_start(
                    actor=actor, team=team, cases=cases or None, fmt=fmt
                )
            except DomainError as error:
                _refuse(form, error)
            else:
                header = formats.export_header(
                    kind=REDACTED, actor=actor, case_count=len(plan.case_ids)
                )
                records = selectors.iter_redacted_cases(actor=actor, plan=plan)
                return formats.streaming_response(
                    kind=REDACTED, fmt=fmt, header=header, records=records
                )
    return _render_list(request, status=400, redacted_form=form)


@login_required
@require_POST
def request_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    if not services.may_request_unredacted(actor):
        raise RoleNotAllowedError(
            _(
                "Unredacted exports are for case workers, lawyers and coordinators: your role "
                "never sees a legal identity."
            )
        )
    form = ExportRequestForm(request.POST, teams=selectors.export_team_choices(actor=actor))
    if form.is_valid():
        team, cases = _scope(actor, form)
        if not form.errors:
            try:
                services.export_request_create(
                    actor=actor, purpose=form.cleaned_data["purpose"], team=team, cases=cases
                )
            except DomainError as error:
                _refuse(form, error)
            else:
                messages.success(
                    request,
                    _(
                        "Export requested. A different coordinator must approve it before you can "
                        "download it."
                    ),
                )
                return redirect("exports:export_list")
    return _render_list(request, status=400, request_form=form)


@login_required
@require_POST
@resumes_after_step_up
def request_approve(request: HttpRequest, export_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    export = selectors.export_request_get(actor=actor, export_id=export_id, action=access.EDIT)
    try:
        services.export_request_check_decider(actor=actor, request=export, step="approve")
        step_up = web_step_up_redirect(request)
        if step_up is not None:
            return step_up
        services.export_request_approve(actor=actor, request=export)
    except DomainError as error:
        return _render_list(request, status=400, error=error.message)
    messages.success(request, _("Export approved. The requester can download it once."))
    return redirect("exports:export_list")


@login_required
@require_POST
def request_reject(request: HttpRequest, export_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    export = selectors.export_request_get(actor=actor, export_id=export_id, action=access.EDIT)
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            services.export_request_reject(
                actor=actor, request=export, reason=form.cleaned_data["reason"]
            )
        except DomainError as error:
            if not error.field_errors:
                return _render_list(request, status=400, error=error.message)
            _refuse(form, error)
        else:
            messages.success(request, _("Export request rejected."))
            return redirect("exports:export_list")
    return _render_list(request, status=400, reject_form=(export.pk, form))


@login_required
@require_POST
@resumes_after_step_up
def request_download(request: HttpRequest, export_id: uuid.UUID) -> HttpResponseBase:
    actor = _actor(request)
    export = selectors.export_request_get(actor=actor, export_id=export_id)
    form = DownloadForm(request.POST)
    if not form.is_valid():
        return _render_list(request, status=400, error=_("Choose JSON or CSV."))
    fmt = form.cleaned_data["format"]
    try:
        services.export_request_check_download(actor=actor, request=export)
        step_up = web_step_up_redirect(request, resume_fields=("format",))
        if step_up is not None:
            return step_up
        plan = services.export_request_download_start(actor=actor, request=export, fmt=fmt)
    except DomainError as error:
        return _render_list(request, status=400, error=error.message)
    header = formats.export_header(
        kind=UNREDACTED, actor=actor, case_count=len(plan.case_ids), request_id=export.pk
    )
    records = selectors.iter_unredacted_cases(actor=actor, plan=plan)
    return formats.streaming_response(kind=UNREDACTED, fmt=fmt, header=header, records=records)
