"""The check-in window: a check-in counts only inside the window before its deadline; an early one
is recorded and answered, but the deadline stays pending and is missed if nobody checks in again.
The reference defect: FALCON checks in at 09:22, is seized at 15:00, and must be missed at
21:00 + grace that evening, not 37 hours later."""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil

import pytest
from django.db import IntegrityError, transaction

from refuge.alerts.models import Alert, Checkin, CheckinSchedule, Emergency, EmergencySource
from refuge.alerts.services import checkins
from refuge.core import clock
from refuge.core.errors import DomainError
from refuge.core.models import Job
from refuge.security.models import AuditEntry
from tests.alerts.conftest import DURESS_PIN, NORMAL_PIN
from tests.conftest import Cast

pytestmark = pytest.mark.django_db

WEB = "web"
# Tuesday 10 March 2026 in Moscow (UTC+3 all year).
MORNING = dt.datetime(2026, 3, 10, 6, 22, tzinfo=dt.UTC)  # 09:22 MSK
SEIZED = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)  # 15:00 MSK
OPENS = dt.datetime(2026, 3, 10, 14, 0, tzinfo=dt.UTC)  # 17:00 MSK
DEADLINE = dt.datetime(2026, 3, 10, 18, 0, tzinfo=dt.UTC)  # 21:00 MSK
MISSED_AFTER = DEADLINE + dt.timedelta(hours=2)


@pytest.fixture
def evening(cast: Cast, time_machine) -> CheckinSchedule:  # type: ignore[no-untyped-def]
    """FALCON checks in daily by 21:00 Moscow time, 2 hours' grace, the default window; the
    schedule is set on Monday night, so Tuesday 21:00 is pending."""
    time_machine.move_to(dt.datetime(2026, 3, 9, 20, 0, tzinfo=dt.UTC), tick=False)
    schedule = checkins.schedule_set(
        actor=None,
        person=cast.falcon,
        kind="daily",
        daily_time=dt.time(21, 0),
        time_zone="Europe/Moscow",
        grace_minutes=120,
    )
    return checkins.pins_set(actor=None, schedule=schedule, pin=NORMAL_PIN, duress_pin=DURESS_PIN)


def _at(time_machine, when: dt.datetime) -> None:  # type: ignore[no-untyped-def]
    time_machine.move_to(when, tick=False)


def _check_in(schedule: CheckinSchedule, pin: str = NORMAL_PIN) -> checkins.CheckinResult:
    return checkins.checkin_submit(schedule=schedule, pin=pin, channel=WEB)


def test_a_daily_schedule_counts_check_ins_from_four_hours_before(evening):
    assert evening.window_minutes == 240
    assert evening.next_deadline == DEADLINE
    assert checkins.window_opens(evening) == OPENS


def test_a_morning_check_in_is_early_and_the_evening_deadline_stays(evening, time_machine):
    _at(time_machine, MORNING)
    result = _check_in(evening)
    assert result == checkins.CheckinResult(
        accepted=True,
        next_deadline=DEADLINE,
        time_zone="Europe/Moscow",
        window_opens=OPENS,
        early=True,
    )
    schedule = CheckinSchedule.objects.get()
    assert schedule.next_deadline == DEADLINE
    assert schedule.alert_at == MISSED_AFTER
    assert schedule.last_checkin_at is None  # only a check-in that counted
    checkin = Checkin.objects.get()
    assert checkin.outcome == Checkin.Outcome.EARLY
    entry = AuditEntry.objects.get(action="refuge.alerts.checkin.recorded")
    assert '"counted":false' in entry.detail


def test_the_person_seized_after_an_early_check_in_is_missed_that_evening(
    cast: Cast, evening, time_machine
):
    _at(time_machine, MORNING)
    _check_in(evening)
    _at(time_machine, SEIZED)  # nobody checks in again
    _at(time_machine, MISSED_AFTER - dt.timedelta(seconds=1))
    assert checkins.checkins_detect_missed(clock.now()) == 0
    _at(time_machine, MISSED_AFTER)
    assert checkins.checkins_detect_missed(clock.now()) == 1
    alert = Alert.objects.get()
    assert alert.source == EmergencySource.MISSED_CHECKIN
    assert alert.person == cast.falcon
    assert alert.raised_at == MISSED_AFTER


def test_a_check_in_inside_the_window_counts(evening, time_machine):
    _at(time_machine, OPENS)
    result = _check_in(evening)
    assert result.accepted
    assert not result.early
    tomorrow = DEADLINE + dt.timedelta(days=1)
    assert result.next_deadline == tomorrow
    assert result.window_opens == tomorrow - dt.timedelta(hours=4)
    schedule = CheckinSchedule.objects.get()
    assert schedule.last_checkin_at == OPENS
    assert Checkin.objects.get().outcome == Checkin.Outcome.COUNTED
    _at(time_machine, MISSED_AFTER + dt.timedelta(minutes=1))
    assert checkins.checkins_detect_missed(clock.now()) == 0


def test_a_minute_before_the_window_is_early(evening, time_machine):
    _at(time_machine, OPENS - dt.timedelta(minutes=1))
    assert _check_in(evening).early


def test_a_late_check_in_within_grace_counts(evening, time_machine):
    _at(time_machine, DEADLINE + dt.timedelta(minutes=90))
    result = _check_in(evening)
    assert not result.early
    assert result.next_deadline == DEADLINE + dt.timedelta(days=1)
    _at(time_machine, MISSED_AFTER)
    assert checkins.checkins_detect_missed(clock.now()) == 0


