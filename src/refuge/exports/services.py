"""Writes of the exports app: atomic, audited in the same transaction, never with content.

The two-person rule (security design b.6): an unredacted export is requested with a purpose,
approved or rejected by a *different* coordinator, and downloaded once by its requester within
REFUGE_EXPORT_DOWNLOAD_HOURS of the approval. A request nobody decides within the same window
expires. A redacted export needs no approval. Refused attempts are audited too (and committed
before the refusal is raised), because a coerced insider trying is itself a signal.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from refuge.accounts.models import Role, Team
from refuge.cases.access import NO_IDENTITY_ROLES
from refuge.cases.models import Case
from refuge.core import clock
from refuge.core.errors import DomainError
from refuge.exports import selectors
from refuge.exports.models import ExportRequest, ExportScope, ExportStatus
from refuge.exports.selectors import MAX_CASES_IN_REQUEST, ExportPlan
from refuge.security import access, audit

REQUESTED = "refuge.exports.export.requested"
APPROVED = "refuge.exports.export.approved"
REJECTED = "refuge.exports.export.rejected"
DOWNLOADED = "refuge.exports.export.downloaded"
EXPIRED = "refuge.exports.export.expired"
REFUSED = "refuge.exports.export.refused"

FORMATS = ("json", "csv")
MAX_PURPOSE = 2000
MAX_REASON = 2000
REDACTED = "redacted"
UNREDACTED = "unredacted"


def download_window() -> dt.timedelta:
    return dt.timedelta(hours=int(settings.EXPORT_DOWNLOAD_HOURS))


def may_request_unredacted(actor: Any) -> bool:
    """Only roles that may ever see a legal identity may ask for an export of identities."""
    return bool(actor.is_active) and actor.role not in NO_IDENTITY_ROLES


def may_export_redacted(actor: Any) -> bool:
    # Administrators see no case record at all (cases.access), so they have nothing to export.
    return bool(actor.is_active) and actor.role != Role.ADMIN


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(_("Please correct the errors below."), field_errors={field: [message]})


def _refuse(actor: Any, request: ExportRequest | None, step: str, why: str, message: str) -> None:
    """Audit a refused attempt in its own transaction, then refuse."""
    with transaction.atomic():
        audit.record(
            REFUSED,
            actor=actor,
            obj=request,
            object_type="" if request else "exports.exportrequest",
            detail={"step": step, "why": why},
        )
    raise DomainError(message)


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise _invalid("format", _("Choose JSON or CSV."))


def _check_scope(
    actor: Any, team: Team | None, cases: list[Case] | None, *, required: bool
) -> None:
    if team is not None and cases:
        raise _invalid("__all__", _("Choose either a team or a list of cases, not both."))
    if required and team is None and not cases:
        raise _invalid("__all__", _("Choose a team or list the cases to export."))
    if team is not None and not selectors.export_team_choices(actor=actor).filter(pk=team.pk):
        raise _invalid("team", _("You can only export the cases of a team you are on."))
    if cases:
        if len(cases) > MAX_CASES_IN_REQUEST:
            raise _invalid(
                "cases",
                _("List at most %(limit)s cases, or export a team.")
                % {"limit": MAX_CASES_IN_REQUEST},
            )
        ids = {c.pk for c in cases}
        # Defence in depth: the interfaces already resolved the cases through the selectors.
        if access.scope(actor, Case.objects.filter(pk__in=ids)).count() != len(ids):
            raise _invalid("cases", _("One of the listed cases cannot be found."))


def redacted_export_start(
    *, actor: Any, team: Team | None = None, cases: list[Case] | None = None, fmt: str = "json"
) -> ExportPlan:
    """Plan a redacted export of the cases `actor` may see (all of them, one team's, or the
    listed ones) and audit it; the caller streams the records."""
    if not may_export_redacted(actor):
        raise DomainError(_("Your role sees no case records, so there is nothing to export."))
    _check_format(fmt)
    _check_scope(actor, team, cases, required=False)
    case_ids = [c.pk for c in cases] if cases else None
    plan = selectors.export_plan(actor=actor, team=team, case_ids=case_ids)
    with transaction.atomic():
        audit.record(
            DOWNLOADED,
            actor=actor,
            object_type="exports.redacted",
            detail={
                "kind": REDACTED,
                "format": fmt,
                "team_id": str(team.pk) if team else None,
                "cases": len(plan.case_ids),
                "case_ids": [str(i) for i in plan.case_ids],
            },
        )
    return plan


def export_request_create(
    *, actor: Any, purpose: str, team: Team | None = None, cases: list[Case] | None = None
) -> ExportRequest:
    if not may_request_unredacted(actor):
        raise DomainError(
            _(
                "Your role never sees legal identities, so it cannot request an unredacted "
                "export. A redacted export is available to you."
            )
        )
    purpose = (purpose or "").strip()
    if not purpose:
        raise _invalid("purpose", _("Say what the export is for: the approver needs to know."))
    if len(purpose) > MAX_PURPOSE:
        raise _invalid(
            "purpose", _("Keep the purpose under %(limit)s characters.") % {"limit": MAX_PURPOSE}
        )
    _check_scope(actor, team, cases, required=True)
    case_ids = [c.pk for c in cases] if cases else None
    if not selectors.export_plan(actor=actor, team=team, case_ids=case_ids).case_ids:
        raise _invalid("team", _("There is no case you can see in this team."))
    now = clock.now()
    with transaction.atomic():
        request = ExportRequest(
            requested_by=actor,
            requested_at=now,
            scope=ExportScope.TEAM if team is not None else ExportScope.CASES,
            team=team,
            expires_at=now + download_window(),
        )
        request.purpose = purpose
        request.save(force_insert=True)
        if cases:
            request.cases.set(cases)
        audit.record(
            REQUESTED,
            actor=actor,
            obj=request,
            detail={
                "scope": request.scope,
                "team_id": str(team.pk) if team else None,
                "case_ids": sorted(str(c.pk) for c in cases or []),
            },
        )
    return request


def _expire_if_overdue(request: ExportRequest, now: dt.datetime) -> bool:
    """Mark an overdue pending or approved request expired (audited); True if it was."""
    live = (ExportStatus.PENDING, ExportStatus.APPROVED)
    if request.status not in live or request.expires_at > now:
        return False
    with transaction.atomic():
        changed = ExportRequest.objects.filter(pk=request.pk, status__in=live).update(
            status=ExportStatus.EXPIRED, updated_at=now
        )
        if changed:
            audit.record(EXPIRED, actor=None, obj=request, detail={"was": request.status})
    request.status = ExportStatus.EXPIRED
    return True


def export_request_check_decider(*, actor: Any, request: ExportRequest, step: str) -> None:
    """Refuse (audited) a decision by a non-coordinator or by the requester. The interfaces
    call this before asking for a re-authentication, so the refusal comes first."""
    if actor.role != Role.COORDINATOR:
        _refuse(
            actor,
            request,
            step,
            "not_coordinator",
            _("Only a coordinator can approve or reject an export request."),
        )
    if request.requested_by_id == actor.pk:
        _refuse(
            actor,
            request,
            step,
            "own_request",
            _(
                "You requested this export yourself. A different coordinator must decide on "
                "it: that is the two-person rule."
            ),
        )


def _not_pending_message(request: ExportRequest) -> str:
    if request.status == ExportStatus.EXPIRED:
        return _("This request has expired. The requester can ask again.")
    return _("This request has already been decided.")


def _decide(actor: Any, request: ExportRequest, *, approve: bool, reason: str) -> ExportRequest:
    step = "approve" if approve else "reject"
    export_request_check_decider(actor=actor, request=request, step=step)
    now = clock.now()
    _expire_if_overdue(request, now)
    with transaction.atomic():
        # The row's current status, locked: the caller's copy may be stale.
        current = (
            ExportRequest.objects.select_for_update()
            .only("status", "expires_at")
            .get(pk=request.pk)
        )
        if current.status == ExportStatus.PENDING and current.expires_at <= now:
            current.status = ExportStatus.EXPIRED  # overdue since the check above: refuse
        if current.status != ExportStatus.PENDING:
            request.status = current.status
            raise DomainError(_not_pending_message(current))
        request.status = ExportStatus.APPROVED if approve else ExportStatus.REJECTED
        request.decided_by = actor
        request.decided_at = now
        if approve:
            request.expires_at = now + download_window()
        request.decision_reason = reason or None
        request.save(
            update_fields=[
                "status",
                "decided_by",
                "decided_at",
                "expires_at",
                "decision_reason",
                "updated_at",
            ]
        )
        audit.record(
            APPROVED if approve else REJECTED,
            actor=actor,
            obj=request,
            detail={"requested_by": str(request.requested_by_id)},
        )
    return request


def export_request_approve(*, actor: Any, request: ExportRequest) -> ExportRequest:
    """A second coordinator's approval; the download window starts now. Needs a recent
    re-authentication, which the interfaces check (refuge.exports.reauth)."""
    return _decide(actor, request, approve=True, reason="")


def export_request_reject(*, actor: Any, request: ExportRequest, reason: str) -> ExportRequest:
    reason = (reason or "").strip()
    if not reason:
        raise _invalid("reason", _("Give the requester a reason for the rejection."))
    if len(reason) > MAX_REASON:
        raise _invalid(
            "reason", _("Keep the reason under %(limit)s characters.") % {"limit": MAX_REASON}
        )
    return _decide(actor, request, approve=False, reason=reason)


def _status_refusal(status: str) -> tuple[str, str] | None:
    messages = {
        ExportStatus.DOWNLOADED: (
            "spent",
            _(
                "This export has already been downloaded; each approval allows one download. "
                "Request a new export if you need it again."
            ),
        ),
        ExportStatus.PENDING: ("pending", _("This export has not been approved yet.")),
        ExportStatus.REJECTED: ("rejected", _("This export was rejected.")),
        ExportStatus.EXPIRED: (
            "expired",
            _("The download window has closed. Request the export again."),
        ),
    }
    return messages.get(ExportStatus(status))


def _download_refusal(actor: Any, request: ExportRequest) -> tuple[str, str] | None:
    if request.requested_by_id != actor.pk:
        return "not_requester", _("Only the person who requested this export can download it.")
    refusal = _status_refusal(request.status)
    if refusal is None and not may_request_unredacted(actor):
        return "role", _("Your role no longer allows unredacted exports.")
    return refusal


def export_request_check_download(*, actor: Any, request: ExportRequest) -> None:
    """Refuse (audited) a download that cannot happen; see export_request_check_decider."""
    request.refresh_from_db(fields=["status", "expires_at", "downloaded_at"])
    _expire_if_overdue(request, clock.now())
    refusal = _download_refusal(actor, request)
    if refusal is not None:
        _refuse(actor, request, "download", *refusal)


def export_request_download_start(
    *, actor: Any, request: ExportRequest, fmt: str = "json"
) -> ExportPlan:
    """Spend an approved request and plan its records; the caller streams them. The request is
    spent when the download starts, so an interrupted download needs a new request: a second
    copy of the file must never be possible."""
    _check_format(fmt)
    export_request_check_download(actor=actor, request=request)
    now = clock.now()
    with transaction.atomic():
        spent = ExportRequest.objects.filter(
            pk=request.pk,
            requested_by=actor,
            status=ExportStatus.APPROVED,
            expires_at__gt=now,
        ).update(status=ExportStatus.DOWNLOADED, downloaded_at=now, updated_at=now)
        if not spent:
            # Another download of the same request won the race.
            raise DomainError(_("This export has already been downloaded."))
        request.refresh_from_db()
        plan = selectors.export_plan_for_request(request=request)
        audit.record(
            DOWNLOADED,
            actor=actor,
            obj=request,
            detail={
                "kind": UNREDACTED,
                "format": fmt,
                "cases": len(plan.case_ids),
                "case_ids": [str(i) for i in plan.case_ids],
                "revealed_people": sorted(str(i) for i in plan.revealed_person_ids),
            },
        )
    return plan


def export_requests_expire(now: dt.datetime | None = None) -> int:
    """Expire every request whose approval deadline or download window has passed."""
    now = now or clock.now()
    overdue = ExportRequest.objects.filter(
        status__in=(ExportStatus.PENDING, ExportStatus.APPROVED), expires_at__lte=now
    )
    return sum(_expire_if_overdue(request, now) for request in overdue)
