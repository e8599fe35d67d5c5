"""Need-to-know for protected people and cases, in one place.

- Coordinators see every person and case, and every identity (minors included).
- Staff on a case's team see that case, its people, its timeline and tasks, and the people's
  identities, except a minor's identity, which only the team's lead may see.
- Operators see every emergency case and every person by pseudonym, and may log calls and notes
  on any emergency case; they change only their own teams' cases and never see an identity
  (they act on pseudonyms; whoever is on the case's team holds the identity).
- Analysts see documentation-only cases and their people by pseudonym, never an identity, even
  when they are on a team (documentation is pseudonymised by design).
- Admins manage accounts; they see no person and no case, even if put on a team.
- A person on no case yet is seen by the team they were recorded for (`intake_team`), on the
  same terms as a case team (identity for staff, a minor's identity for its lead), so that the
  team can put them on a case. Once the person is on any case, only the cases decide.
- Relatives and the log of contacts with them follow the person's identity.
Everyone else gets nothing; refuge.security.access.scope() turns "nothing" into 404s.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from refuge.accounts.models import Role, TeamMembership
from refuge.cases.models import Case, CaseType, Task, TimelineEntry
from refuge.people.models import ProtectedPerson, Relative, RelativeContact
from refuge.security import access
from refuge.security.access import EDIT, LOG


def _team_ids(actor: Any) -> QuerySet[TeamMembership, Any]:
    return TeamMembership.objects.filter(user=actor).values("team_id")


def _role_case_filter(actor: Any, action: str) -> Q | None:
    """Cases a role reaches beyond its teams (None: no extra cases)."""
    if action == EDIT:
        return None
    if action == LOG:
        # Operators log calls on any emergency case; nothing else widens what one may add to.
        return Q(case_type=CaseType.EMERGENCY) if actor.role == Role.OPERATOR else None
    if actor.role == Role.OPERATOR:
        return Q(case_type=CaseType.EMERGENCY)
    if actor.role == Role.ANALYST:
        return Q(case_type=CaseType.DOCUMENTATION)
    return None


def sees_every_case(actor: Any) -> bool:
    """Whether `actor` may see and change every case (then lists need no case condition)."""
    return getattr(actor, "role", None) == Role.COORDINATOR


def case_filter(actor: Any, action: str = access.VIEW) -> Q:
    """The condition on Case rows that `actor` may see or change."""
    if actor.role == Role.ADMIN:
        return Q(pk__in=[])
    if sees_every_case(actor):
        return Q()
    condition = Q(team_id__in=_team_ids(actor))
    extra = _role_case_filter(actor, action)
    return condition | extra if extra is not None else condition


def _scope_cases(actor: Any, queryset: QuerySet[Case], action: str) -> QuerySet[Case]:
    return queryset.filter(case_filter(actor, action))


def _intake(team_ids: QuerySet[TeamMembership, Any]) -> Q:
    """People recorded for one of these teams and on no case yet (an anti-join per candidate
    row, not a NOT IN over every link: few people are waiting for a case)."""
    on_a_case = Case.people.through.objects.filter(protectedperson_id=OuterRef("pk"))
    return Q(Q(intake_team_id__in=team_ids), ~Exists(on_a_case))


def _scope_people(
    actor: Any, queryset: QuerySet[ProtectedPerson], action: str
) -> QuerySet[ProtectedPerson]:
    if actor.role == Role.ADMIN:
        return queryset.none()
    if actor.role == Role.COORDINATOR:
        return queryset
    if actor.role == Role.OPERATOR and action == access.VIEW:
        return queryset  # pseudonyms only: operators never pass can_reveal
    visible_cases = Case.objects.filter(case_filter(actor, action))
    return queryset.filter(Q(pk__in=visible_cases.values("people")) | _intake(_team_ids(actor)))


def _revealable_people(actor: Any) -> QuerySet[ProtectedPerson]:
    """The people whose identity a staff member (not coordinator) may see: see can_reveal_person."""
    team_cases = Case.objects.filter(team_id__in=_team_ids(actor))
    on_team = Q(pk__in=team_cases.values("people")) | _intake(_team_ids(actor))
    led = Q(pk__in=_led_people(actor)) | _intake(_led_team_ids(actor))
    return ProtectedPerson.objects.filter(on_team & (Q(is_minor=False) | led))


def _scope_relatives(actor: Any, queryset: QuerySet[Relative], action: str) -> QuerySet[Relative]:
    # Relatives are identity data: only those who may see the person's identity see them.
    del action
    if actor.role == Role.COORDINATOR:
        return queryset
    if actor.role in NO_IDENTITY_ROLES:
        return queryset.none()
    return queryset.filter(person__in=_revealable_people(actor))


def _scope_relative_contacts(
    actor: Any, queryset: QuerySet[RelativeContact], action: str
) -> QuerySet[RelativeContact]:
    return queryset.filter(relative__in=_scope_relatives(actor, Relative.objects.all(), action))


def _led_people(actor: Any) -> QuerySet[Case, Any]:
    return Case.objects.filter(team_id__in=_led_team_ids(actor)).values("people")


def _scope_case_children(actor: Any, queryset: QuerySet[Any], action: str) -> QuerySet[Any]:
    if sees_every_case(actor):
        # No "case IN (every case)" subquery: it would read the whole case table for nothing.
        return queryset
    return queryset.filter(case__in=Case.objects.filter(case_filter(actor, action)))


# Roles that never see a legal identity, whatever team they are on.
NO_IDENTITY_ROLES = {Role.ADMIN, Role.ANALYST, Role.OPERATOR}


def can_reveal_person(actor: Any, person: ProtectedPerson) -> bool:
    if actor.role == Role.COORDINATOR:
        return True
    if actor.role in NO_IDENTITY_ROLES:
        return False
    if _is_intake_of(actor, person, lead=person.is_minor):
        return True
    team_cases = Case.objects.filter(team_id__in=_team_ids(actor), people=person)
    if not person.is_minor:
        return team_cases.exists()
    return Case.objects.filter(people=person, team_id__in=_led_team_ids(actor)).exists()


def _is_intake_of(actor: Any, person: ProtectedPerson, *, lead: bool) -> bool:
    """Is `person` on no case and recorded for a team of `actor` (one they lead, if `lead`)?"""
    if person.intake_team_id is None:
        return False
    memberships = TeamMembership.objects.filter(user=actor, team_id=person.intake_team_id)
    if lead:
        memberships = memberships.filter(is_lead=True)
    on_a_case = Case.people.through.objects.filter(protectedperson_id=person.pk).exists()
    return not on_a_case and memberships.exists()


def _led_team_ids(actor: Any) -> QuerySet[TeamMembership, Any]:
    return TeamMembership.objects.filter(user=actor, is_lead=True).values("team_id")


def can_reveal_relative(actor: Any, relative: Relative) -> bool:
    return can_reveal_person(actor, relative.person)


def can_reveal_case(actor: Any, case: Case) -> bool:
    """Case narratives (summary, notes, tasks) are readable by whoever may see the case."""
    return access.scope(actor, Case.objects.filter(pk=case.pk)).exists()


def register_rules() -> None:
    access.register(Case, _scope_cases)
    access.register(ProtectedPerson, _scope_people)
    access.register(Relative, _scope_relatives)
    access.register(RelativeContact, _scope_relative_contacts)
    access.register(TimelineEntry, _scope_case_children)
    access.register(Task, _scope_case_children)
    access.register_reveal(ProtectedPerson, can_reveal_person)
    access.register_reveal(Relative, can_reveal_relative)
    access.register_reveal(Case, can_reveal_case)
