"""What an emergency records, over the API: events with who was paged, on which channel and
whether it was delivered, in data and in words; who was paged (/pages); time corrections; who
may resolve (may_resolve, 403); the call time of a call."""

from __future__ import annotations

import datetime as dt

import pytest

from refuge.alerts.models import Emergency, EmergencyState, StaffChannel
from refuge.alerts.services import delivery, emergencies, escalation
from refuge.security.models import AuditEntry
from tests.alerts import conftest as alerts_fixtures
from tests.alerts.conftest import CALL_TIME
from tests.web.test_alerts_emergency import open_call

pytestmark = pytest.mark.django_db
recorder = alerts_fixtures.recorder
default_policy = alerts_fixtures.default_policy
at_call_time = alerts_fixtures.at_call_time

REFUSED = ("outsider", "admin", "analyst")


@pytest.fixture
def paged(cast, default_policy, recorder, at_call_time):  # type: ignore[no-untyped-def]
    """BIRCH's call; the on-call operator is paged by e-mail (sent), the lawyer five minutes
    later on Telegram (which fails)."""
    cast.operator.first_name, cast.operator.last_name = "Olga", "Line"
    cast.operator.save()
    StaffChannel.objects.create(user=cast.operator, kind="email", target="op@example.org")
    StaffChannel.objects.create(user=cast.lawyer, kind="telegram", target="tgram://bot/1")
    recorder.fail_kinds = {"telegram"}
    emergency = open_call(cast)
    escalation.escalation_tick()
    delivery.deliver_due()
    at_call_time.shift(dt.timedelta(minutes=5))
    escalation.escalation_tick()
    delivery.deliver_due()
    return emergency


# --- Events and pages -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["operator", "coordinator", "caseworker", "lawyer"])
def test_event_data_names_the_recipient_channel_and_delivery(role, paged, cast, api_as):
    events = api_as(cast.by_role()[role]).get(f"emergencies/{paged.pk}/events").json()
    [sent] = [e for e in events if e["kind"] == "notification_sent"]
    assert sent["data"]["recipient"] == str(cast.operator.pk)
    assert sent["data"]["recipient_name"] == "Olga Line"
    assert sent["data"]["channel"] == "email"
    assert sent["data"]["channel_label"] == "E-mail"
    assert sent["data"]["delivery"] == "sent"
    [failed] = [e for e in events if e["kind"] == "notification_failed"]
    assert failed["data"]["recipient_name"] == "lawyer"
    assert failed["data"]["delivery"] == "failed"
    assert failed["data"]["attempt"] == 1
    assert failed["data"]["next_attempt_at"]


def test_event_facts_are_the_words_of_the_page(paged, cast, api_as):
    events = api_as(cast.operator).get(f"emergencies/{paged.pk}/events").json()
    [sent] = [e for e in events if e["kind"] == "notification_sent"]
    assert {"label": "Channel", "value": "E-mail"} in sent["facts"]
    assert {"label": "To", "value": "Olga Line"} in sent["facts"]
    assert sent["actor_name"] == "system"


def test_the_facts_follow_the_requests_language(paged, cast, api_as):
    events = api_as(cast.operator).get(f"emergencies/{paged.pk}/events", HTTP_ACCEPT_LANGUAGE="ru")
    [sent] = [e for e in events.json() if e["kind"] == "notification_sent"]
    assert {"label": "Канал", "value": "Эл. почта"} in sent["facts"]


def test_who_was_paged(paged, cast, api_as):
    pages = api_as(cast.lawyer).get(f"emergencies/{paged.pk}/pages").json()
    assert [(p["recipient_name"], p["step"], p["channel"], p["state"]) for p in pages] == [
        ("Olga Line", 1, "email", "sent"),
        ("lawyer", 2, "telegram", "pending"),
    ]
    assert pages[0]["sent_at"] is not None
    assert pages[1]["attempts"] == 1
    assert pages[1]["state_label"] == "failed, retrying"
    assert pages[1]["next_attempt_at"] is not None
    assert pages[1]["recipient"]["username"] == "lawyer"


@pytest.mark.parametrize("role", REFUSED)
def test_others_get_404_for_the_records(role, paged, cast, api_as):
    api = api_as(cast.by_role()[role])
    assert api.get(f"emergencies/{paged.pk}/pages").status_code == 404
    corrected = api.post(
        f"emergencies/{paged.pk}/time-corrections",
        {"field": "acknowledged_at", "at": CALL_TIME.isoformat(), "reason": "x"},
    )
    assert corrected.status_code == 404


