"""JSON endpoints for cases, their timeline and tasks.

Cases, timelines and tasks are fetched through the cases selectors (need-to-know via
security.access.scope; reading needs VIEW, changing needs EDIT) and changed through the cases
services. People referenced in a request are looked up through the people selectors, so an id
the caller may not see is refused exactly like an id that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from refuge.accounts.api import Fetch, actor, paginate, responses
from refuge.accounts.models import Team, User
from refuge.cases import selectors, services
from refuge.cases.api.schemas import (
    CaseCreateIn,
    CaseFilterIn,
    CaseListOut,
    CaseOut,
    CasePage,
    CaseUpdateIn,
    PersonRefOut,
    TaskIn,
    TaskOut,
    TeamOut,
    TeamRefOut,
    TimelineEntryIn,
    TimelineEntryOut,
    TransitionIn,
    UserRefOut,
)
from refuge.cases.models import Case, CaseStatus, CaseType, Task, TimelineEntry
from refuge.core.errors import DomainError
from refuge.people import selectors as people_selectors
from refuge.people.models import ProtectedPerson, RiskLevel
from refuge.security import access

router = Router(tags=["cases"])


def _case(user: User, case_id: UUID, action: str) -> Case:
    return selectors.case_get(actor=user, case_id=case_id, action=action)


def _task(user: User, task_id: UUID, action: str) -> Task:
    return selectors.task_get(actor=user, task_id=task_id, action=action)


PATH_OBJECTS: dict[str, Fetch] = {"case_id": _case, "task_id": _task}


def _refused(field: str, message: str) -> DomainError:
    return DomainError(_("Please correct the errors below."), field_errors={field: [message]})


def _team(user: User, team_id: UUID, case: Case | None = None) -> Team:
    # The teams the web form offers: one's own (every team for a coordinator) and the case's.
    team = selectors.case_team_choices(actor=user, case=case).filter(pk=team_id).first()
    if team is None:
        raise _refused("team", _("Choose a team from the list."))
    return team


def _people(user: User, person_ids: Iterable[UUID]) -> list[ProtectedPerson]:
    wanted = list(dict.fromkeys(person_ids))
    found = {p.pk: p for p in people_selectors.person_list(actor=user).filter(pk__in=wanted)}
    missing = [str(pid) for pid in wanted if pid not in found]
    if missing:
        # The same words for "does not exist" and "not yours to see": existence never leaks.
        raise _refused("people", _("Unknown person: %(ids)s.") % {"ids": ", ".join(missing[:5])})
    return [found[pid] for pid in wanted]


def _assignee(case: Case, user_id: UUID | None) -> User | None:
    if user_id is None:
        return None
    assignee = selectors.case_assignable_staff(case=case).filter(pk=user_id).first()
    if assignee is None:
        # The service's own message: whether the id exists elsewhere is nobody's business.
        raise _refused("assignee", _("Assign the task to someone on the case team."))
    return assignee


def _user_ref(user: User | None) -> UserRefOut | None:
    return None if user is None else UserRefOut(id=user.pk, username=user.get_username())


def _case_list_out(case: Case) -> CaseListOut:
    return CaseListOut(
        id=case.pk,
        code=case.code,
        case_type=CaseType(case.case_type),
        status=CaseStatus(case.status),
        risk_level=RiskLevel(case.risk_level),
        team=TeamRefOut(id=case.team.pk, name=case.team.name),
        people=[p.pseudonym for p in case.people.all()],
        created_at=case.created_at,
        updated_at=case.updated_at,
    )


def _case_out(user: User, case: Case) -> CaseOut:
    people = selectors.case_people(actor=user, case=case)
    return CaseOut(
        id=case.pk,
        code=case.code,
        case_type=CaseType(case.case_type),
        status=CaseStatus(case.status),
        risk_level=RiskLevel(case.risk_level),
        team=TeamOut(
            id=case.team.pk,
            name=case.team.name,
            assignable=[
                UserRefOut(id=u.pk, username=u.get_username())
                for u in selectors.case_assignable_staff(case=case)
            ],
        ),
        people=[PersonRefOut(id=p.pk, pseudonym=p.pseudonym, is_minor=p.is_minor) for p in people],
        summary=case.summary,
        allowed_transitions=[CaseStatus(s) for s in case.allowed_transitions()],
        created_at=case.created_at,
        updated_at=case.updated_at,
        closed_at=case.closed_at,
    )


def _entry_out(entry: TimelineEntry) -> TimelineEntryOut:
    return TimelineEntryOut(
        id=entry.pk,
        kind=TimelineEntry.Kind(entry.kind),
        author=entry.author.get_username() if entry.author else None,
        occurred_at=entry.occurred_at,
        text=entry.text,
        data=entry.data,
    )


def _task_out(task: Task) -> TaskOut:
    return TaskOut(
        id=task.pk,
        case=task.case_id,
        title=task.title,
        due_date=task.due_date,
        assignee=_user_ref(task.assignee),
        done_at=task.done_at,
        created_at=task.created_at,
    )


# --- Cases ----------------------------------------------------------------------------------------


@router.get("/cases", response=responses(200, CasePage), summary="Cases you may see")
def case_list(request: HttpRequest, filters: Query[CaseFilterIn]) -> CasePage:
    cases = selectors.case_list(
        actor=actor(request),
        filters=selectors.CaseFilters(
            case_type=filters.case_type or "",
            status=filters.status or "",
            risk_level=filters.risk_level or "",
            assignee=filters.assignee,
            query=filters.q,
        ),
    )
    items, meta = paginate(cases, filters.page)
    return CasePage(items=[_case_list_out(c) for c in items], **meta)


@router.post("/cases", response=responses(201, CaseOut), summary="Open a case")
def case_open(request: HttpRequest, payload: CaseCreateIn) -> Status[CaseOut]:
    user = actor(request)
    case = services.case_open(
        actor=user,
        case_type=payload.case_type,
        team=_team(user, payload.team),
        people=_people(user, payload.people),
        risk_level=payload.risk_level,
        summary=payload.summary,
    )
    return Status(201, _case_out(user, case))


@router.get("/cases/{case_id}", response=responses(200, CaseOut), summary="One case")
def case_detail(request: HttpRequest, case_id: UUID) -> CaseOut:
    user = actor(request)
    return _case_out(user, _case(user, case_id, access.VIEW))


@router.patch("/cases/{case_id}", response=responses(200, CaseOut), summary="Change a case")
def case_update(request: HttpRequest, case_id: UUID, payload: CaseUpdateIn) -> CaseOut:
    user = actor(request)
    case = _case(user, case_id, access.EDIT)
    summary: str | None = None
    if "summary" in payload.model_fields_set:
        summary = payload.summary or ""  # null clears; the service reads None as "unchanged"
    case = services.case_update(
        actor=user,
        case=case,
        risk_level=payload.risk_level,
        summary=summary,
        team=_team(user, payload.team, case) if payload.team is not None else None,
        people=_people(user, payload.people) if payload.people is not None else None,
    )
    return _case_out(user, case)


@router.post(
    "/cases/{case_id}/transition",
    response=responses(200, CaseOut),
    summary="Move a case to another status (422 lists the allowed ones)",
)
def case_transition(request: HttpRequest, case_id: UUID, payload: TransitionIn) -> CaseOut:
    user = actor(request)
    case = _case(user, case_id, access.EDIT)
    case = services.case_transition(
        actor=user, case=case, to_status=payload.status, note=payload.note
    )
    return _case_out(user, case)


# --- Timeline -------------------------------------------------------------------------------------


@router.get(
    "/cases/{case_id}/timeline",
    response=responses(200, list[TimelineEntryOut]),
    summary="A case's timeline, newest first",
)
def timeline_list(request: HttpRequest, case_id: UUID) -> list[TimelineEntryOut]:
    user = actor(request)
    case = _case(user, case_id, access.VIEW)
    return [_entry_out(e) for e in selectors.case_timeline(actor=user, case=case)]


@router.post(
    "/cases/{case_id}/timeline",
    response=responses(201, TimelineEntryOut),
    summary="Add a note or a call to a case",
)
def timeline_add(
    request: HttpRequest, case_id: UUID, payload: TimelineEntryIn
) -> Status[TimelineEntryOut]:
    user = actor(request)
    # LOG, not EDIT: operators add calls to any emergency case without being able to change it.
    case = _case(user, case_id, access.LOG)
    entry = services.timeline_add(
        actor=user, case=case, kind=payload.kind, text=payload.text, occurred_at=payload.occurred_at
    )
    return Status(201, _entry_out(entry))


# --- Tasks ----------------------------------------------------------------------------------------


@router.get("/cases/{case_id}/tasks", response=responses(200, list[TaskOut]), summary="Tasks")
def task_list(request: HttpRequest, case_id: UUID) -> list[TaskOut]:
    user = actor(request)
    case = _case(user, case_id, access.VIEW)
    return [_task_out(t) for t in selectors.case_tasks(actor=user, case=case)]


@router.post("/cases/{case_id}/tasks", response=responses(201, TaskOut), summary="Add a task")
def task_create(request: HttpRequest, case_id: UUID, payload: TaskIn) -> Status[TaskOut]:
    user = actor(request)
    case = _case(user, case_id, access.EDIT)
    task = services.task_create(
        actor=user,
        case=case,
        title=payload.title,
        due_date=payload.due_date,
        assignee=_assignee(case, payload.assignee),
    )
    return Status(201, _task_out(task))


def _task_for_edit(request: HttpRequest, task_id: UUID) -> tuple[User, Task]:
    user = actor(request)
    return user, _task(user, task_id, access.EDIT)


@router.post("/tasks/{task_id}/complete", response=responses(200, TaskOut), summary="Mark done")
def task_complete(request: HttpRequest, task_id: UUID) -> TaskOut:
    user, task = _task_for_edit(request, task_id)
    return _task_out(services.task_complete(actor=user, task=task))


@router.post("/tasks/{task_id}/reopen", response=responses(200, TaskOut), summary="Reopen")
def task_reopen(request: HttpRequest, task_id: UUID) -> TaskOut:
    user, task = _task_for_edit(request, task_id)
    return _task_out(services.task_reopen(actor=user, task=task))
