"""JSON endpoints for exports, under /api/v1/exports. The same rules as the web page: requests
are fetched through the exports selectors (the requester and coordinators see a request; others
get 404), changed through the services. Approving and downloading need a re-authenticated
browser session (refuge.exports.reauth); an API token gets 403 there. Export files are streamed.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponseBase
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from refuge.accounts.api import ErrorOut, Fetch, actor, paginate, responses
from refuge.accounts.models import Team, User
from refuge.accounts.stepup import StepUpRequiredError
from refuge.cases.models import Case
from refuge.core import clock
from refuge.core.errors import DomainError
from refuge.exports import formats, reauth, selectors, services
from refuge.exports.api.schemas import (
    ExportListIn,
    ExportRejectIn,
    ExportRequestIn,
    ExportRequestOut,
    ExportRequestPage,
    ExportScopeIn,
    ExportTeamRefOut,
    ExportUserRefOut,
    RedactedExportIn,
    RedactedExportOut,
    UnredactedExportOut,
)
from refuge.exports.models import ExportRequest, ExportScope, ExportStatus
from refuge.exports.services import REDACTED, UNREDACTED
from refuge.security import access

router = Router(tags=["exports"])
FORBIDDEN = 403

# Service field names -> the API's input field names.
_API_FIELDS = {"team": "team_id", "cases": "case_ids"}


def _export(user: User, export_id: UUID, action: str) -> ExportRequest:
    return selectors.export_request_get(actor=user, export_id=export_id, action=action)


PATH_OBJECTS: dict[str, Fetch] = {"export_id": _export}


def _renamed(error: DomainError) -> DomainError:
    return DomainError(
        error.message,
        field_errors={_API_FIELDS.get(k, k): v for k, v in error.field_errors.items()},
    )


def _refused(field: str, message: str) -> DomainError:
    return DomainError(_("Please correct the errors below."), field_errors={field: [message]})


def _scope(user: User, payload: ExportScopeIn) -> tuple[Team | None, list[Case]]:
    team = None
    if payload.team_id is not None:
        team = selectors.export_team_choices(actor=user).filter(pk=payload.team_id).first()
        if team is None:
            raise _refused("team_id", _("Choose a team you are on."))
    cases, missing = selectors.export_cases_by_id(actor=user, case_ids=payload.case_ids)
    if missing:
        # The same words for "does not exist" and "not yours to see": existence never leaks.
        raise _refused(
            "case_ids",
            _("Unknown case: %(ids)s.") % {"ids": ", ".join(str(i) for i in missing[:5])},
        )
    return team, cases


def _user_ref(user: User | None) -> ExportUserRefOut | None:
    return None if user is None else ExportUserRefOut(id=user.pk, username=user.get_username())


def _request_out(request: ExportRequest) -> ExportRequestOut:
    status = ExportStatus(request.status)
    live = status in {ExportStatus.PENDING, ExportStatus.APPROVED}
    if live and request.expires_at <= clock.now():
        status = ExportStatus.EXPIRED
    requester = _user_ref(request.requested_by)
    assert requester is not None  # noqa: S101 - requested_by is not nullable
    return ExportRequestOut(
        id=request.pk,
        status=status,
        scope=ExportScope(request.scope),
        team=ExportTeamRefOut(id=request.team.pk, name=request.team.name) if request.team else None,
        case_codes=selectors.export_request_case_codes(request=request),
        purpose=request.purpose or "",
        requested_by=requester,
        requested_at=request.requested_at,
        expires_at=request.expires_at,
        decided_by=_user_ref(request.decided_by),
        decided_at=request.decided_at,
        decision_reason=request.decision_reason,
        downloaded_at=request.downloaded_at,
    )


def _step_up_refusal(request: HttpRequest) -> Status[ErrorOut] | None:
    try:
        reauth.api_step_up(request)
    except StepUpRequiredError as error:
        return Status(FORBIDDEN, ErrorOut(detail=error.message))
    return None


# Registered before /exports/{export_id}, so "redacted" is never read as an id.
@router.post(
    "/exports/redacted",
    response=responses(200, RedactedExportOut),
    summary="Download a redacted export (streamed JSON)",
    description="Cases you may see (all, one team's, or the listed ones), with people by "
    "pseudonym and counts only: no identity, contact, address, relative, summary or note. "
    "Audited as refuge.exports.export.downloaded.",
)
def redacted_export(request: HttpRequest, payload: RedactedExportIn) -> HttpResponseBase:
    user = actor(request)
    team, cases = _scope(user, payload)
    try:
        plan = services.redacted_export_start(actor=user, team=team, cases=cases or None)
    except DomainError as error:
        raise _renamed(error) from None
    header = formats.export_header(kind=REDACTED, actor=user, case_count=len(plan.case_ids))
    records = selectors.iter_redacted_cases(actor=user, plan=plan)
    return formats.streaming_response(kind=REDACTED, fmt="json", header=header, records=records)


@router.get(
    "/exports",
    response=responses(200, ExportRequestPage),
    summary="Unredacted export requests: mine, and everyone's for coordinators",
)
def export_list(request: HttpRequest, filters: Query[ExportListIn]) -> ExportRequestPage:
    user = actor(request)
    requests = (
        selectors.export_requests_awaiting(actor=user)
        if filters.awaiting_me
        else selectors.export_request_list(actor=user)
    )
    items, meta = paginate(requests, filters.page)
    return ExportRequestPage(items=[_request_out(r) for r in items], **meta)


@router.post(
    "/exports",
    response=responses(201, ExportRequestOut),
    summary="Request an unredacted export (a different coordinator must approve it)",
)
def export_request(request: HttpRequest, payload: ExportRequestIn) -> Status[ExportRequestOut]:
    user = actor(request)
    team, cases = _scope(user, payload)
    try:
        created = services.export_request_create(
            actor=user, purpose=payload.purpose, team=team, cases=cases
        )
    except DomainError as error:
        raise _renamed(error) from None
    return Status(201, _request_out(created))


@router.get(
    "/exports/{export_id}",
    response=responses(200, ExportRequestOut),
    summary="One export request",
)
def export_get(request: HttpRequest, export_id: UUID) -> ExportRequestOut:
    user = actor(request)
    return _request_out(_export(user, export_id, access.VIEW))


@router.post(
    "/exports/{export_id}/approve",
    response=responses(200, ExportRequestOut),
    summary="Approve another staff member's request (coordinators; needs a re-authenticated "
    "session)",
)
def export_approve(request: HttpRequest, export_id: UUID) -> Any:
    user = actor(request)
    export = _export(user, export_id, access.EDIT)
    services.export_request_check_decider(actor=user, request=export, step="approve")
    refusal = _step_up_refusal(request)
    if refusal is not None:
        return refusal
    return _request_out(services.export_request_approve(actor=user, request=export))


@router.post(
    "/exports/{export_id}/reject",
    response=responses(200, ExportRequestOut),
    summary="Reject another staff member's request, with a reason (coordinators)",
)
def export_reject(
    request: HttpRequest, export_id: UUID, payload: ExportRejectIn
) -> ExportRequestOut:
    user = actor(request)
    export = _export(user, export_id, access.EDIT)
    return _request_out(
        services.export_request_reject(actor=user, request=export, reason=payload.reason)
    )


@router.post(
    "/exports/{export_id}/download",
    response=responses(200, UnredactedExportOut),
    summary="Download an approved export once (the requester; needs a re-authenticated "
    "session; streamed JSON)",
)
def export_download(request: HttpRequest, export_id: UUID) -> Any:
    user = actor(request)
    export = _export(user, export_id, access.VIEW)
    services.export_request_check_download(actor=user, request=export)
    refusal = _step_up_refusal(request)
    if refusal is not None:
        return refusal
    plan = services.export_request_download_start(actor=user, request=export)
    header = formats.export_header(
        kind=UNREDACTED, actor=user, case_count=len(plan.case_ids), request_id=export.pk
    )
    records = selectors.iter_unredacted_cases(actor=user, plan=plan)
    return formats.streaming_response(kind=UNREDACTED, fmt="json", header=header, records=records)
