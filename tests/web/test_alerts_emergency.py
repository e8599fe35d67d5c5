"""The emergency page: who sees it, what it shows, and the actions that move it along."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from refuge.alerts.models import Emergency, EmergencyEvent, EmergencyState, Outcome
from refuge.alerts.services import emergencies
from refuge.core import clock
from refuge.security.models import AuditEntry
from tests.conftest import BIRCH_NAME, FALCON_NAME, FLAT_ADDRESS, verified_login

pytestmark = pytest.mark.django_db

HEARD = "Screaming in the background, a door breaking"
HINT = "Near the bus station, second entrance"
ALLOWED = ("operator", "coordinator", "caseworker", "lawyer")
REFUSED = ("outsider", "admin", "analyst")


def open_call(cast, *, heard: str = HEARD, hint: str = HINT, people=None) -> Emergency:
    """BIRCH's call about both men, logged by the operator (scenario step 3)."""
    return emergencies.emergency_open_call(
        actor=cast.operator,
        caller=cast.birch,
        heard=heard,
        location_hint=hint,
        people=[cast.falcon, cast.birch] if people is None else people,
    )


def detail_url(emergency: Emergency) -> str:
    return reverse("alerts:emergency_detail", args=[emergency.pk])


def action_url(name: str, emergency: Emergency) -> str:
    return reverse(f"alerts:emergency_{name}", args=[emergency.pk])


# --- Who sees it ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ALLOWED)
def test_the_line_and_the_case_team_see_the_emergency(role, cast, login):
    emergency = open_call(cast)
    response = login(cast.by_role()[role]).get(detail_url(emergency))
    assert response.status_code == 200
    assert emergency.code in response.content.decode()


@pytest.mark.parametrize("role", REFUSED)
def test_others_get_404(role, cast, login):
    emergency = open_call(cast)
    assert login(cast.by_role()[role]).get(detail_url(emergency)).status_code == 404


def test_an_unknown_emergency_is_404(cast, login):
    url = reverse("alerts:emergency_detail", args=[uuid.uuid4()])
    assert login(cast.operator).get(url).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(cast, client):
    response = client.get(detail_url(open_call(cast)))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# --- What it shows --------------------------------------------------------------------------------


def test_the_page_shows_pseudonyms_cases_and_what_was_heard_never_identities(cast, login):
    emergency = open_call(cast)
    body = login(cast.lawyer).get(detail_url(emergency)).content.decode()
    for text in ("FALCON", "BIRCH", cast.case.code, HEARD, HINT):
        assert text in body
    for identity in (FALCON_NAME, BIRCH_NAME, FLAT_ADDRESS):
        assert identity not in body


def test_reading_what_was_heard_is_audited(cast, login):
    emergency = open_call(cast)
    login(cast.caseworker).get(detail_url(emergency))
    entry = AuditEntry.objects.filter(action="refuge.alerts.emergency.viewed").get()
    assert (entry.object_id, entry.actor_label) == (str(emergency.pk), "caseworker")
    assert HEARD not in entry.detail


def test_a_refused_reader_leaves_no_viewed_entry(cast, login):
    emergency = open_call(cast)
    login(cast.outsider).get(detail_url(emergency))
    assert not AuditEntry.objects.filter(action="refuge.alerts.emergency.viewed").exists()


def test_the_caller_is_named_by_pseudonym_or_as_unknown(cast, login):
    unknown = emergencies.emergency_open_call(
        actor=cast.operator, caller=None, heard="Silence", location_hint="", people=[]
    )
    body = login(cast.operator).get(detail_url(unknown)).content.decode()
    assert "Unknown caller" in body


def test_events_are_listed_with_their_time_after_the_call(cast, login):
    start = clock.now()
    with time_machine.travel(start, tick=False):
        emergency = open_call(cast)
    with time_machine.travel(start + dt.timedelta(minutes=3, seconds=20), tick=False):
        client = login(cast.lawyer)
        client.post(action_url("acknowledge", emergency))
        body = client.get(detail_url(emergency)).content.decode()
    assert "Acknowledged" in body
    assert "3 min 20 s after the call" in body


# --- Actions --------------------------------------------------------------------------------------


