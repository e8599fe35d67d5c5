"""The contact log of a relative through the API: read on the relative's terms (re-authenticated,
audited), added by those who may change the person; outsiders get 404."""

from __future__ import annotations

import datetime as dt

import pytest

from refuge.core import clock
from refuge.people.models import RelativeContact
from refuge.people.services import contacts
from refuge.security.models import AuditEntry

pytestmark = pytest.mark.django_db


def mother(cast):
    return cast.falcon.relatives.get()


def body(**values):
    return {
        "occurred_at": (clock.now() - dt.timedelta(hours=3)).isoformat(),
        "channel": "via_lawyer",
        "direction": "outgoing",
        "summary": "Lawyer passed on the warning",
        "follow_up_needed": True,
        **values,
    }


def path(cast):
    return f"relatives/{mother(cast).pk}/contacts"


@pytest.mark.parametrize("role", ["caseworker", "lawyer", "coordinator"])
def test_the_team_and_coordinators_log_a_contact(cast, api_as, role):
    response = api_as(cast.by_role()[role]).post(path(cast), body())
    assert response.status_code == 201
    assert response.json()["channel"] == "via_lawyer"
    assert response.json()["staff_username"] == role


@pytest.mark.parametrize("role", ["outsider", "analyst", "operator", "admin"])
def test_everyone_else_gets_404(cast, api_as, role):
    api = api_as(cast.by_role()[role])
    assert api.post(path(cast), body()).status_code == 404
    assert api.get(path(cast)).status_code == 404
    assert not RelativeContact.objects.exists()


def test_the_log_is_listed_newest_first_and_the_read_is_audited(cast, api_as):
    api = api_as(cast.lawyer)
    api.post(path(cast), body(occurred_at=(clock.now() - dt.timedelta(days=2)).isoformat()))
    api.post(path(cast), body(summary="Later"))
    response = api.get(path(cast))
    assert [c["summary"] for c in response.json()] == ["Later", "Lawyer passed on the warning"]
    assert AuditEntry.objects.filter(
        action="refuge.people.identity.viewed", detail__contains="api:relative_contacts"
    ).exists()


def test_reading_the_log_needs_a_reveal_token(cast, api_as):
    assert api_as(cast.lawyer, reveal=False).get(path(cast)).status_code == 403


def test_a_staff_member_who_may_not_see_the_relative_is_422(cast, api_as):
    response = api_as(cast.lawyer).post(path(cast), body(staff=str(cast.outsider.pk)))
    assert response.status_code == 422
    assert response.json()["errors"] == {
        "staff": ["Choose a staff member who may see this relative."]
    }


def test_a_future_time_is_422_and_nothing_is_logged(cast, api_as):
    later = (clock.now() + dt.timedelta(days=1)).isoformat()
    response = api_as(cast.lawyer).post(path(cast), body(occurred_at=later))
    assert response.status_code == 422
    assert not RelativeContact.objects.exists()


def test_a_follow_up_is_marked_done(cast, api_as):
    contact = contacts.relative_contact_log(
        actor=cast.caseworker,
        relative=mother(cast),
        occurred_at=clock.now(),
        channel="phone",
        direction="incoming",
        follow_up_needed=True,
    )
    response = api_as(cast.lawyer).post(f"relative-contacts/{contact.pk}/followed-up")
    assert response.status_code == 200
    assert response.json()["follow_up_needed"] is False
    assert (
        api_as(cast.outsider).post(f"relative-contacts/{contact.pk}/followed-up").status_code == 404
    )
