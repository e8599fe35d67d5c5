"""The people list and detail pages: pseudonyms for everyone who may see a person, the legal
identity and relatives only on need-to-know, every identity read audited."""

import pytest
from django.test import override_settings
from django.urls import reverse

from refuge.security.models import AuditEntry
from tests.conftest import BIRCH_NAME, FALCON_NAME, FALCON_PHONE, MOTHER_NAME
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


def detail(person):
    return reverse("people:detail", args=[person.pk])


def identity_reads(user, person):
    return AuditEntry.objects.filter(
        action="refuge.people.identity.viewed", actor_id=user.pk, object_id=str(person.pk)
    )


def test_team_member_sees_falcons_legal_name_on_the_detail_page(cast, login):
    response = login(cast.lawyer).get(detail(cast.falcon))
    assert response.status_code == 200
    assert FALCON_NAME in response.content.decode()
    assert FALCON_PHONE in response.content.decode()


def test_team_members_read_of_falcons_identity_is_audited(cast, login):
    login(cast.lawyer).get(detail(cast.falcon))
    (entry,) = identity_reads(cast.lawyer, cast.falcon)
    assert '"purpose":"person_page"' in entry.detail
    assert FALCON_NAME not in entry.detail


def test_team_member_sees_falcons_relatives(cast, login):
    response = login(cast.lawyer).get(detail(cast.falcon))
    assert MOTHER_NAME in response.content.decode()


def test_lawyer_who_is_not_the_team_lead_does_not_see_minor_birchs_identity(cast, login):
    response = login(cast.lawyer).get(detail(cast.birch))
    body = response.content.decode()
    assert response.status_code == 200
    assert "BIRCH" in body
    assert BIRCH_NAME not in body
    assert "Identity hidden: need-to-know" in body
    assert not identity_reads(cast.lawyer, cast.birch).exists()


def test_caseworker_who_leads_the_team_sees_minor_birchs_identity(cast, login):
    response = login(cast.caseworker).get(detail(cast.birch))
    assert BIRCH_NAME in response.content.decode()
    assert identity_reads(cast.caseworker, cast.birch).count() == 1


def test_coordinator_sees_minor_birchs_identity(cast, login):
    response = login(cast.coordinator).get(detail(cast.birch))
    assert BIRCH_NAME in response.content.decode()


def test_operator_sees_falcons_pseudonym_but_not_his_legal_name(cast, login):
    response = login(cast.operator).get(detail(cast.falcon))
    body = response.content.decode()
    assert response.status_code == 200
    assert "FALCON" in body
    assert FALCON_NAME not in body
    assert FALCON_PHONE not in body
    assert MOTHER_NAME not in body


def test_operator_sees_every_pseudonym_in_the_list_and_no_legal_name(cast, login):
    body = login(cast.operator).get(reverse("people:list")).content.decode()
    assert "FALCON" in body
    assert "BIRCH" in body
    assert FALCON_NAME not in body
    assert BIRCH_NAME not in body


def test_list_shows_no_legal_name_even_to_a_coordinator(cast, login):
    body = login(cast.coordinator).get(reverse("people:list")).content.decode()
    assert "FALCON" in body
    assert FALCON_NAME not in body
    assert not AuditEntry.objects.filter(action="refuge.people.identity.viewed").exists()


def test_list_marks_the_minor(cast, login):
    body = login(cast.coordinator).get(reverse("people:list")).content.decode()
    assert 'class="badge minor"' in body


@pytest.mark.parametrize("role", ["outsider", "admin"])
def test_outsider_and_admin_get_404_on_the_detail_page(cast, login, role):
    response = login(cast.by_role()[role]).get(detail(cast.falcon))
    assert response.status_code == 404
    assert "FALCON" not in response.content.decode()


def test_outsider_does_not_see_falcon_in_the_list(cast, login):
    body = login(cast.outsider).get(reverse("people:list")).content.decode()
    assert "FALCON" not in body


def test_unknown_person_id_gives_the_same_404(cast, login):
    response = login(cast.coordinator).get(
        reverse("people:detail", args=["00000000-0000-4000-8000-000000000000"])
    )
    assert response.status_code == 404


def test_search_by_pseudonym_lists_only_matching_people(cast, login):
    body = login(cast.coordinator).get(reverse("people:list"), {"q": "falc"}).content.decode()
    assert "FALCON" in body
    assert "BIRCH" not in body


@override_settings(PAGE_SIZE=5)
def test_list_is_paginated(cast, login):
    PersonFactory.create_batch(6)
    client = login(cast.coordinator)
    first = client.get(reverse("people:list"))
    assert len(first.context["rows"]) == 5
    assert first.context["page"].has_next()


def test_anonymous_visitor_is_sent_to_the_login_page(cast, client):
    response = client.get(detail(cast.falcon))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_detail_page_links_to_the_persons_cases_by_pseudonym(cast, login):
    body = login(cast.lawyer).get(detail(cast.falcon)).content.decode()
    assert f"{reverse('cases:list')}?q=FALCON" in body


def test_detail_page_names_the_persons_languages(cast, login):
    body = login(cast.operator).get(detail(cast.falcon)).content.decode()
    assert "<dd>Russian</dd>" in body