def test_a_second_check_in_the_same_evening_is_early_for_tomorrow(evening, time_machine):
    _at(time_machine, OPENS + dt.timedelta(hours=1))
    first = _check_in(evening)
    _at(time_machine, OPENS + dt.timedelta(hours=2))
    second = _check_in(evening)
    assert second.early
    assert second.next_deadline == first.next_deadline == DEADLINE + dt.timedelta(days=1)


def test_an_early_duress_check_in_answers_like_an_early_normal_one_and_alarms(
    cast: Cast, evening, time_machine
):
    _at(time_machine, MORNING)
    normal = _check_in(evening)
    duress = _check_in(evening, DURESS_PIN)
    assert normal == duress
    assert normal.early
    # The same work for both: one row each, no job; the deadline stays.
    assert Checkin.objects.count() == 2
    assert not Job.objects.exists()
    assert CheckinSchedule.objects.get().next_deadline == DEADLINE
    checkins.raise_duress_alarms()
    emergency = Emergency.objects.get()
    assert emergency.source == EmergencySource.DURESS
    assert list(emergency.people.all()) == [cast.falcon]


def test_an_interval_schedule_counts_every_check_in_by_default(cast: Cast, at_call_time):
    schedule = checkins.schedule_set(
        actor=None,
        person=cast.falcon,
        kind="interval",
        interval_hours=12,
        time_zone="Europe/Moscow",
        grace_minutes=60,
    )
    checkins.pins_set(actor=None, schedule=schedule, pin=NORMAL_PIN, duress_pin=None)
    assert schedule.window_minutes == 12 * 60
    at_call_time.shift(dt.timedelta(hours=1))
    result = _check_in(schedule)
    assert not result.early
    assert result.next_deadline == clock.now() + dt.timedelta(hours=12)


def test_an_interval_schedule_with_a_narrow_window(cast: Cast, at_call_time):
    schedule = checkins.schedule_set(
        actor=None,
        person=cast.falcon,
        kind="interval",
        interval_hours=12,
        time_zone="Europe/Moscow",
        grace_minutes=60,
        window_minutes=120,
    )
    checkins.pins_set(actor=None, schedule=schedule, pin=NORMAL_PIN, duress_pin=None)
    deadline = schedule.next_deadline
    assert deadline is not None
    at_call_time.shift(dt.timedelta(hours=9))
    assert _check_in(schedule).next_deadline == deadline  # early
    at_call_time.shift(dt.timedelta(hours=1))
    assert _check_in(schedule).next_deadline == clock.now() + dt.timedelta(hours=12)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"window_minutes": 14}, "at least 15"),
        ({"window_minutes": 0}, "at least 15"),
        ({"window_minutes": True}, "at least 15"),
        ({"window_minutes": 13 * 60}, "longer than the interval (720 minutes)"),
        (
            {"kind": "daily", "daily_time": dt.time(21, 0), "window_minutes": 1441},
            "longer than a day",
        ),
    ],
)
def test_a_window_longer_than_the_period_is_refused_and_nothing_changes(
    cast: Cast, overrides, message
):
    arguments = {
        "actor": None,
        "person": cast.falcon,
        "kind": "interval",
        "interval_hours": 12,
        "time_zone": "Europe/Moscow",
        "grace_minutes": 60,
        **overrides,
    }
    with pytest.raises(DomainError) as caught:
        checkins.schedule_set(**arguments)  # type: ignore[arg-type]
    assert message in caught.value.field_errors["window_minutes"][0]
    assert not CheckinSchedule.objects.exists()


def test_the_window_is_stored_and_audited(cast: Cast, at_call_time):
    schedule = checkins.schedule_set(
        actor=cast.caseworker,
        person=cast.falcon,
        kind="daily",
        daily_time=dt.time(8, 0),
        time_zone="Europe/Moscow",
        grace_minutes=60,
        window_minutes=90,
    )
    assert CheckinSchedule.objects.get().window_minutes == 90
    assert checkins.window_opens(schedule) == schedule.next_deadline - dt.timedelta(minutes=90)
    entry = AuditEntry.objects.get(action="refuge.alerts.schedule.created")
    assert '"window_minutes":90' in entry.detail


def test_the_database_refuses_a_window_longer_than_the_interval(cast: Cast, falcon_schedule):
    with pytest.raises(IntegrityError), transaction.atomic():
        CheckinSchedule.objects.filter(pk=falcon_schedule.pk).update(window_minutes=25 * 60)


def test_the_migration_keeps_existing_interval_schedules_counting_every_check_in(
    cast: Cast, falcon_schedule
):
    from django.apps import apps

    import refuge.alerts.migrations as package

    step = next(  # found by name, whatever number the migration ends up with
        module._interval_windows_keep_the_whole_interval
        for module in (
            importlib.import_module(f"{package.__name__}.{info.name}")
            for info in pkgutil.iter_modules(package.__path__)
        )
        if hasattr(module, "_interval_windows_keep_the_whole_interval")
    )
    CheckinSchedule.objects.filter(pk=falcon_schedule.pk).update(window_minutes=240)
    step(apps, None)
    assert CheckinSchedule.objects.get().window_minutes == 24 * 60
