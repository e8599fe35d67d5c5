"""Reads of cases, timelines and tasks, always scoped by need-to-know."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from refuge.accounts.models import Role, Team, TeamMembership, User
from refuge.cases import access as cases_access
from refuge.cases.models import Case, CaseStatus, Task, TimelineEntry
from refuge.core import clock
from refuge.people.models import ProtectedPerson
from refuge.security import access


@dataclass(frozen=True)
class CaseFilters:
    case_type: str = ""
    status: str = ""
    risk_level: str = ""
    assignee: uuid.UUID | None = None  # cases where this person has an open task
    query: str = ""  # case code or a person's pseudonym


def case_list(*, actor: Any, filters: CaseFilters | None = None) -> QuerySet[Case]:
    filters = filters or CaseFilters()
    cases = access.scope(actor, Case.objects.all())
    if filters.case_type:
        cases = cases.filter(case_type=filters.case_type)
    if filters.status:
        cases = cases.filter(status=filters.status)
    if filters.risk_level:
        cases = cases.filter(risk_level=filters.risk_level)
    # Subqueries rather than joins: no DISTINCT over every column, and a cheap page count.
    if filters.assignee:
        open_tasks = Task.objects.filter(assignee_id=filters.assignee, done_at__isnull=True)
        cases = cases.filter(pk__in=open_tasks.values("case_id"))
    query = filters.query.strip()[:40]
    if query:
        links = Case.people.through.objects.filter(protectedperson__pseudonym__icontains=query)
        cases = cases.filter(Q(code__iexact=query) | Q(pk__in=links.values("case_id")))
    return (
        cases.select_related("team")
        .prefetch_related(
            Prefetch("people", queryset=ProtectedPerson.objects.only("id", "pseudonym", "is_minor"))
        )
        .order_by("-created_at")
    )


def case_get(*, actor: Any, case_id: Any, action: str = access.VIEW) -> Case:
    return access.get_or_404(
        actor,
        Case.objects.select_related("team", "data_key", "opened_by"),
        action=action,
        pk=case_id,
    )


def case_get_by_code(*, actor: Any, code: str) -> Case:
    return access.get_or_404(
        actor, Case.objects.select_related("team", "data_key"), code=code.upper()
    )


def case_timeline(*, actor: Any, case: Case) -> QuerySet[TimelineEntry]:
    return access.scope(actor, TimelineEntry.objects.filter(case=case)).select_related(
        "author", "data_key"
    )


def case_tasks(*, actor: Any, case: Case) -> QuerySet[Task]:
    return access.scope(actor, Task.objects.filter(case=case)).select_related(
        "assignee", "data_key"
    )


def task_get(*, actor: Any, task_id: Any, action: str = access.VIEW) -> Task:
    return access.get_or_404(
        actor,
        Task.objects.select_related("case", "data_key", "assignee"),
        action=action,
        pk=task_id,
    )


def person_cases(*, actor: Any, person: ProtectedPerson) -> QuerySet[Case]:
    return access.scope(actor, Case.objects.filter(people=person)).select_related("team")


# Which open cases the dashboard lists, by what the actor sees (DashboardCases.scope).
ALL_TEAMS = "all"  # coordinators: every case
MY_TEAMS = "teams"  # staff on at least one team: their teams' cases
VISIBLE = "visible"  # no team (an operator, an analyst): the cases their role lets them see


@dataclass(frozen=True)
class DashboardCases:
    scope: str
    cases: list[Case]


def dashboard_cases(*, actor: Any, limit: int) -> DashboardCases:
    """The most recently updated open cases the dashboard shows, and which ones they are."""
    cases = access.scope(
        actor, Case.objects.exclude(status__in=[CaseStatus.CLOSED, CaseStatus.ARCHIVED])
    )
    teams = TeamMembership.objects.filter(user=actor).values("team_id")
    if actor.role == Role.COORDINATOR:
        scope = ALL_TEAMS
    elif teams.exists():
        scope, cases = MY_TEAMS, cases.filter(team_id__in=teams)
    else:
        scope = VISIBLE
    listed = (
        cases.select_related("team")
        .prefetch_related(
            Prefetch("people", queryset=ProtectedPerson.objects.only("id", "pseudonym", "is_minor"))
        )
        .order_by("-updated_at")[:limit]
    )
    return DashboardCases(scope=scope, cases=list(listed))


def tasks_due(*, actor: Any, within_days: int = 7) -> QuerySet[Task]:
    horizon = clock.today() + dt.timedelta(days=within_days)
    return (
        access.scope(actor, Task.objects.filter(assignee=actor, done_at__isnull=True))
        .filter(due_date__lte=horizon)
        .select_related("case", "data_key")
        .order_by("due_date")
    )


def recent_activity(*, actor: Any, limit: int = 15) -> QuerySet[TimelineEntry]:
    return (
        access.scope(actor, TimelineEntry.objects.all())
        .select_related("case", "author")
        .order_by("-occurred_at")[:limit]
    )


def cases_to_add_person(*, actor: Any, person: ProtectedPerson, limit: int) -> list[Case]:
    """Open cases `actor` may change that `person` is not on yet, most recently updated first."""
    cases = access.scope(
        actor,
        Case.objects.exclude(status__in=[CaseStatus.CLOSED, CaseStatus.ARCHIVED]).exclude(
            pk__in=Case.people.through.objects.filter(protectedperson_id=person.pk).values(
                "case_id"
            )
        ),
        action=access.EDIT,
    )
    return list(cases.select_related("team").order_by("-updated_at")[:limit])


def case_people(*, actor: Any, case: Case) -> QuerySet[ProtectedPerson]:
    """The people on a case, by pseudonym; identities stay behind refuge.people.selectors."""
    return (
        access.scope(actor, ProtectedPerson.objects.filter(cases=case))
        .only("id", "pseudonym", "is_minor", "risk_level")
        .order_by("pseudonym")
    )


def case_can_edit(*, actor: Any, case: Case) -> bool:
    return access.scope(actor, Case.objects.filter(pk=case.pk), action=access.EDIT).exists()


def case_can_log(*, actor: Any, case: Case) -> bool:
    """May `actor` add a note or a call to the case's timeline?"""
    return access.scope(actor, Case.objects.filter(pk=case.pk), action=access.LOG).exists()