def test_acknowledging_over_the_api_says_so(cast, api_as):
    emergency = open_call(cast)
    api = api_as(cast.lawyer)
    api.post(f"emergencies/{emergency.pk}/acknowledge")
    [acknowledged] = [
        e
        for e in api.get(f"emergencies/{emergency.pk}/events").json()
        if e["kind"] == "acknowledged"
    ]
    assert acknowledged["data"]["via"] == "api"
    assert {"label": "Via", "value": "API"} in acknowledged["facts"]


# --- Time corrections -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["lawyer", "coordinator"])
def test_a_time_is_corrected_with_a_reason(role, cast, api_as, at_call_time):
    emergency = open_call(cast)
    at_call_time.shift(dt.timedelta(minutes=10))
    api = api_as(cast.by_role()[role])
    api.post(f"emergencies/{emergency.pk}/on-site")
    body = api.post(
        f"emergencies/{emergency.pk}/time-corrections",
        {
            "field": "on_site_at",
            "at": (CALL_TIME + dt.timedelta(minutes=7)).isoformat(),
            "reason": "Arrived before pressing the button",
        },
    ).json()
    assert body["on_site_at"] == "2026-03-10T12:07:00Z"
    [corrected] = [
        e
        for e in api.get(f"emergencies/{emergency.pk}/events").json()
        if e["kind"] == "time_corrected"
    ]
    assert corrected["data"]["field"] == "on_site_at"
    assert corrected["data"]["from"] == "2026-03-10T12:10:00+00:00"
    assert corrected["note"] == "Arrived before pressing the button"
    assert AuditEntry.objects.filter(action="refuge.alerts.emergency.time_corrected").exists()


def test_a_correction_without_a_reason_is_422(cast, api_as, at_call_time):
    emergency = open_call(cast)
    refused = api_as(cast.lawyer).post(
        f"emergencies/{emergency.pk}/time-corrections",
        {"field": "reported_at", "at": CALL_TIME.isoformat(), "reason": ""},
    )
    assert refused.status_code == 422
    assert refused.json()["errors"]["reason"]


# --- Who may resolve ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "may"),
    [("coordinator", True), ("caseworker", True), ("lawyer", True), ("operator", False)],
)
def test_may_resolve_says_who_may(role, may, cast, api_as):
    emergency = open_call(cast)
    assert (
        api_as(cast.by_role()[role]).get(f"emergencies/{emergency.pk}").json()["may_resolve"] is may
    )


def test_an_operator_resolving_someones_emergency_gets_403(cast, api_as):
    emergency = open_call(cast)
    refused = api_as(cast.operator).post(
        f"emergencies/{emergency.pk}/resolve", {"outcome": "false_alarm"}
    )
    assert refused.status_code == 403
    assert "Only a coordinator or the case team" in refused.json()["detail"]
    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.OPEN


def test_an_operator_resolves_an_unknown_callers_emergency(cast, api_as):
    emergency = emergencies.emergency_open_call(
        actor=cast.operator, caller=None, heard="Silence", location_hint="", people=[]
    )
    api = api_as(cast.operator)
    assert api.get(f"emergencies/{emergency.pk}").json()["may_resolve"] is True
    resolved = api.post(f"emergencies/{emergency.pk}/resolve", {"outcome": "false_alarm"})
    assert resolved.json()["state"] == "resolved"


# --- The call time --------------------------------------------------------------------------------


def test_a_call_entered_afterwards_keeps_its_time(cast, api_as, at_call_time):
    body = api_as(cast.operator).post(
        "emergencies",
        {"heard": "x", "people": [str(cast.falcon.pk)], "reported_at": "2026-03-10T11:15:00Z"},
    )
    assert body.status_code == 201
    assert body.json()["reported_at"] == "2026-03-10T11:15:00Z"
    assert body.json()["opened_at"] == "2026-03-10T12:00:00Z"


def test_a_call_time_in_the_future_is_422(cast, api_as, at_call_time):
    refused = api_as(cast.operator).post(
        "emergencies", {"heard": "x", "reported_at": "2026-03-10T13:00:00Z"}
    )
    assert refused.status_code == 422
    assert "future" in refused.json()["errors"]["reported_at"][0]
    assert not Emergency.objects.exists()
