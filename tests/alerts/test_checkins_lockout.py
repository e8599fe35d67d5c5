"""The PIN lockout as staff see and lift it: since when, after how many wrong PINs, how many
attempts since; unlocking with a reason (audited, the reason kept encrypted on the lockout's
emergency); and a duress PIN entered while locked still raising its alarm, silently."""

from __future__ import annotations

import datetime as dt

import pytest

from refuge.alerts.models import (
    Alert,
    Checkin,
    CheckinSchedule,
    Emergency,
    EmergencyEvent,
    EmergencySource,
    Priority,
)
from refuge.alerts.services import checkins, notes
from refuge.core import clock
from refuge.core.errors import DomainError, NotFoundError
from refuge.core.models import Job
from refuge.security.models import AuditEntry
from tests.alerts.conftest import CALL_TIME, DURESS_PIN, NORMAL_PIN
from tests.conftest import Cast

pytestmark = pytest.mark.django_db

WEB = "web"
REASON = "Reached him on the landline at the shelter; he had mistyped the PIN."


def _enter(schedule: CheckinSchedule, *entered: str) -> list[checkins.CheckinResult]:
    return [checkins.checkin_submit(schedule=schedule, pin=pin, channel=WEB) for pin in entered]


def _lock(schedule: CheckinSchedule) -> None:
    assert _enter(schedule, *["0000"] * 5)[-1] == checkins.LOCKED


def test_the_lock_says_since_when_and_after_how_many_wrong_pins(at_call_time, falcon_schedule):
    results = _enter(falcon_schedule, *["0000"] * 5)
    assert results[:4] == [checkins.REFUSED] * 4
    assert results[4] == checkins.LOCKED
    lock = checkins.lock_state(CheckinSchedule.objects.get())
    assert lock == checkins.checkin_lockout.LockState(
        locked_at=CALL_TIME,
        locked_until=CALL_TIME + checkins.LOCKOUT,
        failures=5,
        attempts_while_locked=0,
    )


def test_every_pin_while_locked_is_refused_alike_and_counted_for_staff(
    at_call_time, falcon_schedule
):
    _lock(falcon_schedule)
    at_call_time.shift(dt.timedelta(minutes=5))
    results = _enter(falcon_schedule, NORMAL_PIN, DURESS_PIN, "9999")
    assert results == [checkins.LOCKED] * 3
    # The same work for each: one refused row and no job, whatever the PIN was.
    refused = Checkin.objects.filter(outcome=Checkin.Outcome.LOCKED)
    assert refused.count() == 3
    assert not Job.objects.exists()
    assert (
        AuditEntry.objects.filter(action="refuge.alerts.checkin.refused_while_locked").count() == 3
    )
    schedule = CheckinSchedule.objects.get()
    assert schedule.last_checkin_at is None
    lock = checkins.lock_state(schedule)
    assert lock is not None
    assert (lock.failures, lock.attempts_while_locked) == (5, 3)


def test_a_duress_pin_while_locked_still_raises_the_alarm_silently(
    cast: Cast, at_call_time, falcon_schedule
):
    _lock(falcon_schedule)
    assert _enter(falcon_schedule, DURESS_PIN) == [checkins.LOCKED]
    checkins.raise_duress_alarms()
    duress = Alert.objects.get(source=EmergencySource.DURESS)
    assert duress.person == cast.falcon
    # It joins the lockout's emergency and raises it to top priority.
    emergency = Emergency.objects.get()
    assert emergency.source == EmergencySource.LOCKOUT
    assert emergency.priority == Priority.TOP


def test_a_lock_that_ran_out_locks_again_after_as_many_wrong_pins(at_call_time, falcon_schedule):
    _lock(falcon_schedule)
    at_call_time.shift(checkins.LOCKOUT + dt.timedelta(seconds=1))
    assert checkins.lock_state(CheckinSchedule.objects.get()) is None
    assert _enter(falcon_schedule, *["0000"] * 4) == [checkins.REFUSED] * 4
    assert _enter(falcon_schedule, "0000") == [checkins.LOCKED]
    lock = checkins.lock_state(CheckinSchedule.objects.get())
    assert lock is not None
    assert lock.failures == 10
    assert lock.locked_at == clock.now()
    assert Alert.objects.filter(source=EmergencySource.LOCKOUT).count() == 2