def case_team_choices(*, actor: Any, case: Case | None = None) -> QuerySet[Team]:
    """Teams `actor` may give a case to (their own; every team for a coordinator), plus the
    case's current team so that an unchanged team stays a valid choice."""
    if actor.role in {Role.COORDINATOR, Role.OPERATOR}:
        # Operators route emergencies to the team that must respond (see services.case_open).
        return Team.objects.order_by("name")
    teams = Team.objects.filter(memberships__user=actor)
    if case is not None:
        teams = teams | Team.objects.filter(pk=case.team_id)
    return teams.distinct().order_by("name")


def case_assignable_staff(*, case: Case) -> QuerySet[User]:
    """Who a task on `case` can go to: the active members of its team."""
    return User.objects.filter(memberships__team_id=case.team_id, is_active=True).order_by(
        "username"
    )


def task_assignees(*, actor: Any) -> QuerySet[User]:
    """Staff with open tasks on cases `actor` may see (choices for the case list filter).

    Rendered on every case list page, so the query's work is bounded by what the actor sees,
    never by every open task of the instance: for someone who sees every case, one index probe
    per staff member ("has an open task?"); for everyone else, the open tasks of their visible
    cases (the same order of work as the page's own count)."""
    open_tasks = access.scope(
        actor, Task.objects.filter(done_at__isnull=True, assignee__isnull=False)
    )
    if cases_access.sees_every_case(actor):
        has_open_task = Exists(open_tasks.filter(assignee=OuterRef("pk")))
        return User.objects.filter(has_open_task).order_by("username")
    return User.objects.filter(pk__in=open_tasks.values("assignee_id")).order_by("username")
