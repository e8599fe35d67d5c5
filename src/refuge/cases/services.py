"""Writes on cases, their timeline and tasks: atomic, audited in the same transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from refuge.accounts.models import Role, Team, TeamMembership
from refuge.cases.models import TRANSITIONS, Case, CaseStatus, CaseType, Task, TimelineEntry
from refuge.core import clock
from refuge.core.errors import DomainError
from refuge.core.ids import random_code
from refuge.people import validation
from refuge.people.models import ProtectedPerson, RiskLevel
from refuge.security import access, audit

MAX_TEXT = 20_000
MAX_TASK_TITLE = 300
CASE_OPENERS = {Role.COORDINATOR, Role.CASEWORKER, Role.LAWYER, Role.OPERATOR}


def openable_case_types(actor: Any) -> tuple[str, ...]:
    """The case types case_open accepts from `actor`, so forms offer nothing it would refuse."""
    if actor.role not in CASE_OPENERS:
        return ()
    if actor.role == Role.OPERATOR:
        return (CaseType.EMERGENCY,)
    return tuple(CaseType.values)


def _invalid(errors: dict[str, list[str]]) -> DomainError:
    return DomainError(_("Please correct the errors below."), field_errors=errors)


def _check_team(
    actor: Any, team: Team | None, errors: dict[str, list[str]], *, any_team: bool = False
) -> None:
    """Staff give cases to their own teams; coordinators, and operators routing an emergency to
    the team that must respond, to any team."""
    if team is None:
        errors.setdefault("team", []).append(_("Choose a team."))
    elif (
        actor.role != Role.COORDINATOR
        and not any_team
        and not TeamMembership.objects.filter(team=team, user=actor).exists()
    ):
        errors.setdefault("team", []).append(_("You can only give cases to a team you are on."))


def _check_people(actor: Any, people: list[ProtectedPerson], errors: dict[str, list[str]]) -> None:
    """Only people the actor may see can be put on a case (defence in depth: the interfaces
    already fetch them through access)."""
    ids = {p.pk for p in people}
    visible = access.scope(actor, ProtectedPerson.objects.filter(pk__in=ids)).count()
    if visible != len(ids):
        errors.setdefault("people", []).append(_("One of the chosen people cannot be found."))


def _timeline(
    case: Case,
    *,
    kind: str,
    author: Any,
    text: str | None = None,
    data: dict[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
) -> TimelineEntry:
    entry = TimelineEntry(
        case=case, kind=kind, author=author, occurred_at=occurred_at or clock.now(), data=data or {}
    )
    entry.text = text or None
    entry.save(force_insert=True)
    return entry


def case_open(
    *,
    actor: Any,
    case_type: str,
    team: Team | None,
    people: Iterable[ProtectedPerson] = (),
    risk_level: str = RiskLevel.HIGH,
    summary: str = "",
) -> Case:
    """Open a case. `people` must already have been fetched through access by the caller."""
    if actor.role not in CASE_OPENERS:
        raise DomainError(_("Your role cannot open cases."))
    errors: dict[str, list[str]] = {}
    if case_type not in CaseType.values:
        errors.setdefault("case_type", []).append(_("Choose a case type from the list."))
    elif actor.role == Role.OPERATOR and case_type != CaseType.EMERGENCY:
        errors.setdefault("case_type", []).append(_("Operators open emergency cases only."))
    if risk_level not in RiskLevel.values:
        errors.setdefault("risk_level", []).append(_("Choose a risk level from the list."))
    emergency_by_operator = actor.role == Role.OPERATOR and case_type == CaseType.EMERGENCY
    _check_team(actor, team, errors, any_team=emergency_by_operator)
    summary = validation.clean_text(summary, limit=MAX_TEXT, field="summary", errors=errors)
    people = list(people)
    _check_people(actor, people, errors)
    if errors:
        raise _invalid(errors)
    with transaction.atomic():
        for attempt in range(40):
            case = Case(
                # Four characters while they are plentiful; longer once collisions show the
                # short codes filling up (30^4 = 810,000 codes).
                code=random_code("K", length=4 + attempt // 8),
                case_type=case_type,
                risk_level=risk_level,
                team=team,
                opened_by=actor,
            )
            case.summary = summary or None
            try:
                with transaction.atomic():
                    case.save(force_insert=True)
                break
            except IntegrityError:
                continue  # code collision: draw again
        else:  # pragma: no cover - 40 collisions in a row, even at 8 characters
            raise DomainError(_("Could not allocate a case code; try again."))
        case.people.set(people)
        _timeline(
            case,
            kind=TimelineEntry.Kind.OPENED,
            author=actor,
            data={"type": case_type, "people": [p.pseudonym for p in people]},
        )
        audit.record(
            "refuge.cases.case.opened",
            actor=actor,
            obj=case,
            detail={
                "code": case.code,
                "type": case_type,
                "team": str(case.team_id),
                "people": [str(p.pk) for p in people],
            },
        )
    return case


def case_update(
    *,
    actor: Any,
    case: Case,
    risk_level: str | None = None,
    summary: str | None = None,
    team: Team | None = None,
    people: Iterable[ProtectedPerson] | None = None,
) -> Case:
    """Change a case fetched through access with action=EDIT."""
    people = list(people) if people is not None else None
    summary = _check_update(
        actor, case, risk_level=risk_level, summary=summary, team=team, people=people
    )
    changed: list[str] = []
    with transaction.atomic():
        if risk_level is not None and risk_level != case.risk_level:
            case.risk_level = risk_level
            changed.append("risk_level")
        if summary is not None and (summary or None) != case.summary:
            case.summary = summary or None
            changed.append("summary")
        if team is not None and team.pk != case.team_id:
            _timeline(
                case,
                kind=TimelineEntry.Kind.ASSIGNMENT,
                author=actor,
                data={"from_team": case.team.name, "to_team": team.name},
            )
            case.team = team
            changed.append("team")
        if people is not None and _set_people(actor, case, people):
            changed.append("people")
        if changed:
            case.save()
            audit.record(
                "refuge.cases.case.updated", actor=actor, obj=case, detail={"fields": changed}
            )
    return case


def case_add_person(*, actor: Any, case: Case, person: ProtectedPerson) -> Case:
    """Put one more person on a case fetched with action=EDIT (`person` fetched through access)."""
    if case.people.filter(pk=person.pk).exists():
        raise DomainError(
            _("%(pseudonym)s is already on case %(code)s.")
            % {"pseudonym": person.pseudonym, "code": case.code}
        )
    return case_update(actor=actor, case=case, people=[*case.people.all(), person])


def _check_update(
    actor: Any,
    case: Case,
    *,
    risk_level: str | None,
    summary: str | None,
    team: Team | None,
    people: list[ProtectedPerson] | None,
) -> str | None:
    """Validate a case change; returns the cleaned summary."""
    errors: dict[str, list[str]] = {}
    if risk_level is not None and risk_level not in RiskLevel.values:
        errors.setdefault("risk_level", []).append(_("Choose a risk level from the list."))
    if team is not None and team.pk != case.team_id:
        _check_team(actor, team, errors)
    if summary is not None:
        summary = validation.clean_text(summary, limit=MAX_TEXT, field="summary", errors=errors)
    if people is not None:
        _check_people(actor, people, errors)
    if errors:
        raise _invalid(errors)
    return summary


def _set_people(actor: Any, case: Case, people: Iterable[ProtectedPerson]) -> bool:
    new = {p.pk: p for p in people}
    if set(new) == set(case.people.values_list("pk", flat=True)):
        return False
    case.people.set(list(new.values()))
    _timeline(
        case,
        kind=TimelineEntry.Kind.PEOPLE,
        author=actor,
        data={"people": sorted(p.pseudonym for p in new.values())},
    )
    return True


def case_transition(*, actor: Any, case: Case, to_status: str, note: str = "") -> Case:
    allowed = TRANSITIONS.get(case.status, ())
    if to_status not in allowed:
        labels = ", ".join(str(CaseStatus(s).label) for s in allowed) or _(
            "none (the case is final)"
        )
        current = CaseStatus(case.status).label
        raise DomainError(
            _(
                "A case cannot go from “%(current)s” to “%(target)s”. "
                "Allowed next statuses: %(allowed)s."
            )
            % {"current": current, "target": to_status[:30], "allowed": labels},
            field_errors={"status": [_("Allowed: %(allowed)s.") % {"allowed": labels}]},
        )
    errors: dict[str, list[str]] = {}
    note = validation.clean_text(note, limit=MAX_TEXT, field="note", errors=errors)
    if errors:
        raise _invalid(errors)
    with transaction.atomic():
        previous = case.status
        case.status = to_status
        case.closed_at = clock.now() if to_status == CaseStatus.CLOSED else case.closed_at
        if to_status == CaseStatus.ACTIVE:
            case.closed_at = None
        case.save()
        _timeline(
            case,
            kind=TimelineEntry.Kind.STATUS,
            author=actor,
            text=note,
            data={"from": previous, "to": to_status},
        )
        audit.record(
            "refuge.cases.case.status_changed",
            actor=actor,
            obj=case,
            detail={"from": previous, "to": to_status},
        )
    return case


def timeline_add(
    *, actor: Any, case: Case, kind: str, text: str, occurred_at: dt.datetime | None = None
) -> TimelineEntry:
    errors: dict[str, list[str]] = {}
    if kind not in {TimelineEntry.Kind.NOTE, TimelineEntry.Kind.CALL}:
        errors.setdefault("kind", []).append(_("Choose note or call."))
    text = validation.clean_text(text, limit=MAX_TEXT, field="text", errors=errors)
    if not text:
        errors.setdefault("text", []).append(_("Write something first."))
    if occurred_at is not None and occurred_at > clock.now() + dt.timedelta(minutes=5):
        errors.setdefault("occurred_at", []).append(_("This time is in the future."))
    if errors:
        raise _invalid(errors)
    with transaction.atomic():
        entry = _timeline(case, kind=kind, author=actor, text=text, occurred_at=occurred_at)
        audit.record(
            f"refuge.cases.{kind}.added", actor=actor, obj=entry, detail={"case": str(case.pk)}
        )
    return entry


def _check_assignee(case: Case, assignee: Any, errors: dict[str, list[str]]) -> None:
    if assignee is None:
        return
    on_team = TeamMembership.objects.filter(team_id=case.team_id, user=assignee).exists()
    if not (on_team or assignee.role == Role.COORDINATOR) or not assignee.is_active:
        errors.setdefault("assignee", []).append(_("Assign the task to someone on the case team."))


def task_create(
    *, actor: Any, case: Case, title: str, due_date: dt.date | None = None, assignee: Any = None
) -> Task:
    errors: dict[str, list[str]] = {}
    title = validation.clean_text(title, limit=MAX_TASK_TITLE, field="title", errors=errors)
    if not title:
        errors.setdefault("title", []).append(_("Say what needs doing."))
    _check_assignee(case, assignee, errors)
    if errors:
        raise _invalid(errors)
    with transaction.atomic():
        task = Task(case=case, due_date=due_date, assignee=assignee, created_by=actor)
        task.title = title
        task.save(force_insert=True)
        _timeline(
            case,
            kind=TimelineEntry.Kind.TASK,
            author=actor,
            data={
                "task": str(task.pk),
                "event": "created",
                "due": due_date.isoformat() if due_date else None,
                "assignee": assignee.get_username() if assignee else None,
            },
        )
        audit.record(
            "refuge.cases.task.created", actor=actor, obj=task, detail={"case": str(case.pk)}
        )
    return task


def task_complete(*, actor: Any, task: Task) -> Task:
    if task.done_at is not None:
        raise DomainError(_("This task is already done."))
    with transaction.atomic():
        task.done_at = clock.now()
        task.save()
        _timeline(
            task.case,
            kind=TimelineEntry.Kind.TASK,
            author=actor,
            data={"task": str(task.pk), "event": "done"},
        )
        audit.record(
            "refuge.cases.task.completed", actor=actor, obj=task, detail={"case": str(task.case_id)}
        )
    return task


def task_reopen(*, actor: Any, task: Task) -> Task:
    if task.done_at is None:
        raise DomainError(_("This task is still open."))
    with transaction.atomic():
        task.done_at = None
        task.save()
        _timeline(
            task.case,
            kind=TimelineEntry.Kind.TASK,
            author=actor,
            data={"task": str(task.pk), "event": "reopened"},
        )
        audit.record(
            "refuge.cases.task.reopened", actor=actor, obj=task, detail={"case": str(task.case_id)}
        )
    return task
