"""Missed check-ins: detected when deadline + grace passes, once; a worker that was down fires
every overdue deadline at once on restart, marked late."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from refuge.alerts.models import Alert, CheckinSchedule, Emergency, EmergencySource
from refuge.alerts.services import checkins, surge
from refuge.core import clock, jobs
from refuge.security.models import AuditEntry
from tests.alerts.conftest import CALL_TIME, NORMAL_PIN
from tests.conftest import Cast
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


def _interval_schedules_now_due(count: int, time_machine) -> None:  # type: ignore[no-untyped-def]
    """`count` new people on hourly check-ins, and the clock moved past their first deadline."""
    time_machine.move_to(CALL_TIME, tick=False)
    for _ in range(count):
        checkins.schedule_set(
            actor=None,
            person=PersonFactory(),
            kind="interval",
            interval_hours=1,
            time_zone="UTC",
            grace_minutes=5,
        )
    time_machine.move_to(CALL_TIME + dt.timedelta(hours=2), tick=False)


def test_nothing_fires_before_deadline_plus_grace(falcon_schedule, time_machine):
    alert_at = CheckinSchedule.objects.get().alert_at
    time_machine.move_to(alert_at - dt.timedelta(seconds=1), tick=False)
    assert checkins.checkins_detect_missed(clock.now()) == 0
    assert not Alert.objects.exists()


def test_exactly_one_alert_when_deadline_plus_grace_passes(
    cast: Cast, falcon_schedule, time_machine
):
    schedule = CheckinSchedule.objects.get()
    deadline, alert_at = schedule.next_deadline, schedule.alert_at
    time_machine.move_to(alert_at, tick=False)
    assert checkins.checkins_detect_missed(clock.now()) == 1
    assert checkins.checkins_detect_missed(clock.now()) == 0
    time_machine.shift(dt.timedelta(minutes=30))
    assert checkins.checkins_detect_missed(clock.now()) == 0
    alert = Alert.objects.get()
    assert alert.source == EmergencySource.MISSED_CHECKIN
    assert alert.person == cast.falcon
    assert alert.raised_at == alert_at
    assert alert.late is False
    assert alert.dedupe_key == f"missed:{schedule.pk}:{deadline.isoformat()}"
    assert Emergency.objects.get().source == EmergencySource.MISSED_CHECKIN
    moved = CheckinSchedule.objects.get()
    assert moved.next_deadline == deadline + dt.timedelta(hours=24)
    assert moved.alert_at == moved.next_deadline + dt.timedelta(hours=2)
    entry = AuditEntry.objects.get(action="refuge.alerts.checkin.missed")
    assert entry.object_id == str(schedule.pk)


def test_a_check_in_within_grace_prevents_the_alert(falcon_schedule, time_machine):
    schedule = CheckinSchedule.objects.get()
    time_machine.move_to(schedule.next_deadline + dt.timedelta(minutes=90), tick=False)
    checkins.checkin_submit(schedule=schedule, pin=NORMAL_PIN, channel="web")
    time_machine.move_to(schedule.alert_at + dt.timedelta(minutes=1), tick=False)
    assert checkins.checkins_detect_missed(clock.now()) == 0


def test_the_next_period_fires_again_and_joins_the_open_emergency(falcon_schedule, time_machine):
    schedule = CheckinSchedule.objects.get()
    time_machine.move_to(schedule.alert_at, tick=False)
    assert checkins.checkins_detect_missed(clock.now()) == 1
    time_machine.shift(dt.timedelta(hours=24))
    assert checkins.checkins_detect_missed(clock.now()) == 1
    assert Alert.objects.count() == 2
    assert Emergency.objects.count() == 1


def test_after_a_long_outage_each_overdue_schedule_fires_once_marked_late(cast: Cast, time_machine):
    time_machine.move_to(CALL_TIME, tick=False)
    people = [cast.falcon, cast.birch, *(PersonFactory() for _ in range(3))]
    for hours, person in enumerate(people, start=1):
        checkins.schedule_set(
            actor=None,
            person=person,
            kind="interval",
            interval_hours=hours,
            time_zone="Europe/Moscow",
            grace_minutes=30,
        )
    # The worker was down for three days.
    time_machine.move_to(CALL_TIME + dt.timedelta(days=3), tick=False)
    assert checkins.checkins_detect_missed(clock.now()) == len(people)
    assert checkins.checkins_detect_missed(clock.now()) == 0
    alerts = list(Alert.objects.all())
    assert len(alerts) == len(people)
    assert all(alert.late for alert in alerts)
    assert {alert.person_id for alert in alerts} == {p.pk for p in people}
    for schedule in CheckinSchedule.objects.all():
        assert schedule.alert_at > clock.now()
        assert schedule.next_deadline <= clock.now() + dt.timedelta(hours=schedule.interval_hours)


def test_an_alert_a_little_after_its_time_is_not_late(falcon_schedule, time_machine, settings):
    settings.WORKER_POLL_SECONDS = 2
    schedule = CheckinSchedule.objects.get()
    time_machine.move_to(schedule.alert_at + dt.timedelta(seconds=4), tick=False)
    checkins.checkins_detect_missed(clock.now())
    assert Alert.objects.get().late is False


def test_an_alert_more_than_two_polls_after_its_time_is_late(
    falcon_schedule, time_machine, settings
):
    settings.WORKER_POLL_SECONDS = 2
    schedule = CheckinSchedule.objects.get()
    time_machine.move_to(schedule.alert_at + dt.timedelta(seconds=5), tick=False)
    checkins.checkins_detect_missed(clock.now())
    assert Alert.objects.get().late is True


def test_the_limit_bounds_one_call_and_the_rest_fire_on_the_next(cast: Cast, time_machine):
    _interval_schedules_now_due(7, time_machine)
    assert checkins.checkins_detect_missed(clock.now(), limit=3) == 3
    assert checkins.checkins_detect_missed(clock.now(), limit=3) == 3
    assert checkins.checkins_detect_missed(clock.now(), limit=3) == 1
    assert Alert.objects.count() == 7


def test_a_schedule_that_fails_does_not_stop_the_others(cast: Cast, time_machine, monkeypatch):
    time_machine.move_to(CALL_TIME, tick=False)
    for person in (cast.falcon, cast.birch):
        checkins.schedule_set(
            actor=None,
            person=person,
            kind="interval",
            interval_hours=1,
            time_zone="UTC",
            grace_minutes=5,
        )
    real = surge.raise_alerts

    def flaky(specs):  # type: ignore[no-untyped-def]
        if any(spec.person == cast.falcon for spec in specs):
            raise RuntimeError("boom")
        return real(specs)

    monkeypatch.setattr(surge, "raise_alerts", flaky)
    time_machine.move_to(CALL_TIME + dt.timedelta(hours=2), tick=False)
    # The chunk fails as a whole, then is raised one by one: BIRCH's alert is not held back.
    assert checkins.checkins_detect_missed(clock.now()) == 1
    assert Alert.objects.get().person == cast.birch
    # FALCON's deadline did not move: it fires once the fault is gone.
    monkeypatch.setattr(surge, "raise_alerts", real)
    assert checkins.checkins_detect_missed(clock.now()) == 1
    assert Alert.objects.count() == 2


def test_the_worker_tick_runs_the_detection(falcon_schedule, time_machine):
    from refuge.alerts import checkin_tasks

    assert jobs.registered_ticks()[checkin_tasks.MISSED_TICK] is checkin_tasks.detect_missed
    time_machine.move_to(CheckinSchedule.objects.get().alert_at, tick=False)
    call_command("worker", "--once")
    assert Alert.objects.filter(source=EmergencySource.MISSED_CHECKIN).count() == 1


def test_a_worker_tick_raises_what_one_tick_may_and_the_next_tick_the_rest(
    cast: Cast, time_machine, monkeypatch
):
    # On PostgreSQL one chunk, so that another worker raises the next while this one pages.
    from refuge.alerts import checkin_tasks

    monkeypatch.setattr(checkin_tasks, "missed_per_tick", lambda: 2)
    _interval_schedules_now_due(3, time_machine)
    call_command("worker", "--once")
    assert Alert.objects.count() == 2
    call_command("worker", "--once")
    assert Alert.objects.count() == 3


def test_a_daily_schedule_misses_at_its_wall_clock_time(cast: Cast, time_machine):
    time_machine.move_to(CALL_TIME, tick=False)  # 15:00 MSK
    checkins.schedule_set(
        actor=None,
        person=cast.falcon,
        kind="daily",
        daily_time=dt.time(21, 0),
        time_zone="Europe/Moscow",
        grace_minutes=60,
    )
    time_machine.move_to(dt.datetime(2026, 3, 10, 18, 59, tzinfo=dt.UTC), tick=False)
    assert checkins.checkins_detect_missed(clock.now()) == 0
    time_machine.move_to(dt.datetime(2026, 3, 10, 19, 0, tzinfo=dt.UTC), tick=False)
    assert checkins.checkins_detect_missed(clock.now()) == 1
    assert CheckinSchedule.objects.get().next_deadline == dt.datetime(
        2026, 3, 11, 18, 0, tzinfo=dt.UTC
    )
