"""Need-to-know for the emergency line.

- Operators and coordinators see and act on every emergency: the line is theirs.
- Staff see an emergency when they are on its team, on the team of a case it is linked to, or
  were paged for it (a notification went to them).
- Admins and analysts see none.
Emergencies show pseudonyms only; identities stay behind the people pages' own rules.
Check-in schedules follow the person: whoever may see (or change) the person may see (or change)
the schedule; operators see every schedule's state, so they can act on a missed check-in.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from refuge.accounts.models import Role, TeamMembership
from refuge.alerts.models import CheckinSchedule, Emergency, EmergencyEvent
from refuge.cases.models import Case
from refuge.people.models import ProtectedPerson
from refuge.security import access

LINE_ROLES = {Role.OPERATOR, Role.COORDINATOR}
NO_EMERGENCY_ROLES = {Role.ADMIN, Role.ANALYST}


def emergency_filter(actor: Any) -> Q:
    if actor.role in NO_EMERGENCY_ROLES:
        return Q(pk__in=[])
    if actor.role in LINE_ROLES:
        return Q()
    teams = TeamMembership.objects.filter(user=actor).values("team_id")
    team_cases = Case.objects.filter(team_id__in=teams).values("pk")
    return Q(team_id__in=teams) | Q(cases__in=team_cases) | Q(notifications__recipient=actor)


def _scope_emergencies(
    actor: Any, queryset: QuerySet[Emergency], action: str
) -> QuerySet[Emergency]:
    del action  # whoever may see an emergency may act on it: acknowledging is the point
    visible = Emergency.objects.filter(emergency_filter(actor)).values("pk")
    return queryset.filter(pk__in=visible)


def _scope_events(
    actor: Any, queryset: QuerySet[EmergencyEvent], action: str
) -> QuerySet[EmergencyEvent]:
    del action
    visible = Emergency.objects.filter(emergency_filter(actor)).values("pk")
    return queryset.filter(emergency_id__in=visible)


def _scope_schedules(
    actor: Any, queryset: QuerySet[CheckinSchedule], action: str
) -> QuerySet[CheckinSchedule]:
    if actor.role == Role.OPERATOR and action == access.VIEW:
        return queryset
    people = access.scope(actor, ProtectedPerson.objects.all(), action=action)
    return queryset.filter(person__in=people.values("pk"))


def register_rules() -> None:
    access.register(Emergency, _scope_emergencies)
    access.register(EmergencyEvent, _scope_events)
    access.register(CheckinSchedule, _scope_schedules)
