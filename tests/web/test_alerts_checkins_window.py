"""The check-in window on a person's check-ins page: the window, when check-ins start to count
for the pending deadline, early check-ins in the recent history, and the window in the form."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from refuge.alerts.models import CheckinSchedule
from refuge.alerts.services import checkins

pytestmark = pytest.mark.django_db

# Monday 9 March 2026, 22:00 in Moscow: Tuesday's 21:00 is pending.
MONDAY_NIGHT = dt.datetime(2026, 3, 9, 19, 0, tzinfo=dt.UTC)
TUESDAY_MORNING = dt.datetime(2026, 3, 10, 6, 22, tzinfo=dt.UTC)  # 09:22 MSK
PIN = "2468"


def page(cast) -> str:  # type: ignore[no-untyped-def]
    return reverse("alerts:person_checkins", args=[cast.falcon.pk])


def schedule_with_an_early_check_in(cast) -> CheckinSchedule:  # type: ignore[no-untyped-def]
    with time_machine.travel(MONDAY_NIGHT, tick=False):
        schedule = checkins.schedule_set(
            actor=None,
            person=cast.falcon,
            kind="daily",
            daily_time=dt.time(21, 0),
            time_zone="Europe/Moscow",
            grace_minutes=120,
        )
        checkins.pins_set(actor=None, schedule=schedule, pin=PIN, duress_pin=None)
    with time_machine.travel(TUESDAY_MORNING, tick=False):
        checkins.checkin_submit(schedule=schedule, pin=PIN, channel="web")
    return schedule


@pytest.mark.parametrize("role", ["caseworker", "coordinator", "operator"])
def test_the_window_and_an_early_check_in_are_shown(role, cast, login):
    schedule_with_an_early_check_in(cast)
    with time_machine.travel(TUESDAY_MORNING + dt.timedelta(minutes=5), tick=False):
        body = login(cast.by_role()[role]).get(page(cast)).content.decode()
    assert "Check-ins count from 240 minutes before the deadline" in body
    # Counts from 17:00 Moscow time for Tuesday's 21:00.
    assert "Tuesday, 10 March 2026, 17:00 (Europe/Moscow, UTC+03:00)" in body
    assert "Recent check-ins" in body
    assert "Tuesday, 10 March 2026, 09:22 (Europe/Moscow, UTC+03:00)" in body
    assert "early: before the window, did not count" in body
    assert "No check-in yet." in body  # the early one did not count


def test_outsiders_get_404(cast, login):
    schedule_with_an_early_check_in(cast)
    assert login(cast.outsider).get(page(cast)).status_code == 404


def test_the_form_sets_the_window(cast, login):
    response = login(cast.caseworker).post(
        reverse("alerts:checkins_schedule_set", args=[cast.falcon.pk]),
        {
            "kind": "daily",
            "daily_time": "08:00",
            "time_zone": "Europe/Moscow",
            "grace_minutes": "60",
            "window_minutes": "90",
        },
    )
    assert response.status_code == 302
    assert CheckinSchedule.objects.get().window_minutes == 90


def test_the_form_explains_a_window_longer_than_the_interval(cast, login):
    response = login(cast.caseworker).post(
        reverse("alerts:checkins_schedule_set", args=[cast.falcon.pk]),
        {
            "kind": "interval",
            "interval_hours": "2",
            "time_zone": "Europe/Moscow",
            "grace_minutes": "60",
            "window_minutes": "180",
        },
    )
    assert response.status_code == 400
    assert "The window cannot be longer than the interval (120 minutes)." in (
        response.content.decode()
    )
    assert not CheckinSchedule.objects.exists()


def test_the_form_shows_the_current_window(cast, login):
    schedule_with_an_early_check_in(cast)
    body = login(cast.caseworker).get(page(cast)).content.decode()
    assert 'name="window_minutes" value="240"' in body
