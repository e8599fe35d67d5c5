"""Reads for exports, always scoped by need-to-know (refuge.security.access.scope).

An export is planned first (which cases, whose identities), so the audit entry can name what
leaves before a byte is sent; then the records are read in batches while the file streams.
Nothing here writes; the plan is re-applied through scope() for every batch, so a record the
actor lost access to in the meantime is left out rather than sent.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from refuge.accounts.models import Role, Team
from refuge.cases.models import Case, Task, TimelineEntry
from refuge.core import clock
from refuge.exports.models import ExportRequest, ExportScope, ExportStatus
from refuge.people.models import ProtectedPerson, Relative, RelativeContact
from refuge.security import access

BATCH = 100
MAX_CASES_IN_REQUEST = 500
_CODE_SEPARATORS = re.compile(r"[\s,;]+")


# --- Requests ------------------------------------------------------------------------------------


def export_request_list(*, actor: Any) -> QuerySet[ExportRequest]:
    return (
        access.scope(actor, ExportRequest.objects.all())
        .select_related("requested_by", "decided_by", "team", "data_key")
        .prefetch_related(Prefetch("cases", queryset=Case.objects.only("id", "code")))
        .order_by("-requested_at")
    )


def export_requests_mine(*, actor: Any) -> QuerySet[ExportRequest]:
    return export_request_list(actor=actor).filter(requested_by=actor)


def export_requests_awaiting(*, actor: Any) -> QuerySet[ExportRequest]:
    """Requests `actor` could approve now: other people's, pending and not overdue."""
    if actor.role != Role.COORDINATOR:
        return ExportRequest.objects.none()
    return (
        export_request_list(actor=actor)
        .filter(status=ExportStatus.PENDING, expires_at__gt=clock.now())
        .exclude(requested_by=actor)
        .order_by("requested_at")
    )


def export_pending_approval_count(*, actor: Any) -> int:
    if actor.role != Role.COORDINATOR:
        return 0
    return (
        access.scope(actor, ExportRequest.objects.all())
        .filter(status=ExportStatus.PENDING, expires_at__gt=clock.now())
        .exclude(requested_by=actor)
        .count()
    )


def export_request_get(*, actor: Any, export_id: Any, action: str = access.VIEW) -> ExportRequest:
    return access.get_or_404(
        actor,
        ExportRequest.objects.select_related("requested_by", "decided_by", "team", "data_key"),
        action=action,
        pk=export_id,
    )


def export_request_case_codes(*, request: ExportRequest) -> list[str]:
    return sorted(case.code for case in request.cases.all())


# --- Choosing a scope ----------------------------------------------------------------------------


def export_team_choices(*, actor: Any) -> QuerySet[Team]:
    """Teams whose cases `actor` may name as a scope: their own; every team for coordinators."""
    if actor.role == Role.COORDINATOR:
        return Team.objects.order_by("name")
    return Team.objects.filter(memberships__user=actor).distinct().order_by("name")


def parse_case_codes(text: str) -> list[str]:
    return list(dict.fromkeys(c.upper() for c in _CODE_SEPARATORS.split(text.strip()) if c))


def export_cases_by_code(*, actor: Any, codes: Iterable[str]) -> tuple[list[Case], list[str]]:
    """The cases `actor` may see among `codes`, and the codes not found (or not visible: the
    two look the same)."""
    wanted = [c.upper() for c in codes]
    found = {c.code: c for c in access.scope(actor, Case.objects.filter(code__in=wanted[:1000]))}
    return [found[c] for c in wanted if c in found], [c for c in wanted if c not in found]


def export_cases_by_id(
    *, actor: Any, case_ids: Iterable[uuid.UUID]
) -> tuple[list[Case], list[uuid.UUID]]:
    wanted = list(dict.fromkeys(case_ids))
    found = {c.pk: c for c in access.scope(actor, Case.objects.filter(pk__in=wanted[:1000]))}
    return [found[i] for i in wanted if i in found], [i for i in wanted if i not in found]


# --- Planning and reading an export --------------------------------------------------------------