def test_acknowledging_records_who_and_when(cast, login):
    emergency = open_call(cast)
    at = clock.now() + dt.timedelta(minutes=2)
    with time_machine.travel(at, tick=False):
        response = login(cast.lawyer).post(action_url("acknowledge", emergency))
    assert response.status_code == 302
    assert response["Location"] == detail_url(emergency)
    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.ACKNOWLEDGED
    assert emergency.acknowledged_by == cast.lawyer
    assert emergency.acknowledged_at == at


def test_on_my_way_then_on_site_record_their_times(cast, login):
    emergency = open_call(cast)
    client = login(cast.lawyer)
    start = clock.now()
    with time_machine.travel(start + dt.timedelta(minutes=5), tick=False):
        client.post(action_url("en_route", emergency))
    # Within the session's idle limit (15 minutes), or the second POST would meet a login page.
    with time_machine.travel(start + dt.timedelta(minutes=12), tick=False):
        client.post(action_url("on_site", emergency))
    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.ON_SITE
    assert emergency.en_route_at == start + dt.timedelta(minutes=5)
    assert emergency.on_site_at == start + dt.timedelta(minutes=12)
    kinds = list(emergency.events.values_list("kind", flat=True))
    assert kinds[-2:] == [EmergencyEvent.Kind.EN_ROUTE, EmergencyEvent.Kind.ON_SITE]


def test_a_refused_step_shows_the_reason_with_400(cast, login):
    emergency = open_call(cast)
    client = login(cast.lawyer)
    client.post(action_url("on_site", emergency))
    response = client.post(action_url("on_site", emergency))
    assert response.status_code == 400
    assert "on site already" in response.content.decode()


def test_resolving_needs_an_outcome_and_keeps_the_note_encrypted(cast, login):
    emergency = open_call(cast)
    client = login(cast.coordinator)
    refused = client.post(action_url("resolve", emergency), {"outcome": "", "note": ""})
    assert refused.status_code == 400
    response = client.post(
        action_url("resolve", emergency),
        {"outcome": Outcome.DETAINED, "note": "Signs of a struggle"},
    )
    assert response.status_code == 302
    emergency.refresh_from_db()
    assert (emergency.state, emergency.outcome) == (EmergencyState.RESOLVED, Outcome.DETAINED)
    assert emergency.resolved_by == cast.coordinator
    assert "Signs of a struggle" in client.get(detail_url(emergency)).content.decode()


def test_a_note_appears_among_the_events(cast, login):
    emergency = open_call(cast)
    client = login(cast.operator)
    response = client.post(action_url("note", emergency), {"text": "Called the lawyer directly"})
    assert response.status_code == 302
    assert "Called the lawyer directly" in client.get(detail_url(emergency)).content.decode()


def test_an_empty_note_is_refused(cast, login):
    emergency = open_call(cast)
    response = login(cast.operator).post(action_url("note", emergency), {"text": ""})
    assert response.status_code == 400


@pytest.mark.parametrize("action", ["acknowledge", "en_route", "on_site", "resolve", "note"])
def test_actions_are_post_only(action, cast, login):
    emergency = open_call(cast)
    assert login(cast.operator).get(action_url(action, emergency)).status_code == 405


@pytest.mark.parametrize("role", REFUSED)
def test_outsiders_cannot_act_and_nothing_changes(role, cast, login):
    emergency = open_call(cast)
    response = login(cast.by_role()[role]).post(action_url("acknowledge", emergency))
    assert response.status_code == 404
    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.OPEN


def test_actions_need_the_csrf_token(cast):
    emergency = open_call(cast)
    client = Client(enforce_csrf_checks=True)
    verified_login(client, cast.lawyer)
    assert client.post(action_url("acknowledge", emergency)).status_code == 403
    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.OPEN


def test_buttons_follow_the_state(cast, login):
    emergency = open_call(cast)
    client = login(cast.lawyer)
    assert (
        action_url("acknowledge", emergency) in client.get(detail_url(emergency)).content.decode()
    )
    client.post(action_url("on_site", emergency))
    body = client.get(detail_url(emergency)).content.decode()
    assert action_url("acknowledge", emergency) not in body
    assert action_url("on_site", emergency) not in body
    assert action_url("resolve", emergency) in body
