import pytest

from refuge.cases.models import Case, CaseType, Task, TimelineEntry
from refuge.people.models import ProtectedPerson, Relative
from refuge.security import access
from tests.factories import CaseFactory, PersonFactory

pytestmark = pytest.mark.django_db


def visible(actor, model):
    return set(access.scope(actor, model.objects.all()).values_list("pk", flat=True))


def test_team_members_see_their_case(cast):
    assert cast.case.pk in visible(cast.lawyer, Case)


def test_outsiders_do_not_see_the_case(cast):
    assert cast.case.pk not in visible(cast.outsider, Case)


def test_coordinators_see_every_case(cast):
    other = CaseFactory()
    assert {cast.case.pk, other.pk} <= visible(cast.coordinator, Case)


def test_admins_see_no_case_and_no_person(cast):
    assert visible(cast.admin, Case) == set()
    assert visible(cast.admin, ProtectedPerson) == set()


def test_operators_see_emergency_cases_but_not_others(cast):
    emergency = CaseFactory(case_type=CaseType.EMERGENCY)
    seen = visible(cast.operator, Case)
    assert emergency.pk in seen
    assert cast.case.pk not in seen


def test_operators_see_every_person_by_pseudonym_but_no_identity(cast):
    assert cast.falcon.pk in visible(cast.operator, ProtectedPerson)
    assert not access.can_reveal(cast.operator, cast.falcon)
    assert visible(cast.operator, Relative) == set()


def test_analysts_see_documentation_cases_only(cast):
    doc = CaseFactory(case_type=CaseType.DOCUMENTATION, people=[cast.falcon])
    assert visible(cast.analyst, Case) == {doc.pk}
    assert visible(cast.analyst, ProtectedPerson) == {cast.falcon.pk}
    assert not access.can_reveal(cast.analyst, cast.falcon)


def test_a_person_without_a_shared_case_is_invisible(cast):
    loner = PersonFactory()
    assert loner.pk not in visible(cast.caseworker, ProtectedPerson)
    assert loner.pk in visible(cast.coordinator, ProtectedPerson)


def test_only_the_team_lead_and_coordinators_see_a_minors_identity(cast):
    assert access.can_reveal(cast.caseworker, cast.birch)
    assert access.can_reveal(cast.coordinator, cast.birch)
    assert not access.can_reveal(cast.lawyer, cast.birch)
    assert access.can_reveal(cast.lawyer, cast.falcon)


def test_relatives_of_a_minor_follow_the_minor_rule(cast):
    from tests.factories import RelativeFactory

    relative = RelativeFactory(person=cast.birch)
    assert relative.pk in visible(cast.caseworker, Relative)
    assert relative.pk not in visible(cast.lawyer, Relative)


def test_timeline_and_tasks_follow_the_case(cast):
    from tests.factories import TaskFactory, TimelineEntryFactory

    entry = TimelineEntryFactory(case=cast.case)
    task = TaskFactory(case=cast.case)
    assert entry.pk in visible(cast.lawyer, TimelineEntry)
    assert entry.pk not in visible(cast.outsider, TimelineEntry)
    assert task.pk in visible(cast.lawyer, Task)
    assert task.pk not in visible(cast.outsider, Task)


def test_anonymous_and_inactive_users_see_nothing(cast):
    from django.contrib.auth.models import AnonymousUser

    assert visible(AnonymousUser(), Case) == set()
    cast.coordinator.is_active = False
    assert visible(cast.coordinator, Case) == set()


def test_an_unregistered_model_fails_closed(cast):
    from django.core.exceptions import ImproperlyConfigured

    from refuge.accounts.models import Team

    with pytest.raises(ImproperlyConfigured):
        access.scope(cast.coordinator, Team.objects.all())


def test_removing_someone_from_the_team_takes_effect_at_once(cast):
    cast.lawyer.memberships.all().delete()
    assert cast.case.pk not in visible(cast.lawyer, Case)
    assert not access.can_reveal(cast.lawyer, cast.falcon)


def test_operators_may_log_on_any_emergency_case(cast):
    emergency = CaseFactory(case_type=CaseType.EMERGENCY)
    loggable = set(
        access.scope(cast.operator, Case.objects.all(), action=access.LOG).values_list(
            "pk", flat=True
        )
    )
    assert loggable == {emergency.pk}


def test_operators_may_not_change_emergency_cases_of_other_teams(cast):
    CaseFactory(case_type=CaseType.EMERGENCY)
    assert not access.scope(cast.operator, Case.objects.all(), action=access.EDIT).exists()


def test_operators_never_see_an_identity_even_on_the_team(cast):
    from tests.factories import MembershipFactory

    MembershipFactory(team=cast.case.team, user=cast.operator)
    assert not access.can_reveal(cast.operator, cast.falcon)


def test_analysts_may_not_edit_documentation_cases_of_other_teams(cast):
    doc = CaseFactory(case_type=CaseType.DOCUMENTATION)
    editable = set(
        access.scope(cast.analyst, Case.objects.all(), action=access.EDIT).values_list(
            "pk", flat=True
        )
    )
    assert doc.pk not in editable


def test_analysts_never_see_an_identity_even_on_the_team(cast):
    from tests.factories import MembershipFactory

    MembershipFactory(team=cast.case.team, user=cast.analyst, is_lead=True)
    assert cast.case.pk in visible(cast.analyst, Case)
    assert not access.can_reveal(cast.analyst, cast.falcon)
    assert visible(cast.analyst, Relative) == set()


def test_admins_put_on_a_team_still_see_no_relatives(cast):
    from tests.factories import MembershipFactory

    MembershipFactory(team=cast.case.team, user=cast.admin)
    assert visible(cast.admin, Relative) == set()
    assert not access.can_reveal(cast.admin, cast.falcon)
