"""Through the API, as on the pages: a person recorded for a team is that team's to put on a
case; outsiders get 404."""

from __future__ import annotations

import pytest

from refuge.accounts.models import Team

pytestmark = pytest.mark.django_db


def register(api, **body):
    return api.post("people", {"pseudonym": "KESTREL", **body})


def test_a_case_worker_on_one_team_registers_for_it(cast, api_as):
    response = register(api_as(cast.caseworker))
    assert response.status_code == 201
    assert response.json()["intake_team"] == str(cast.case.team_id)


@pytest.mark.parametrize("role", ["caseworker", "lawyer", "coordinator"])
def test_the_team_and_coordinators_read_the_new_person(cast, api_as, role):
    person_id = register(api_as(cast.caseworker)).json()["id"]
    response = api_as(cast.by_role()[role]).get(f"people/{person_id}")
    assert response.status_code == 200
    assert response.json()["can_reveal"] is True


def test_an_outsider_gets_404_for_the_new_person(cast, api_as):
    person_id = register(api_as(cast.caseworker)).json()["id"]
    assert api_as(cast.outsider).get(f"people/{person_id}").status_code == 404


def test_the_team_puts_the_new_person_on_its_case(cast, api_as):
    api = api_as(cast.caseworker)
    person_id = register(api).json()["id"]
    people = [str(cast.falcon.pk), str(cast.birch.pk), person_id]
    response = api.patch(f"cases/{cast.case.pk}", {"people": people})
    assert response.status_code == 200
    assert sorted(p["pseudonym"] for p in response.json()["people"]) == [
        "BIRCH",
        "FALCON",
        "KESTREL",
    ]


def test_registering_for_someone_elses_team_is_422(cast, api_as):
    moscow = Team.objects.get(name="Moscow team")
    response = register(api_as(cast.caseworker), team=str(moscow.pk))
    assert response.status_code == 422
    assert response.json()["errors"] == {
        "team": ["You can only record people for a team you are on."]
    }


def test_a_coordinator_registers_for_a_chosen_team(cast, api_as):
    moscow = Team.objects.get(name="Moscow team")
    response = register(api_as(cast.coordinator), team=str(moscow.pk))
    assert response.json()["intake_team"] == str(moscow.pk)
