"""A person recorded for a team is seen by that team until they are on a case, so whoever
recorded them can finish the job (put them on a case). Outsiders still see nothing."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from refuge.accounts.models import Team
from refuge.cases import services as case_services
from refuge.cases.models import CaseType
from refuge.core.errors import DomainError, NotFoundError
from refuge.people import selectors, services
from refuge.security import access
from refuge.security.models import AuditEntry
from tests.factories import CaseFactory, MembershipFactory, TeamFactory

pytestmark = pytest.mark.django_db


def nizhny(cast) -> Team:
    return cast.case.team


def record(actor, *, birth=None, team=None):
    identity = services.IdentityInput(
        legal_name="Adam Testovich Primerov",
        date_of_birth=birth,
        provided={"legal_name", "date_of_birth"},
    )
    return services.person_create(actor=actor, identity=identity, pseudonym="KESTREL", team=team)


def visible(actor, person) -> bool:
    return selectors.person_list(actor=actor).filter(pk=person.pk).exists()


def test_a_case_worker_on_one_team_records_for_that_team(cast):
    assert record(cast.caseworker).intake_team == nizhny(cast)


@pytest.mark.parametrize("role", ["caseworker", "lawyer"])
def test_the_intake_team_sees_a_person_on_no_case(cast, role):
    person = record(cast.caseworker)
    assert visible(cast.by_role()[role], person)


@pytest.mark.parametrize("role", ["outsider", "analyst", "admin"])
def test_others_do_not_see_a_person_recorded_for_another_team(cast, role):
    person = record(cast.caseworker)
    assert not visible(cast.by_role()[role], person)


def test_the_intake_team_may_change_the_person(cast):
    person = record(cast.caseworker)
    found = selectors.person_get(actor=cast.lawyer, person_id=person.pk, action=access.EDIT)
    assert found == person


def test_the_intake_team_may_see_an_adults_identity(cast):
    person = record(cast.caseworker)
    assert access.can_reveal(cast.lawyer, person)


def test_only_the_intake_teams_lead_may_see_a_minors_identity(cast):
    person = record(cast.caseworker, birth=dt.date.today().replace(year=dt.date.today().year - 16))
    assert access.can_reveal(cast.caseworker, person)
    assert not access.can_reveal(cast.lawyer, person)


def test_an_outsider_gets_not_found_for_the_intake_person(cast):
    person = record(cast.caseworker)
    with pytest.raises(NotFoundError):
        selectors.person_get(actor=cast.outsider, person_id=person.pk)


def test_once_on_another_teams_case_the_intake_team_loses_sight(cast):
    person = record(cast.caseworker)
    CaseFactory(team=TeamFactory(name="Kazan team"), people=[person])
    assert not visible(cast.lawyer, person)
    assert not access.can_reveal(cast.lawyer, person)


def test_the_intake_team_puts_the_person_on_its_own_case(cast):
    person = record(cast.caseworker)
    case_services.case_add_person(actor=cast.caseworker, case=cast.case, person=person)
    assert list(cast.case.people.order_by("pseudonym").values_list("pseudonym", flat=True)) == [
        "BIRCH",
        "FALCON",
        "KESTREL",
    ]


def test_the_intake_team_opens_a_case_for_the_person(cast):
    person = record(cast.caseworker)
    case = case_services.case_open(
        actor=cast.caseworker,
        case_type=CaseType.EVACUATION,
        team=nizhny(cast),
        people=selectors.person_list(actor=cast.caseworker).filter(pk=person.pk),
    )
    assert list(case.people.all()) == [person]


def test_recording_for_a_team_one_is_not_on_is_refused(cast):
    moscow = Team.objects.get(name="Moscow team")
    with pytest.raises(DomainError) as refused:
        record(cast.caseworker, team=moscow)
    assert refused.value.field_errors == {
        "team": ["You can only record people for a team you are on."]
    }


def test_someone_on_two_teams_must_choose(cast):
    MembershipFactory(team=TeamFactory(name="Kazan team"), user=cast.lawyer)
    with pytest.raises(DomainError) as refused:
        record(cast.lawyer)
    assert "team" in refused.value.field_errors


def test_a_coordinator_records_for_any_team(cast):
    moscow = Team.objects.get(name="Moscow team")
    assert record(cast.coordinator, team=moscow).intake_team == moscow


def test_a_coordinator_may_record_for_no_team(cast):
    assert record(cast.coordinator).intake_team is None


def test_the_intake_team_is_audited(cast):
    person = record(cast.caseworker)
    entry = AuditEntry.objects.get(action="refuge.people.person.created", object_id=str(person.pk))
    assert json.loads(entry.detail)["intake_team"] == str(nizhny(cast).pk)
