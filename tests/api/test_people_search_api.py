"""POST /api/v1/people/search: exact identity search over the API."""

from __future__ import annotations

import pytest

from refuge.people import services
from refuge.security.models import AuditEntry
from tests.conftest import BIRCH_NAME, FALCON_NAME, FALCON_PHONE

pytestmark = pytest.mark.django_db


@pytest.fixture
def indexed(cast):
    services.blind_indexes_rebuild()
    return cast


@pytest.mark.parametrize(
    "query",
    [
        {"phone": FALCON_PHONE},
        {"phone": "89005550123"},
        {"name": "Рустам Заурбекович Тестаев"},
        {"name": FALCON_NAME},
    ],
)
def test_the_caseworker_finds_falcon(indexed, api_as, query):
    response = api_as(indexed.caseworker).post("people/search", query)
    assert response.status_code == 200
    assert response.json() == [{"id": str(indexed.falcon.pk), "pseudonym": "FALCON"}]


@pytest.mark.parametrize("role", ["outsider", "operator", "analyst", "admin"])
def test_others_find_nothing(indexed, api_as, role):
    response = api_as(indexed.by_role()[role]).post("people/search", {"phone": FALCON_PHONE})
    assert response.status_code == 200
    assert response.json() == []


def test_the_lawyer_does_not_find_the_minor(indexed, api_as):
    assert api_as(indexed.lawyer).post("people/search", {"name": BIRCH_NAME}).json() == []


@pytest.mark.parametrize(
    "body", [{}, {"phone": FALCON_PHONE, "name": FALCON_NAME}, {"phone": "12"}, {"nope": 1}]
)
def test_bad_input_is_422(indexed, api_as, body):
    assert api_as(indexed.caseworker).post("people/search", body).status_code == 422


def test_searches_are_audited_and_rate_limited(indexed, api_as, settings):
    settings.IDENTITY_SEARCHES_PER_HOUR = 2
    api = api_as(indexed.caseworker)
    for _ in range(2):
        assert api.post("people/search", {"phone": FALCON_PHONE}).status_code == 200
    response = api.post("people/search", {"phone": FALCON_PHONE})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many identity searches" in response.json()["detail"]
    entries = AuditEntry.objects.filter(action="refuge.people.identity.searched")
    assert entries.count() == 2
    assert all("555" not in e.detail and "+7" not in e.detail for e in entries)


def test_the_query_is_not_accepted_in_the_url(indexed, api_as):
    response = api_as(indexed.caseworker).get("people/search", {"phone": FALCON_PHONE})
    assert response.status_code in {404, 405, 422}
