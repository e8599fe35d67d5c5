"""The PIN lockout on a person's check-ins page: its state for everyone who sees the schedule,
the unlock form (with a reason) for the case team and coordinators, and the lock history."""

from __future__ import annotations

import pytest
from django.urls import reverse

from refuge.alerts.models import CheckinSchedule, Emergency, EmergencySource
from refuge.alerts.services import checkins
from refuge.security.models import AuditEntry
from tests.alerts.conftest import CALL_TIME, NORMAL_PIN

pytestmark = pytest.mark.django_db

REASON = "Called him on the shelter's landline; he had mistyped it."


def page(cast) -> str:  # type: ignore[no-untyped-def]
    return reverse("alerts:person_checkins", args=[cast.falcon.pk])


def unlock(cast) -> str:  # type: ignore[no-untyped-def]
    return reverse("alerts:checkins_unlock", args=[cast.falcon.pk])


@pytest.fixture
def schedule(cast, time_machine) -> CheckinSchedule:  # type: ignore[no-untyped-def]
    """FALCON checks in every 24 hours; the clock stands at the call time."""
    time_machine.move_to(CALL_TIME, tick=False)
    schedule = checkins.schedule_set(
        actor=None,
        person=cast.falcon,
        kind="interval",
        interval_hours=24,
        time_zone="Europe/Moscow",
        grace_minutes=120,
    )
    return checkins.pins_set(actor=None, schedule=schedule, pin=NORMAL_PIN, duress_pin=None)


@pytest.fixture
def locked(schedule) -> CheckinSchedule:  # type: ignore[no-untyped-def]
    """Locked by five wrong PINs; the right PIN was refused once since."""
    for pin in ["0000"] * 5 + [NORMAL_PIN]:
        checkins.checkin_submit(schedule=schedule, pin=pin, channel="web")
    return CheckinSchedule.objects.get()


@pytest.mark.parametrize("role", ["caseworker", "lawyer", "coordinator"])
def test_the_team_and_coordinators_see_the_lock_and_the_unlock_form(role, cast, login, locked):
    body = login(cast.by_role()[role]).get(page(cast)).content.decode()
    assert "Check-ins are locked" in body
    assert "after 5 wrong PINs in a row" in body
    # Since 15:00 and until 15:30 Moscow time (the call time is 12:00 UTC).
    assert "Tuesday, 10 March 2026, 15:00 (Europe/Moscow, UTC+03:00)" in body
    assert "Tuesday, 10 March 2026, 15:30 (Europe/Moscow, UTC+03:00)" in body
    assert "1 PIN entered, refused" in body
    assert unlock(cast) in body
    assert 'name="reason"' in body


def test_operators_see_the_lock_without_the_form(cast, login, locked):
    client = login(cast.operator)
    body = client.get(page(cast)).content.decode()
    assert "Check-ins are locked" in body
    assert unlock(cast) not in body
    assert client.post(unlock(cast), {"reason": REASON}).status_code == 404
    assert checkins.lock_state(CheckinSchedule.objects.get()) is not None


@pytest.mark.parametrize("role", ["outsider", "analyst", "admin"])
def test_others_get_404(role, cast, login, locked):
    client = login(cast.by_role()[role])
    assert client.get(page(cast)).status_code == 404
    assert client.post(unlock(cast), {"reason": REASON}).status_code == 404
    assert checkins.lock_state(CheckinSchedule.objects.get()) is not None


def test_unlocking_with_a_reason(cast, login, locked):
    client = login(cast.caseworker)
    response = client.post(unlock(cast), {"reason": REASON})
    assert response.status_code == 302
    assert checkins.lock_state(CheckinSchedule.objects.get()) is None
    body = client.get(page(cast)).content.decode()
    assert "Check-ins unlocked. The person can check in again." in body
    assert "Check-ins are locked" not in body
    code = Emergency.objects.get(source=EmergencySource.LOCKOUT).code
    assert "locked after 5 wrong PINs" in body
    assert f"unlocked by caseworker (the reason is a note on {code})" in body
    assert REASON not in body  # the reason is on the emergency, not here
    assert AuditEntry.objects.filter(action="refuge.alerts.schedule.unlocked").count() == 1


def test_an_unlock_without_a_reason_is_explained(cast, login, locked):
    response = login(cast.caseworker).post(unlock(cast), {"reason": " "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert checkins.lock_state(CheckinSchedule.objects.get()) is not None


def test_unlocking_what_is_not_locked_is_explained(cast, login, schedule):
    response = login(cast.caseworker).post(unlock(cast), {"reason": REASON})
    assert response.status_code == 400
    assert "Check-ins are not locked: there is nothing to unlock." in response.content.decode()


def test_wrong_pins_short_of_a_lock_are_shown(cast, login, schedule):
    for _attempt in range(3):
        checkins.checkin_submit(schedule=schedule, pin="0000", channel="web")
    body = login(cast.lawyer).get(page(cast)).content.decode()
    assert "accepted; 3 wrong PINs in a row (every 5 lock them)" in body
