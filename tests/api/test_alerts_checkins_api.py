"""The check-in schedule's window and history in the API: set and read the window, see when
check-ins start to count, list recent check-ins (counted or early). The case team and
coordinators may; operators read; outsiders get 404."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from refuge.alerts.models import CheckinSchedule
from refuge.alerts.services import checkins

pytestmark = pytest.mark.django_db

REFUSED = ("outsider", "admin", "analyst")
PIN = "2468"
# Tuesday 10 March 2026, 09:22 in Moscow (UTC+3).
MORNING = dt.datetime(2026, 3, 10, 6, 22, tzinfo=dt.UTC)
DAILY = {"kind": "daily", "daily_time": "21:00", "time_zone": "Europe/Moscow", "grace_minutes": 120}


def path(cast, tail: str = "") -> str:  # type: ignore[no-untyped-def]
    return f"people/{cast.falcon.pk}/checkin-schedule{tail}"


@pytest.mark.parametrize("role", ["lawyer", "caseworker", "coordinator"])
def test_the_team_and_coordinators_set_and_read_the_window(role, cast, api_as):
    api = api_as(cast.by_role()[role])
    with time_machine.travel(MORNING, tick=False):
        put = api.request("PUT", path(cast), {**DAILY, "window_minutes": 90})
        body = api.get(path(cast)).json()
    assert put.status_code == 200
    assert body["window_minutes"] == 90
    assert body["next_deadline"] == "2026-03-10T18:00:00Z"
    assert body["window_opens_at"] == "2026-03-10T16:30:00Z"


def test_without_a_window_a_daily_schedule_counts_from_four_hours_before(cast, api_as):
    api = api_as(cast.lawyer)
    with time_machine.travel(MORNING, tick=False):
        body = api.request("PUT", path(cast), DAILY).json()
    assert body["window_minutes"] == 240
    assert body["window_opens_at"] == "2026-03-10T14:00:00Z"


def test_a_window_longer_than_the_interval_is_422_and_changes_nothing(cast, api_as):
    api = api_as(cast.lawyer)
    response = api.request(
        "PUT",
        path(cast),
        {"kind": "interval", "interval_hours": 2, "time_zone": "UTC", "window_minutes": 180},
    )
    assert response.status_code == 422
    assert "window_minutes" in response.json()["errors"]
    assert not CheckinSchedule.objects.exists()


def _early_and_counted(cast) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(MORNING - dt.timedelta(hours=12), tick=False):  # Monday night
        schedule = checkins.schedule_set(
            actor=None,
            person=cast.falcon,
            kind="daily",
            daily_time=dt.time(21, 0),
            time_zone="Europe/Moscow",
            grace_minutes=120,
        )
        checkins.pins_set(actor=None, schedule=schedule, pin=PIN, duress_pin=None)
    with time_machine.travel(MORNING, tick=False):
        checkins.checkin_submit(schedule=schedule, pin=PIN, channel="web")
    with time_machine.travel(MORNING + dt.timedelta(hours=9), tick=False):
        checkins.checkin_submit(schedule=schedule, pin=PIN, channel="telegram")


@pytest.mark.parametrize("role", ["lawyer", "coordinator", "operator"])
def test_recent_check_ins_say_which_were_early(role, cast, api_as):
    _early_and_counted(cast)
    response = api_as(cast.by_role()[role]).get(path(cast, "/checkins"))
    assert response.status_code == 200
    assert response.json() == [
        {"at": "2026-03-10T15:22:00Z", "channel": "telegram", "outcome": "counted"},
        {"at": "2026-03-10T06:22:00Z", "channel": "web", "outcome": "early"},
    ]


@pytest.mark.parametrize("role", REFUSED)
def test_others_get_404_for_the_history(role, cast, api_as):
    _early_and_counted(cast)
    assert api_as(cast.by_role()[role]).get(path(cast, "/checkins")).status_code == 404


def test_no_schedule_no_history(cast, api_as):
    assert api_as(cast.lawyer).get(path(cast, "/checkins")).status_code == 404


# --- the PIN lockout ------------------------------------------------------------------------------

REASON = "Reached by phone; he had mistyped the PIN."


def _locked(cast):  # type: ignore[no-untyped-def]
    """FALCON's check-ins locked by five wrong PINs at 12:00 UTC, one right PIN refused since."""
    with time_machine.travel(MORNING, tick=False):
        schedule = checkins.schedule_set(
            actor=None,
            person=cast.falcon,
            kind="interval",
            interval_hours=24,
            time_zone="Europe/Moscow",
            grace_minutes=120,
        )
        checkins.pins_set(actor=None, schedule=schedule, pin=PIN, duress_pin=None)
        for pin in ["0000"] * 5 + [PIN]:
            checkins.checkin_submit(schedule=schedule, pin=pin, channel="web")
    return schedule


@pytest.mark.parametrize("role", ["lawyer", "coordinator", "operator"])
def test_the_lock_is_in_the_schedule(role, cast, api_as):
    _locked(cast)
    with time_machine.travel(MORNING + dt.timedelta(minutes=1), tick=False):
        body = api_as(cast.by_role()[role]).get(path(cast)).json()
    assert body["locked"] is True
    assert body["locked_at"] == "2026-03-10T06:22:00Z"
    assert body["locked_until"] == "2026-03-10T06:52:00Z"
    assert (body["failed_attempts"], body["attempts_while_locked"]) == (5, 1)


@pytest.mark.parametrize("role", ["lawyer", "caseworker", "coordinator"])
def test_the_team_and_coordinators_unlock_with_a_reason(role, cast, api_as):
    _locked(cast)
    with time_machine.travel(MORNING + dt.timedelta(minutes=1), tick=False):
        response = api_as(cast.by_role()[role]).post(path(cast, "/unlock"), {"reason": REASON})
    assert response.status_code == 200
    body = response.json()
    assert (body["locked"], body["locked_until"], body["failed_attempts"]) == (False, None, 0)
    assert REASON not in response.content.decode()


@pytest.mark.parametrize("role", [*REFUSED, "operator"])
def test_others_cannot_unlock(role, cast, api_as):
    _locked(cast)
    with time_machine.travel(MORNING + dt.timedelta(minutes=1), tick=False):
        response = api_as(cast.by_role()[role]).post(path(cast, "/unlock"), {"reason": REASON})
        assert response.status_code == 404
        assert checkins.lock_state(CheckinSchedule.objects.get()) is not None


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x" * 1001}])
def test_an_unlock_needs_a_reason(body, cast, api_as):
    _locked(cast)
    with time_machine.travel(MORNING + dt.timedelta(minutes=1), tick=False):
        response = api_as(cast.lawyer).post(path(cast, "/unlock"), body)
        assert response.status_code == 422
        assert checkins.lock_state(CheckinSchedule.objects.get()) is not None


def test_unlocking_what_is_not_locked_is_422(cast, api_as):
    _locked(cast)
    with time_machine.travel(MORNING + dt.timedelta(hours=1), tick=False):  # it ran out
        response = api_as(cast.lawyer).post(path(cast, "/unlock"), {"reason": REASON})
    assert response.status_code == 422
    assert "not locked" in response.json()["detail"]


def test_refused_attempts_while_locked_are_in_the_history(cast, api_as):
    _locked(cast)
    history = api_as(cast.lawyer).get(path(cast, "/checkins")).json()
    assert [item["outcome"] for item in history] == ["locked"]