@dataclass(frozen=True)
class ExportPlan:
    case_ids: list[uuid.UUID]
    # People whose legal identity (and relatives) the export carries; empty when redacted.
    revealed_person_ids: frozenset[uuid.UUID]


def _cases_in_scope(
    actor: Any, *, team: Team | None, case_ids: Iterable[uuid.UUID] | None
) -> QuerySet[Case]:
    cases = access.scope(actor, Case.objects.all())
    if team is not None:
        cases = cases.filter(team=team)
    if case_ids is not None:
        cases = cases.filter(pk__in=list(case_ids))
    return cases


def export_plan(
    *,
    actor: Any,
    team: Team | None = None,
    case_ids: Iterable[uuid.UUID] | None = None,
    reveal: bool = False,
) -> ExportPlan:
    """Which cases `actor` may export in this scope and, when `reveal`, whose identities:
    only those `actor` may reveal (security.access.can_reveal: minors for team leads and
    coordinators only; never for operators, analysts or admins)."""
    ids = list(
        _cases_in_scope(actor, team=team, case_ids=case_ids)
        .order_by("code")
        .values_list("pk", flat=True)
    )
    revealed: set[uuid.UUID] = set()
    if reveal:
        people = access.scope(actor, ProtectedPerson.objects.filter(cases__in=ids).distinct()).only(
            "id", "is_minor"
        )
        revealed = {p.pk for p in people if access.can_reveal(actor, p)}
    return ExportPlan(case_ids=ids, revealed_person_ids=frozenset(revealed))


def export_plan_for_request(*, request: ExportRequest) -> ExportPlan:
    """The plan of an approved request, with the requester's need-to-know of today."""
    actor = request.requested_by
    case_ids = None
    if request.scope == ExportScope.CASES:
        case_ids = list(request.cases.values_list("pk", flat=True))
    return export_plan(actor=actor, team=request.team, case_ids=case_ids, reveal=True)


