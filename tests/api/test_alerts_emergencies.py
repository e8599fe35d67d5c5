"""The emergency line over the API: emergencies, their events and actions, check-in schedules."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from django.conf import settings

from refuge.alerts.models import CheckinLink, CheckinSchedule, Emergency, EmergencyState
from refuge.alerts.services import checkins, response
from refuge.core import clock
from refuge.security.models import AuditEntry
from tests.conftest import BIRCH_NAME, FALCON_NAME, FLAT_ADDRESS
from tests.web.test_alerts_emergency import HEARD, HINT, open_call

pytestmark = pytest.mark.django_db

ALLOWED = ("operator", "coordinator", "caseworker", "lawyer")
REFUSED = ("outsider", "admin", "analyst")
PIN, DURESS = "2468", "1357"


def _no_identity(text: str) -> None:
    for secret in (FALCON_NAME, BIRCH_NAME, FLAT_ADDRESS):
        assert secret not in text


# --- Listing and reading --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ALLOWED)
def test_the_line_and_the_case_team_list_the_open_emergency(role, cast, api_as):
    emergency = open_call(cast)
    body = api_as(cast.by_role()[role]).get("emergencies").json()
    assert [item["code"] for item in body["items"]] == [emergency.code]
    assert body["items"][0]["people"] == ["BIRCH", "FALCON"]
    assert body["items"][0]["state"] == "open"


@pytest.mark.parametrize("role", REFUSED)
def test_others_list_nothing_and_get_404_for_one(role, cast, api_as):
    emergency = open_call(cast)
    api = api_as(cast.by_role()[role])
    assert api.get("emergencies").json()["items"] == []
    for path in (f"emergencies/{emergency.pk}", f"emergencies/{emergency.pk}/events"):
        assert api.get(path).status_code == 404
    for action in ("acknowledge", "en-route", "on-site"):
        assert api.post(f"emergencies/{emergency.pk}/{action}").status_code == 404
    assert api.post(f"emergencies/{emergency.pk}/notes", {"text": "x"}).status_code == 404
    assert api.post(f"emergencies/{emergency.pk}/resolve", {"outcome": "safe"}).status_code == 404
    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.OPEN


def test_a_hidden_emergency_is_404_even_with_a_bad_body(cast, api_as):
    emergency = open_call(cast)
    response = api_as(cast.outsider).post(f"emergencies/{emergency.pk}/resolve", {"outcome": 1})
    assert response.status_code == 404


def test_the_list_is_active_by_default_and_filters_by_state(cast, api_as):
    emergency = open_call(cast)
    response.emergency_resolve(actor=cast.coordinator, emergency=emergency, outcome="safe")
    api = api_as(cast.operator)
    assert api.get("emergencies").json()["items"] == []
    resolved = api.get("emergencies", {"state": "resolved"}).json()["items"]
    assert [item["outcome"] for item in resolved] == ["safe"]
    assert api.get("emergencies", {"state": "nonsense"}).status_code == 422


def test_one_emergency_carries_what_was_heard_and_the_read_is_audited(cast, api_as):
    emergency = open_call(cast)
    response = api_as(cast.lawyer).get(f"emergencies/{emergency.pk}")
    body = response.json()
    assert response.status_code == 200
    assert (body["heard"], body["location_hint"]) == (HEARD, HINT)
    assert body["caller"]["pseudonym"] == "BIRCH"
    assert body["cases"] == [{"id": str(cast.case.pk), "code": cast.case.code, "visible": True}]
    _no_identity(response.content.decode())
    entry = AuditEntry.objects.get(action="refuge.alerts.emergency.viewed")
    assert entry.actor_label == "lawyer"


def test_an_unknown_emergency_is_404(cast, api_as):
    assert api_as(cast.operator).get(f"emergencies/{uuid.uuid4()}").status_code == 404


def test_events_are_timed_and_a_note_reads_back(cast, api_as):
    emergency = open_call(cast)
    api = api_as(cast.operator)
    note = api.post(f"emergencies/{emergency.pk}/notes", {"text": "Lawyer called back"})
    assert note.status_code == 201
    assert note.json()["note"] == "Lawyer called back"
    events = api.get(f"emergencies/{emergency.pk}/events").json()
    assert [e["kind"] for e in events] == ["opened", "escalated", "note"]
    assert events[0]["data"]["source"] == "call"
    assert "note" not in events[2]["data"]  # the ciphertext stays inside
    assert events[2]["note"] == "Lawyer called back"


# --- Logging a call -------------------------------------------------------------------------------


def test_logging_a_call_opens_an_emergency_linked_to_the_cases(cast, api_as):
    response = api_as(cast.operator).post(
        "emergencies",
        {
            "caller": str(cast.birch.pk),
            "heard": HEARD,
            "location_hint": HINT,
            "people": [str(cast.falcon.pk)],
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert sorted(p["pseudonym"] for p in body["people_refs"]) == ["BIRCH", "FALCON"]
    assert [c["code"] for c in body["cases"]] == [cast.case.code]
    # Operators see only emergency cases; the evacuation case is linked all the same.
    assert body["cases"][0]["visible"] is False
    assert Emergency.objects.get().opened_by == cast.operator


def test_an_unknown_caller_is_null(cast, api_as):
    response = api_as(cast.coordinator).post("emergencies", {"caller": None, "heard": HEARD})
    assert response.status_code == 201
    assert response.json()["caller"] is None


def test_an_unknown_person_is_422_without_saying_whether_it_exists(cast, api_as):
    response = api_as(cast.caseworker).post(
        "emergencies", {"heard": HEARD, "people": [str(uuid.uuid4())]}
    )
    assert response.status_code == 422
    assert "Unknown person" in response.json()["errors"]["people"][0]
    assert not Emergency.objects.exists()


def test_a_call_needs_what_was_heard_and_no_unknown_fields(cast, api_as):
    api = api_as(cast.operator)
    assert api.post("emergencies", {"people": []}).status_code == 422
    assert api.post("emergencies", {"heard": "x", "address": "y"}).status_code == 422


@pytest.mark.parametrize("role", ["admin", "analyst"])
def test_roles_without_emergencies_cannot_log_calls(role, cast, api_as):
    response = api_as(cast.by_role()[role]).post("emergencies", {"heard": HEARD})
    assert response.status_code == 422
    assert not Emergency.objects.exists()


# --- Actions --------------------------------------------------------------------------------------


def test_acknowledge_on_the_way_on_site_and_resolve(cast, api_as):
    emergency = open_call(cast)
    api = api_as(cast.lawyer)
    start = clock.now()
    steps = [
        ("acknowledge", 1, "acknowledged"),
        ("en-route", 5, "en_route"),
        ("on-site", 30, "on_site"),
    ]
    for action, minutes, state in steps:
        with time_machine.travel(start + dt.timedelta(minutes=minutes), tick=False):
            body = api.post(f"emergencies/{emergency.pk}/{action}").json()
        assert body["state"] == state
    assert body["acknowledged_by"]["username"] == "lawyer"
    assert body["acknowledged_at"] is not None
    assert body["on_site_at"] is not None
    emergency.refresh_from_db()
    assert emergency.on_site_at == start + dt.timedelta(minutes=30)
    resolved = api.post(
        f"emergencies/{emergency.pk}/resolve", {"outcome": "detained", "note": "Gone"}
    )
    assert resolved.json()["state"] == "resolved"
    assert resolved.json()["resolution_note"] == "Gone"


def test_a_refused_step_is_422(cast, api_as):
    emergency = open_call(cast)
    api = api_as(cast.lawyer)
    api.post(f"emergencies/{emergency.pk}/on-site")
    refused = api.post(f"emergencies/{emergency.pk}/on-site")
    assert refused.status_code == 422
    assert refused.json()["detail"]


def test_resolving_needs_a_valid_outcome(cast, api_as):
    emergency = open_call(cast)
    api = api_as(cast.coordinator)
    assert api.post(f"emergencies/{emergency.pk}/resolve", {"outcome": "x"}).status_code == 422
    refused = api.post(f"emergencies/{emergency.pk}/resolve", {"outcome": "cancelled_by_person"})
    assert refused.status_code == 422


# --- Check-in schedules ---------------------------------------------------------------------------


def schedule_path(cast, tail: str = "") -> str:
    return f"people/{cast.falcon.pk}/checkin-schedule{tail}"


DAILY = {"kind": "daily", "daily_time": "21:00", "time_zone": "Europe/Moscow", "grace_minutes": 120}


def test_a_team_member_sets_and_reads_the_schedule(cast, api_as):
    api = api_as(cast.lawyer)
    assert api.get(schedule_path(cast)).status_code == 404  # none yet
    put = api.request("PUT", schedule_path(cast), DAILY)
    assert put.status_code == 200
    body = api.get(schedule_path(cast)).json()
    assert (body["kind"], body["daily_time"], body["time_zone"]) == (
        "daily",
        "21:00:00",
        "Europe/Moscow",
    )
    assert body["next_deadline"] is not None
    assert (body["pin_set"], body["duress_pin_set"], body["live_links"]) == (False, False, 0)
    assert body["person"]["pseudonym"] == "FALCON"


def test_operators_read_but_do_not_change_schedules(cast, api_as):
    api_as(cast.lawyer).request("PUT", schedule_path(cast), DAILY)
    api = api_as(cast.operator)
    assert api.get(schedule_path(cast)).status_code == 200
    assert api.request("PUT", schedule_path(cast), DAILY).status_code == 404
    assert api.post(schedule_path(cast, "/resume")).status_code == 404


@pytest.mark.parametrize("role", REFUSED)
def test_others_get_404_on_schedules(role, cast, api_as):
    api_as(cast.lawyer).request("PUT", schedule_path(cast), DAILY)
    api = api_as(cast.by_role()[role])
    assert api.get(schedule_path(cast)).status_code == 404
    assert api.request("PUT", schedule_path(cast), DAILY).status_code == 404
    for tail in ("/pause", "/resume", "/link"):
        assert api.post(schedule_path(cast, tail)).status_code == 404
    assert api.post(schedule_path(cast, "/pins"), {"pin": PIN}).status_code == 404
    assert api.delete(schedule_path(cast, "/link")).status_code == 404


def test_a_bad_schedule_is_422_with_field_errors(cast, api_as):
    response = api_as(cast.lawyer).request(
        "PUT", schedule_path(cast), {**DAILY, "time_zone": "Mars/Olympus"}
    )
    assert response.status_code == 422
    assert "time_zone" in response.json()["errors"]


def test_pause_and_resume(cast, api_as):
    api = api_as(cast.lawyer)
    api.request("PUT", schedule_path(cast), DAILY)
    until = (clock.now() + dt.timedelta(days=2)).isoformat()
    paused = api.post(schedule_path(cast, "/pause"), {"until": until}).json()
    assert paused["paused"] is True
    assert paused["paused_until"] is not None
    assert api.post(schedule_path(cast, "/resume")).json()["paused"] is False
    assert (
        api.post(schedule_path(cast, "/pause"), {"until": "2020-01-01T00:00:00+00:00"}).status_code
        == 422
    )


def test_pins_are_accepted_and_never_returned_or_audited(cast, api_as):
    api = api_as(cast.lawyer)
    api.request("PUT", schedule_path(cast), DAILY)
    response = api.post(schedule_path(cast, "/pins"), {"pin": PIN, "duress_pin": DURESS})
    assert response.status_code == 200
    assert (response.json()["pin_set"], response.json()["duress_pin_set"]) == (True, True)
    text = response.content.decode()
    assert PIN not in text
    assert DURESS not in text
    for entry in AuditEntry.objects.all():
        assert PIN not in entry.detail
        assert DURESS not in entry.detail
    refused = api.post(schedule_path(cast, "/pins"), {"pin": "12", "duress_pin": "12ab"})
    assert refused.status_code == 422
    assert "12ab" not in refused.content.decode()


def test_a_personal_link_is_returned_once_and_revoked(cast, api_as):
    api = api_as(cast.lawyer)
    issued = api.post(schedule_path(cast, "/link"))
    assert issued.status_code == 201
    assert issued.json()["url"].startswith(settings.PUBLIC_BASE_URL + "/c/")
    assert CheckinLink.objects.filter(revoked_at__isnull=True).count() == 1
    assert api.delete(schedule_path(cast, "/link")).status_code == 204
    assert not CheckinLink.objects.filter(revoked_at__isnull=True).exists()


def test_schedule_reads_show_the_pins_state_only(cast, api_as):
    schedule = checkins.schedule_set(
        actor=cast.coordinator,
        person=cast.falcon,
        kind="interval",
        interval_hours=6,
        time_zone="Europe/Moscow",
        grace_minutes=30,
    )
    checkins.pins_set(actor=cast.coordinator, schedule=schedule, pin=PIN, duress_pin=None)
    body = api_as(cast.caseworker).get(schedule_path(cast)).json()
    assert (body["pin_set"], body["duress_pin_set"]) == (True, False)
    assert CheckinSchedule.objects.get().pin_hash not in str(body)