@pytest.mark.parametrize("role", ["caseworker", "lawyer", "coordinator"])
def test_the_team_and_coordinators_unlock_with_a_reason(
    role, cast: Cast, at_call_time, falcon_schedule
):
    _lock(falcon_schedule)
    _enter(falcon_schedule, NORMAL_PIN)
    unlocked = checkins.checkins_unlock(
        actor=cast.by_role()[role], schedule=falcon_schedule, reason=f"  {REASON}  "
    )
    assert unlocked.locked_until is None
    assert unlocked.failed_attempts == 0
    assert checkins.lock_state(CheckinSchedule.objects.get()) is None
    # The right PIN works again at once.
    assert _enter(falcon_schedule, NORMAL_PIN)[0].accepted
    entry = AuditEntry.objects.get(action="refuge.alerts.schedule.unlocked")
    assert entry.actor_id == cast.by_role()[role].pk
    assert entry.object_id == str(falcon_schedule.pk)
    assert '"failures":5' in entry.detail
    assert '"attempts_while_locked":1' in entry.detail
    emergency = Emergency.objects.get(source=EmergencySource.LOCKOUT)
    assert f'"emergency":"{emergency.code}"' in entry.detail


def test_the_reason_is_an_encrypted_note_on_the_lockout_emergency(
    cast: Cast, at_call_time, falcon_schedule
):
    _lock(falcon_schedule)
    checkins.checkins_unlock(actor=cast.caseworker, schedule=falcon_schedule, reason=REASON)
    note = EmergencyEvent.objects.get(kind=EmergencyEvent.Kind.NOTE)
    assert note.emergency.source == EmergencySource.LOCKOUT
    assert note.actor == cast.caseworker
    assert notes.event_note(note) == (f"Check-ins unlocked after 5 wrong PINs. Reason: {REASON}")
    assert "landline" not in str(note.data)
    for entry in AuditEntry.objects.all():
        assert "landline" not in entry.detail


@pytest.mark.parametrize(
    ("reason", "message"),
    [("", "Say why"), ("   ", "Say why"), ("x" * 1001, "Keep this under"), ("a\x00b", "control")],
)
def test_an_unlock_without_a_proper_reason_is_refused_and_changes_nothing(
    cast: Cast, at_call_time, falcon_schedule, reason, message
):
    _lock(falcon_schedule)
    with pytest.raises(DomainError) as caught:
        checkins.checkins_unlock(actor=cast.caseworker, schedule=falcon_schedule, reason=reason)
    assert message in caught.value.field_errors["reason"][0]
    assert checkins.lock_state(CheckinSchedule.objects.get()) is not None
    assert not EmergencyEvent.objects.filter(kind=EmergencyEvent.Kind.NOTE).exists()


def test_nothing_to_unlock_is_refused(cast: Cast, at_call_time, falcon_schedule):
    with pytest.raises(DomainError, match="not locked"):
        checkins.checkins_unlock(actor=cast.caseworker, schedule=falcon_schedule, reason=REASON)
    assert not AuditEntry.objects.filter(action="refuge.alerts.schedule.unlocked").exists()


@pytest.mark.parametrize("role", ["outsider", "operator", "analyst", "admin"])
def test_others_cannot_unlock(role, cast: Cast, at_call_time, falcon_schedule):
    _lock(falcon_schedule)
    with pytest.raises(NotFoundError):
        checkins.checkins_unlock(
            actor=cast.by_role()[role], schedule=falcon_schedule, reason=REASON
        )
    assert checkins.lock_state(CheckinSchedule.objects.get()) is not None


def test_setting_the_pins_clears_the_lock_too(at_call_time, falcon_schedule):
    _lock(falcon_schedule)
    checkins.pins_set(actor=None, schedule=falcon_schedule, pin="8642", duress_pin=None)
    schedule = CheckinSchedule.objects.get()
    assert (schedule.locked_at, schedule.locked_until, schedule.failed_attempts) == (None, None, 0)
