"""The case worker's path after "Record a person": the new record opens, says what to do next,
and the person can be put on a case of the team. Outsiders get 404 throughout."""

from __future__ import annotations

import pytest
from django.urls import reverse

from refuge.people.models import ProtectedPerson
from tests.factories import CaseFactory, TeamFactory

pytestmark = pytest.mark.django_db

KESTREL = {"pseudonym": "KESTREL", "risk_level": "high", "languages": ["ru"]}


def recorded(cast, login, role="caseworker") -> ProtectedPerson:
    login(cast.by_role()[role]).post(reverse("people:create"), KESTREL)
    return ProtectedPerson.objects.get(pseudonym="KESTREL")


def add_url(person):
    return reverse("cases:add_person", args=[person.pk])


def test_the_record_page_says_what_to_do_next(cast, login):
    client = login(cast.caseworker)
    response = client.post(reverse("people:create"), KESTREL, follow=True)
    page = response.content.decode()
    assert "KESTREL was recorded for Nizhny team." in page
    assert "Open a case for them" in page
    assert add_url(ProtectedPerson.objects.get(pseudonym="KESTREL")) in page


def test_the_create_form_offers_the_team(cast, login):
    page = login(cast.caseworker).get(reverse("people:create")).content.decode()
    assert "Recorded for team" in page
    assert "Nizhny team" in page
    assert "Moscow team" not in page


@pytest.mark.parametrize("role", ["caseworker", "lawyer"])
def test_the_team_finds_the_new_person_in_the_list_and_by_pseudonym(cast, login, role):
    recorded(cast, login)
    client = login(cast.by_role()[role])
    assert "KESTREL" in client.get(reverse("people:list")).content.decode()
    assert "KESTREL" in client.get(reverse("people:list"), {"q": "kest"}).content.decode()


def test_the_new_person_is_offered_in_the_case_form(cast, login):
    person = recorded(cast, login)
    page = login(cast.caseworker).get(reverse("cases:edit", args=[cast.case.pk])).content.decode()
    assert f'value="{person.pk}"' in page


@pytest.mark.parametrize("role", ["caseworker", "lawyer", "coordinator"])
def test_the_add_to_case_page_lists_the_teams_open_case(cast, login, role):
    person = recorded(cast, login)
    page = login(cast.by_role()[role]).get(add_url(person)).content.decode()
    assert cast.case.code in page


def test_adding_the_person_to_a_case_puts_them_on_it(cast, login):
    person = recorded(cast, login)
    response = login(cast.caseworker).post(add_url(person), {"case": cast.case.pk})
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:detail", args=[cast.case.pk])
    assert cast.case.people.filter(pk=person.pk).exists()


def test_a_coordinator_adds_the_person_to_a_case(cast, login):
    person = recorded(cast, login)
    login(cast.coordinator).post(add_url(person), {"case": cast.case.pk})
    assert cast.case.people.filter(pk=person.pk).exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_outsider_gets_404_on_the_add_to_case_page(cast, login, method):
    person = recorded(cast, login)
    response = getattr(login(cast.outsider), method)(add_url(person), {"case": cast.case.pk})
    assert response.status_code == 404
    assert not cast.case.people.filter(pk=person.pk).exists()


def test_an_outsider_gets_404_on_the_new_persons_page(cast, login):
    person = recorded(cast, login)
    response = login(cast.outsider).get(reverse("people:detail", args=[person.pk]))
    assert response.status_code == 404


def test_a_case_one_may_not_change_is_404_and_changes_nothing(cast, login):
    person = recorded(cast, login)
    elsewhere = CaseFactory(team=TeamFactory(name="Kazan team"))
    response = login(cast.lawyer).post(add_url(person), {"case": elsewhere.pk})
    assert response.status_code == 404
    assert not elsewhere.people.exists()


def test_adding_someone_twice_is_refused_with_a_message(cast, login):
    response = login(cast.caseworker).post(add_url(cast.falcon), {"case": cast.case.pk})
    assert response.status_code == 400
    assert "FALCON is already on case" in response.content.decode()