def _batches(ids: list[uuid.UUID]) -> Iterator[list[uuid.UUID]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def _person_out(person: ProtectedPerson) -> dict[str, Any]:
    return {
        "id": person.pk,
        "pseudonym": person.pseudonym,
        "risk_level": person.risk_level,
        "is_minor": person.is_minor,
        "languages": person.language_list,
    }


def _counts(cases: QuerySet[Case]) -> QuerySet[Case]:
    return cases.annotate(
        timeline_entries=Count("timeline", distinct=True),
        tasks_open=Count("tasks", filter=Q(tasks__done_at__isnull=True), distinct=True),
        tasks_done=Count("tasks", filter=Q(tasks__done_at__isnull=False), distinct=True),
    )


def _case_out(case: Any) -> dict[str, Any]:
    return {
        "id": case.pk,
        "code": case.code,
        "case_type": case.case_type,
        "status": case.status,
        "risk_level": case.risk_level,
        "team": case.team.name,
        "opened_at": case.created_at,
        "updated_at": case.updated_at,
        "closed_at": case.closed_at,
        "timeline_entries": case.timeline_entries,
        "tasks_open": case.tasks_open,
        "tasks_done": case.tasks_done,
    }


def iter_redacted_cases(*, actor: Any, plan: ExportPlan) -> Iterator[dict[str, Any]]:
    """Case metadata, counts and people by pseudonym: no identity, contact, address, relative,
    summary, note or timeline text."""
    people = access.scope(actor, ProtectedPerson.objects.all()).only(
        "id", "pseudonym", "risk_level", "is_minor", "languages"
    )
    for batch in _batches(plan.case_ids):
        cases = _counts(access.scope(actor, Case.objects.filter(pk__in=batch)))
        cases = cases.select_related("team").prefetch_related(
            Prefetch("people", queryset=people.order_by("pseudonym"))
        )
        for case in cases.order_by("code"):
            yield {**_case_out(case), "people": [_person_out(p) for p in case.people.all()]}


def _identity_out(person: ProtectedPerson) -> dict[str, Any]:
    return {
        "legal_name": person.legal_name,
        "aliases": person.aliases,
        "date_of_birth": person.date_of_birth,
        "phones": person.phones,
        "messengers": person.messengers,
        "address": person.address,
        "notes": person.notes,
    }


def _relative_out(relative: Relative) -> dict[str, Any]:
    return {
        "relation": relative.relation,
        "risk_level": relative.risk_level,
        "name": relative.name,
        "phones": relative.phones,
        "location": relative.location,
        "notes": relative.notes,
        "contacts": [_contact_out(contact) for contact in relative.contacts.all()],
    }


def _contact_out(contact: RelativeContact) -> dict[str, Any]:
    return {
        "occurred_at": contact.occurred_at,
        "channel": contact.channel,
        "direction": contact.direction,
        "staff": _username(contact.staff),
        "follow_up_needed": contact.follow_up_needed,
        "summary": contact.summary,
    }


def _unredacted_person_out(person: ProtectedPerson, plan: ExportPlan) -> dict[str, Any]:
    revealed = person.pk in plan.revealed_person_ids
    return {
        **_person_out(person),
        "identity": _identity_out(person) if revealed else None,
        "relatives": [_relative_out(r) for r in person.relatives.all()] if revealed else [],
    }


def _unredacted_cases(actor: Any, batch: list[uuid.UUID]) -> QuerySet[Case]:
    contacts = access.scope(
        actor, RelativeContact.objects.select_related("staff", "data_key")
    ).order_by("occurred_at", "created_at")
    relatives = access.scope(
        actor, Relative.objects.select_related("data_key", "location_key")
    ).prefetch_related(Prefetch("contacts", queryset=contacts))
    people = (
        access.scope(actor, ProtectedPerson.objects.select_related("data_key", "location_key"))
        .prefetch_related(Prefetch("relatives", queryset=relatives.order_by("created_at")))
        .order_by("pseudonym")
    )
    timeline = access.scope(
        actor, TimelineEntry.objects.select_related("author", "data_key")
    ).order_by("occurred_at", "created_at")
    tasks = access.scope(actor, Task.objects.select_related("assignee", "data_key")).order_by(
        "created_at"
    )
    return (
        _counts(access.scope(actor, Case.objects.filter(pk__in=batch)))
        .select_related("team", "data_key")
        .prefetch_related(
            Prefetch("people", queryset=people),
            Prefetch("timeline", queryset=timeline),
            Prefetch("tasks", queryset=tasks),
        )
        .order_by("code")
    )


def _username(user: Any) -> str | None:
    return None if user is None else str(user.get_username())


def iter_unredacted_cases(*, actor: Any, plan: ExportPlan) -> Iterator[dict[str, Any]]:
    """Everything `actor` may read on each case: the summary, the timeline and tasks with their
    text, and the identities, contacts, addresses and relatives (with the log of contacts with
    them) of the people in
    `plan.revealed_person_ids` (the others by pseudonym, with `identity` null)."""
    for batch in _batches(plan.case_ids):
        for case in _unredacted_cases(actor, batch):
            yield {
                **_case_out(case),
                "summary": case.summary,
                "people": [_unredacted_person_out(p, plan) for p in case.people.all()],
                "timeline": [
                    {
                        "occurred_at": entry.occurred_at,
                        "kind": entry.kind,
                        "author": _username(entry.author),
                        "text": entry.text,
                    }
                    for entry in case.timeline.all()
                ],
                "tasks": [
                    {
                        "title": task.title,
                        "due_date": task.due_date,
                        "done_at": task.done_at,
                        "assignee": _username(task.assignee),
                    }
                    for task in case.tasks.all()
                ],
            }


def export_requests_for_system(*, status: str = "") -> QuerySet[ExportRequest]:
    """Every request, for `refuge export list` on the server's command line, which acts as the
    system (like `refuge token list`): whoever has that shell can read the database anyway."""
    requests = ExportRequest.objects.select_related("requested_by", "decided_by", "team")
    if status:
        requests = requests.filter(status=status)
    return requests.annotate(case_count=Count("cases")).order_by("-requested_at")
