"""Need-to-know for the emergency line.

- Operators and coordinators see and act on every emergency: the line is theirs.
- Staff see an emergency when they are on its team, on the team of a case it is linked to,
  were paged for it (a notification went to them), or opened it (logged the call).
- Admins and analysts see none.
Emergencies show pseudonyms only; identities stay behind the people pages' own rules.
- Who may resolve (`may_resolve`): resolving stops the paging for good, so a coerced or careless
  operator must not be able to close someone's emergency alone. Coordinators may resolve any
  emergency they see; case workers and lawyers one of their own team (the emergency's team or
  the team of one of its cases); operators only one that concerns nobody (no person, no case:
  an unknown caller's). Everyone who sees an emergency may still acknowledge it, say "on my
  way" or "on site", correct its times and add notes.
- Calls logged without paging (CallRecord) belong to the line: operators and coordinators see
  all of them; anyone else who may log a call sees the ones they logged.
Check-in schedules follow the person: whoever may see (or change) the person may see (or change)
the schedule; operators see every schedule's state, so they can act on a missed check-in.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from refuge.accounts.models import Role, TeamMembership
from refuge.alerts.models import CallRecord, CheckinSchedule, Emergency, EmergencyEvent
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
    return (
        Q(team_id__in=teams)
        | Q(cases__in=team_cases)
        | Q(notifications__recipient=actor)
        | Q(opened_by=actor)
    )


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


def may_resolve(actor: Any, emergency: Emergency) -> bool:
    """May `actor` resolve `emergency` (which they may see)? The rule is in the module's
    docstring and in docs/alerting.md; it fails closed."""
    if not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    if actor.role in NO_EMERGENCY_ROLES:
        return False
    if actor.role == Role.COORDINATOR:
        return True
    if actor.role == Role.OPERATOR:
        return concerns_nobody(emergency)
    teams = set(emergency.cases.values_list("team_id", flat=True))
    if emergency.team_id is not None:
        teams.add(emergency.team_id)
    return TeamMembership.objects.filter(user=actor, team_id__in=teams).exists()


def concerns_nobody(emergency: Emergency) -> bool:
    """No protected person and no case: an unknown caller's emergency."""
    if emergency.caller_id is not None:
        return False
    return not emergency.people.exists() and not emergency.cases.exists()


def _scope_calls(actor: Any, queryset: QuerySet[CallRecord], action: str) -> QuerySet[CallRecord]:
    del action  # whoever may see a logged call may turn it into an emergency
    if actor.role in NO_EMERGENCY_ROLES:
        return queryset.none()
    if actor.role in LINE_ROLES:
        return queryset
    return queryset.filter(logged_by=actor)


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
    access.register(CallRecord, _scope_calls)
