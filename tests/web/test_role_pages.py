"""One rule for refusals: a page (without an object) that a role may never use answers 403 and
says who uses it, in the user's language; a page about an object outside need-to-know answers
404 (tests/security/test_access_sweep.py checks every such URL for every role)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from refuge.exports.models import ExportRequest

pytestmark = pytest.mark.django_db

NEVER_FOR_THE_ROLE = [
    # (role, method, URL name, part of the explanation)
    ("analyst", "get", "people:create", "Recording protected people is for"),
    ("admin", "get", "people:create", "Recording protected people is for"),
    ("operator", "get", "people:search", "Finding people by phone number or legal name"),
    ("analyst", "post", "people:search", "Finding people by phone number or legal name"),
    ("admin", "get", "people:list", "they see no protected person"),
    ("admin", "get", "cases:list", "they see no case"),
    ("analyst", "get", "cases:create", "Opening cases is for"),
    ("admin", "post", "cases:create", "Opening cases is for"),
    ("admin", "get", "exports:export_list", "they export nothing"),
    ("admin", "post", "exports:redacted_download", "they export nothing"),
    ("analyst", "post", "exports:request_create", "Unredacted exports are for"),
    ("operator", "post", "exports:request_create", "Unredacted exports are for"),
    ("caseworker", "get", "accounts:user_list", "The staff and team pages are for"),
    ("lawyer", "get", "accounts:team_list", "The staff and team pages are for"),
    ("coordinator", "get", "accounts:user_create", "Creating staff accounts is for"),
    ("admin", "get", "accounts:team_create", "Creating teams is for coordinators."),
    ("caseworker", "get", "accounts:notice_list", "Security notices are for coordinators."),
]


@pytest.mark.parametrize("case", NEVER_FOR_THE_ROLE, ids=lambda case: f"{case[0]}-{case[2]}")
def test_a_page_the_role_may_never_use_is_403_with_who_uses_it(cast, login, case):
    role, method, name, explanation = case
    response = getattr(login(cast.by_role()[role]), method)(reverse(name))
    page = response.content.decode()
    assert response.status_code == 403
    assert "Not available for your role" in page
    assert explanation in page


def test_the_explanation_is_in_the_users_language(cast, login):
    response = login(cast.analyst).get(reverse("people:create"), headers={"Accept-Language": "ru"})
    page = response.content.decode()
    assert response.status_code == 403
    assert "Недоступно для вашей роли" in page
    assert "Записывать подзащитных могут кураторы случаев" in page


def test_a_refused_post_changes_nothing(cast, login):
    login(cast.analyst).post(
        reverse("exports:request_create"), {"request-purpose": "A dossier", "request-cases": ""}
    )
    assert not ExportRequest.objects.exists()


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_a_page_about_a_person_stays_404_for_a_role_that_never_records_people(cast, login, role):
    response = login(cast.by_role()[role]).get(reverse("people:edit", args=[cast.falcon.pk]))
    assert response.status_code == 404
