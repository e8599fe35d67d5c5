"""The "Log a call" page: who called, what was heard, where, whom it concerns."""

from __future__ import annotations

import pytest
from django.urls import reverse

from refuge.alerts.models import CallRecord, Emergency, EmergencyEvent
from refuge.security.models import AuditEntry
from tests.conftest import BIRCH_NAME, FALCON_NAME
from tests.factories import PersonFactory
from tests.web.test_alerts_emergency import HEARD, HINT

pytestmark = pytest.mark.django_db

CALL = "/alerts/call/"


def test_the_page_has_its_address():
    assert reverse("alerts:emergency_call") == CALL


def test_the_form_offers_pseudonyms_and_an_unknown_caller(cast, login):
    body = login(cast.operator).get(CALL).content.decode()
    assert "Unknown caller" in body
    assert "FALCON" in body
    assert "BIRCH (minor)" in body
    assert FALCON_NAME not in body
    assert BIRCH_NAME not in body


def test_an_unknown_caller_opens_an_emergency_too(cast, login):
    response = login(cast.operator).post(CALL, {"caller": "", "heard": HEARD, "people": []})
    emergency = Emergency.objects.get()
    assert response.status_code == 302
    assert emergency.caller is None
    assert list(emergency.people.all()) == []
    assert emergency.events.filter(kind=EmergencyEvent.Kind.OPENED).exists()
    opened = AuditEntry.objects.get(action="refuge.alerts.emergency.opened")
    assert HEARD not in opened.detail


def test_the_caller_is_among_the_people_concerned(cast, login):
    login(cast.operator).post(CALL, {"caller": str(cast.birch.pk), "heard": HEARD})
    assert [p.pseudonym for p in Emergency.objects.get().people.all()] == ["BIRCH"]


def test_what_was_heard_is_required(cast, login):
    response = login(cast.operator).post(CALL, {"caller": "", "heard": "", "location_hint": HINT})
    assert response.status_code == 400
    assert not Emergency.objects.exists()
    body = response.content.decode()
    assert "This field is required." in body
    assert HINT in body  # what was typed is kept for the second attempt


def test_a_person_outside_the_list_is_refused(cast, login):
    stranger = PersonFactory(pseudonym="STRANGER")
    # A caseworker sees only the people of their team's cases.
    response = login(cast.caseworker).post(
        CALL, {"caller": "", "heard": HEARD, "people": [str(stranger.pk)]}
    )
    assert response.status_code == 400
    assert not Emergency.objects.exists()


def test_a_second_call_about_the_same_people_joins_the_open_emergency(cast, login):
    client = login(cast.operator)
    client.post(CALL, {"caller": str(cast.birch.pk), "heard": HEARD})
    response = client.post(CALL, {"caller": "", "heard": "Again", "people": [str(cast.falcon.pk)]})
    emergency = Emergency.objects.get()
    assert response["Location"] == reverse("alerts:emergency_detail", args=[emergency.pk])
    assert emergency.events.filter(kind=EmergencyEvent.Kind.JOINED).exists()


@pytest.mark.parametrize("role", ["admin", "analyst"])
def test_roles_without_emergencies_cannot_log_calls(role, cast, login):
    client = login(cast.by_role()[role])
    assert client.get(CALL).status_code == 403
    assert client.post(CALL, {"heard": HEARD}).status_code == 403
    assert client.post(CALL, {"heard": HEARD, "action": "log"}).status_code == 403
    assert not Emergency.objects.exists()
    assert not CallRecord.objects.exists()


def test_the_page_needs_a_login(client):
    response = client.get(CALL)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
