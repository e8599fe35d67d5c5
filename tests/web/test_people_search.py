"""The exact identity search on the people pages: POST only, pseudonyms only, need-to-know."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from refuge.people import services
from refuge.security.models import AuditEntry
from tests.conftest import BIRCH_NAME, FALCON_NAME, FALCON_PHONE, verified_login

pytestmark = pytest.mark.django_db
SEARCH = reverse("people:search")


@pytest.fixture
def indexed(cast):
    services.blind_indexes_rebuild()
    return cast


def test_the_list_offers_the_search_to_roles_that_can_reveal(indexed, login):
    page = login(indexed.caseworker).get(reverse("people:list")).content.decode()
    assert "Find by phone or legal name (exact)" in page
    assert f'action="{SEARCH}"' in page


@pytest.mark.parametrize("role", ["operator", "analyst", "admin"])
def test_roles_without_identity_access_get_no_search(indexed, login, role):
    client = login(indexed.by_role()[role])
    assert SEARCH not in client.get(reverse("people:list")).content.decode()
    assert client.get(SEARCH).status_code == 403
    assert client.post(SEARCH, {"phone": FALCON_PHONE}).status_code == 403
    assert not AuditEntry.objects.filter(action="refuge.people.identity.searched").exists()


@pytest.mark.parametrize(
    "query", [{"phone": "89005550123"}, {"name": "Рустам Заурбекович Тестаев"}]
)
def test_the_caseworker_finds_falcon_by_pseudonym_only(indexed, login, query):
    response = login(indexed.caseworker).post(SEARCH, query)
    page = response.content.decode()
    assert response.status_code == 200
    assert reverse("people:detail", args=[indexed.falcon.pk]) in page
    assert "FALCON" in page
    assert FALCON_NAME not in page
    assert "BIRCH" not in page


def test_the_outsider_and_the_lawyer_find_nothing_they_may_not_see(indexed, login):
    page = login(indexed.outsider).post(SEARCH, {"phone": FALCON_PHONE}).content.decode()
    assert "FALCON" not in page
    page = login(indexed.lawyer).post(SEARCH, {"name": BIRCH_NAME}).content.decode()
    assert "BIRCH" not in page
    assert "No one whose identity you may see" in page


def test_bad_input_is_a_400_with_a_message(indexed, login):
    response = login(indexed.caseworker).post(SEARCH, {"phone": "", "name": ""})
    assert response.status_code == 400
    assert "Enter either a phone number or a legal name." in response.content.decode()


def test_the_rate_limit_is_a_429(indexed, login, settings):
    settings.IDENTITY_SEARCHES_PER_HOUR = 1
    client = login(indexed.caseworker)
    assert client.post(SEARCH, {"phone": FALCON_PHONE}).status_code == 200
    response = client.post(SEARCH, {"phone": FALCON_PHONE})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many identity searches" in response.content.decode()
    assert "FALCON" not in response.content.decode()


def test_the_search_needs_a_csrf_token(indexed, client):
    strict = Client(enforce_csrf_checks=True)
    verified_login(strict, indexed.caseworker)
    assert strict.post(SEARCH, {"phone": FALCON_PHONE}).status_code == 403
    del client
