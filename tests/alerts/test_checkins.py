"""Check-in services: schedules, PINs, duress, lockout, cancellation and SOS."""

from __future__ import annotations

import datetime as dt

import pytest

from refuge.alerts import checkin_tasks, pins, selectors_checkins
from refuge.alerts.models import (
    Alert,
    Checkin,
    CheckinSchedule,
    Emergency,
    EmergencySource,
    EmergencyState,
    Outcome,
    Priority,
)
from refuge.alerts.services import checkins
from refuge.core import clock, jobs
from refuge.core.errors import DomainError, NotFoundError
from refuge.core.models import Job
from refuge.security.models import AuditEntry
from tests.alerts.conftest import CALL_TIME, DURESS_PIN, NORMAL_PIN
from tests.conftest import Cast

pytestmark = pytest.mark.django_db

WEB = "web"


def _set(cast: Cast, **overrides: object) -> CheckinSchedule:
    arguments: dict[str, object] = {
        "actor": None,
        "person": cast.falcon,
        "kind": "interval",
        "interval_hours": 12,
        "time_zone": "Europe/Moscow",
        "grace_minutes": 60,
    }
    arguments.update(overrides)
    return checkins.schedule_set(**arguments)  # type: ignore[arg-type]


def _tick() -> None:
    """What the worker's tick does for check-ins: raise the duress alarms not raised yet."""
    checkins.raise_duress_alarms()


# --- schedules ------------------------------------------------------------------------------------


def test_an_interval_schedule_is_due_n_hours_from_now_and_alerts_after_grace(
    cast: Cast, at_call_time
):
    schedule = _set(cast)
    assert schedule.next_deadline == CALL_TIME + dt.timedelta(hours=12)
    assert schedule.alert_at == CALL_TIME + dt.timedelta(hours=13)
    entry = AuditEntry.objects.get(action="refuge.alerts.schedule.created")
    assert entry.object_id == str(schedule.pk)


def test_a_daily_schedule_is_due_at_the_next_wall_clock_time(cast: Cast, at_call_time):
    schedule = _set(cast, kind="daily", interval_hours=None, daily_time=dt.time(21, 0))
    assert schedule.next_deadline == dt.datetime(2026, 3, 10, 18, 0, tzinfo=dt.UTC)
    assert schedule.interval_hours is None
    changed = _set(cast, kind="interval", interval_hours=6, daily_time=dt.time(21, 0))
    assert changed.pk == schedule.pk
    assert changed.daily_time is None
    assert AuditEntry.objects.filter(action="refuge.alerts.schedule.changed").count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "weekly"}, "kind"),
        ({"interval_hours": 0}, "interval_hours"),
        ({"interval_hours": 169}, "interval_hours"),
        ({"interval_hours": None}, "interval_hours"),
        ({"interval_hours": True}, "interval_hours"),
        ({"kind": "daily", "interval_hours": None}, "daily_time"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": ""}, "time_zone"),
        ({"grace_minutes": 4}, "grace_minutes"),
        ({"grace_minutes": 1441}, "grace_minutes"),
    ],
)
def test_bad_schedules_are_refused_and_nothing_changes(cast: Cast, overrides, field):
    with pytest.raises(DomainError) as caught:
        _set(cast, **overrides)
    assert field in caught.value.field_errors
    assert not CheckinSchedule.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="refuge.alerts.schedule").exists()


def test_the_limits_themselves_are_accepted(cast: Cast):
    assert _set(cast, interval_hours=1, grace_minutes=5).interval_hours == 1
    assert _set(cast, interval_hours=168, grace_minutes=1440).grace_minutes == 1440


def test_only_staff_who_may_change_the_person_set_schedules(cast: Cast):
    with pytest.raises(NotFoundError):
        _set(cast, actor=cast.outsider)
    with pytest.raises(NotFoundError):
        _set(cast, actor=cast.analyst)
    assert _set(cast, actor=cast.caseworker).person == cast.falcon


def test_a_check_in_by_person_reads_their_schedule_once_locked(
    cast: Cast, at_call_time, falcon_schedule
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        result = checkins.checkin_submit(person=cast.falcon, pin=NORMAL_PIN, channel=WEB)
    assert result.accepted
    schedule_reads = [q for q in queries if q["sql"].startswith('SELECT "alerts_checkinschedule"')]
    assert len(schedule_reads) == 1
    assert Checkin.objects.filter(schedule=falcon_schedule).count() == 1


def test_a_check_in_by_a_person_without_a_schedule_is_refused(cast: Cast, at_call_time):
    result = checkins.checkin_submit(person=cast.birch, pin=NORMAL_PIN, channel=WEB)
    assert result == checkins.REFUSED
    assert not Checkin.objects.exists()


def test_a_schedule_keeps_the_last_check_in_as_its_start(
    cast: Cast, at_call_time, falcon_schedule, time_machine
):
    checkins.checkin_submit(schedule=falcon_schedule, pin=NORMAL_PIN, channel=WEB)
    time_machine.move_to(CALL_TIME + dt.timedelta(hours=3), tick=False)
    schedule = _set(cast, interval_hours=12)
    assert schedule.next_deadline == CALL_TIME + dt.timedelta(hours=12)
    # A last check-in so old that the deadline is past: counted from now instead.
    time_machine.move_to(CALL_TIME + dt.timedelta(hours=30), tick=False)
    schedule = _set(cast, interval_hours=12)
    assert schedule.next_deadline == CALL_TIME + dt.timedelta(hours=42)


def test_pause_and_resume(cast: Cast, falcon_schedule, time_machine):
    time_machine.move_to(CALL_TIME, tick=False)
    checkins.schedule_pause(actor=cast.caseworker, schedule=falcon_schedule)
    time_machine.move_to(CALL_TIME + dt.timedelta(days=5), tick=False)
    assert checkins.checkins_detect_missed(clock.now()) == 0
    assert not Alert.objects.exists()
    resumed = checkins.schedule_resume(actor=cast.caseworker, schedule=falcon_schedule)
    assert not resumed.paused
    assert resumed.next_deadline == clock.now() + dt.timedelta(hours=24)
    actions = list(
        AuditEntry.objects.filter(
            action__in=["refuge.alerts.schedule.paused", "refuge.alerts.schedule.resumed"]
        )
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["refuge.alerts.schedule.paused", "refuge.alerts.schedule.resumed"]


def test_a_pause_with_an_end_resumes_by_itself(cast: Cast, falcon_schedule, time_machine):
    time_machine.move_to(CALL_TIME, tick=False)
    until = CALL_TIME + dt.timedelta(days=2)
    checkins.schedule_pause(actor=None, schedule=falcon_schedule, until=until)
    time_machine.move_to(until + dt.timedelta(minutes=1), tick=False)
    assert checkins.checkins_detect_missed(clock.now()) == 0  # resumed, counted from now
    schedule = CheckinSchedule.objects.get()
    assert not schedule.paused
    assert schedule.next_deadline == clock.now() + dt.timedelta(hours=24)


@pytest.mark.parametrize(
    "until", [CALL_TIME - dt.timedelta(minutes=1), CALL_TIME + dt.timedelta(days=400)]
)
def test_a_pause_must_end_in_the_coming_year(falcon_schedule, at_call_time, until):
    with pytest.raises(DomainError) as caught:
        checkins.schedule_pause(actor=None, schedule=falcon_schedule, until=until)
    assert "until" in caught.value.field_errors
    assert not CheckinSchedule.objects.get().paused


# --- PINs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pin", "duress", "field"),
    [
        ("123", "5678", "pin"),
        ("123456789", "5678", "pin"),
        ("12a4", "5678", "pin"),
        ("", "5678", "pin"),
        ("1234", "56", "duress_pin"),
        ("1234", "1234", "duress_pin"),
    ],
)
def test_bad_pins_are_refused(falcon_schedule, pin, duress, field):
    before = CheckinSchedule.objects.get().pin_hash
    with pytest.raises(DomainError) as caught:
        checkins.pins_set(actor=None, schedule=falcon_schedule, pin=pin, duress_pin=duress)
    assert field in caught.value.field_errors
    assert CheckinSchedule.objects.get().pin_hash == before


def test_pins_are_stored_as_keyed_hashes_and_never_audited(falcon_schedule):
    schedule = CheckinSchedule.objects.get()
    assert schedule.pin_hash.startswith("v1$")
    assert NORMAL_PIN not in schedule.pin_hash
    assert schedule.pin_hash != pins.pin_hash("another-schedule", NORMAL_PIN)
    for entry in AuditEntry.objects.all():
        assert NORMAL_PIN not in entry.detail
        assert DURESS_PIN not in entry.detail


def test_a_duress_pin_is_optional(falcon_schedule):
    checkins.pins_set(actor=None, schedule=falcon_schedule, pin="9876", duress_pin=None)
    assert CheckinSchedule.objects.get().duress_pin_hash == ""
    result = checkins.checkin_submit(schedule=falcon_schedule, pin="9876", channel=WEB)
    assert result.accepted


# --- check-ins and duress -------------------------------------------------------------------------


def test_a_check_in_moves_the_deadline(at_call_time, falcon_schedule, time_machine):
    time_machine.move_to(CALL_TIME + dt.timedelta(hours=5), tick=False)
    result = checkins.checkin_submit(schedule=falcon_schedule, pin=NORMAL_PIN, channel=WEB)
    assert result == checkins.CheckinResult(
        accepted=True,
        next_deadline=clock.now() + dt.timedelta(hours=24),
        time_zone="Europe/Moscow",
        window_opens=clock.now(),  # every N hours: the whole interval by default
    )
    schedule = CheckinSchedule.objects.get()
    assert schedule.last_checkin_at == clock.now()
    assert schedule.alert_at == result.next_deadline + dt.timedelta(hours=2)
    assert Checkin.objects.get().under_duress is False


def test_normal_and_duress_check_ins_return_identical_results(
    cast: Cast, falcon_schedule, at_call_time
):
    normal = checkins.checkin_submit(schedule=falcon_schedule, pin=NORMAL_PIN, channel=WEB)
    duress = checkins.checkin_submit(schedule=falcon_schedule, pin=DURESS_PIN, channel=WEB)
    assert normal == duress
    assert normal.accepted
    assert [c.under_duress for c in Checkin.objects.order_by("under_duress")] == [False, True]
    # The same work on the request path: one check-in row each, and no job queued for either.
    assert not Job.objects.exists()
    assert not Emergency.objects.exists()


def test_both_pins_signal_the_worker_alike_but_only_duress_asks_for_work(
    cast: Cast, falcon_schedule, at_call_time, monkeypatch
):
    from refuge.core import wakeup

    signals: list[bool] = []
    monkeypatch.setattr(wakeup, "wake_worker", lambda *, work=True: signals.append(work))
    checkins.checkin_submit(schedule=falcon_schedule, pin=NORMAL_PIN, channel=WEB)
    # The same signal, asking for nothing: there is nothing for the worker to do.
    assert signals == [False]
    checkins.checkin_submit(schedule=falcon_schedule, pin=DURESS_PIN, channel=WEB)
    assert signals == [False, True]  # the alarm must not wait for the poll


def test_the_tick_raises_a_duress_alarm_as_a_top_priority_emergency_once(
    cast: Cast, falcon_schedule, at_call_time
):
    checkins.checkin_submit(schedule=falcon_schedule, pin=NORMAL_PIN, channel=WEB)
    assert checkins.raise_duress_alarms() == 0
    assert not Emergency.objects.exists()  # a normal check-in raises nothing
    checkins.checkin_submit(schedule=falcon_schedule, pin=DURESS_PIN, channel="telegram")
    assert checkins.raise_duress_alarms() == 1
    emergency = Emergency.objects.get()
    assert emergency.source == EmergencySource.DURESS
    assert emergency.priority == Priority.TOP
    assert list(emergency.people.all()) == [cast.falcon]
    duress = Checkin.objects.get(under_duress=True)
    assert Alert.objects.get().dedupe_key == f"duress:{duress.pk}"
    assert duress.alarm_raised_at == clock.now()
    # The next tick finds nothing to raise.
    assert checkins.raise_duress_alarms() == 0
    assert Alert.objects.count() == 1


def test_a_duress_alarm_raised_before_its_mark_is_not_raised_twice(
    cast: Cast, falcon_schedule, at_call_time
):
    checkins.checkin_submit(schedule=falcon_schedule, pin=DURESS_PIN, channel=WEB)
    checkins.raise_duress_alarms()
    # As if the mark were lost (a check-in kept from before the upgrade): raised again, the
    # alert's dedupe key keeps it to one alert.
    Checkin.objects.update(alarm_raised_at=None)
    assert checkins.raise_duress_alarms() == 1
    assert Alert.objects.count() == 1
    assert Emergency.objects.count() == 1


def test_a_duress_alarm_that_fails_is_tried_at_the_next_tick_and_the_others_are_raised(
    cast: Cast, falcon_schedule, at_call_time, monkeypatch, caplog
):
    from refuge.alerts.services import emergencies

    checkins.checkin_submit(schedule=falcon_schedule, pin=DURESS_PIN, channel=WEB)
    at_call_time.shift(dt.timedelta(minutes=1))
    checkins.checkin_submit(schedule=falcon_schedule, pin=DURESS_PIN, channel=WEB)
    first, second = Checkin.objects.order_by("at")
    real = emergencies.raise_alert

    def failing_first(**kwargs):  # type: ignore[no-untyped-def]
        if kwargs["dedupe_key"] == f"duress:{first.pk}":
            raise RuntimeError("database hiccup")
        return real(**kwargs)

    monkeypatch.setattr(emergencies, "raise_alert", failing_first)
    assert checkins.raise_duress_alarms() == 1
    assert "not raised yet" in caplog.text
    assert list(Alert.objects.values_list("dedupe_key", flat=True)) == [f"duress:{second.pk}"]
    monkeypatch.setattr(emergencies, "raise_alert", real)
    assert checkins.raise_duress_alarms() == 1
    assert Alert.objects.count() == 2
    assert not Checkin.objects.filter(alarm_raised_at__isnull=True).exists()


def test_the_duress_tick_runs_before_missed_check_ins():
    ticks = list(jobs.registered_ticks())
    assert ticks.index(checkin_tasks.DURESS_TICK) < ticks.index(checkin_tasks.MISSED_TICK)


def test_a_person_without_a_schedule_is_refused():
    assert checkins.checkin_submit(schedule=None, pin=NORMAL_PIN, channel=WEB) == checkins.REFUSED


# --- lockout --------------------------------------------------------------------------------------


def _attempts(schedule: CheckinSchedule, entered: list[str]) -> list[bool]:
    return [
        checkins.checkin_submit(schedule=schedule, pin=pin, channel=WEB).accepted for pin in entered
    ]


def test_five_wrong_pins_lock_the_channel_and_alert_the_team(
    cast: Cast, falcon_schedule, time_machine
):
    time_machine.move_to(CALL_TIME, tick=False)
    assert _attempts(falcon_schedule, ["0000"] * 4) == [False] * 4
    assert not Emergency.objects.exists()
    assert _attempts(falcon_schedule, ["0000"]) == [False]
    schedule = CheckinSchedule.objects.get()
    assert schedule.locked_until == CALL_TIME + checkins.LOCKOUT
    emergency = Emergency.objects.get()
    assert emergency.source == EmergencySource.LOCKOUT
    assert emergency.priority == Priority.HIGH
    # Locked: even the right PIN is refused, and nothing more is counted.
    assert _attempts(falcon_schedule, [NORMAL_PIN, DURESS_PIN, "0000"]) == [False] * 3
    assert Alert.objects.count() == 1
    time_machine.move_to(CALL_TIME + checkins.LOCKOUT + dt.timedelta(seconds=1), tick=False)
    assert _attempts(falcon_schedule, [NORMAL_PIN]) == [True]
    assert AuditEntry.objects.filter(action="refuge.alerts.schedule.locked").count() == 1
    assert AuditEntry.objects.filter(action="refuge.alerts.checkin.refused").count() == 4


def test_lockout_looks_the_same_with_and_without_a_duress_pin(cast: Cast, at_call_time):
    sequence = ["0000", "12", "abcd", "9999", "1111", NORMAL_PIN, DURESS_PIN, "0000"]
    outcomes = []
    for person, duress in ((cast.falcon, DURESS_PIN), (cast.birch, None)):
        schedule = _set(cast, person=person)
        checkins.pins_set(actor=None, schedule=schedule, pin=NORMAL_PIN, duress_pin=duress)
        outcomes.append(
            [checkins.checkin_submit(schedule=schedule, pin=p, channel=WEB) for p in sequence]
        )
    assert outcomes[0] == outcomes[1]
    assert all(not result.accepted for result in outcomes[0])
    locked = CheckinSchedule.objects.values_list("locked_until", flat=True)
    assert len(set(locked)) == 1


def test_the_duress_pin_counts_as_a_success_and_resets_the_counter(falcon_schedule, at_call_time):
    entered = ["0000"] * 4 + [DURESS_PIN] + ["0000"] * 4 + [NORMAL_PIN]
    assert _attempts(falcon_schedule, entered) == [False] * 4 + [True] + [False] * 4 + [True]
    assert CheckinSchedule.objects.get().locked_until is None
    assert not Alert.objects.filter(source=EmergencySource.LOCKOUT).exists()


# --- SOS and cancellation -------------------------------------------------------------------------


def test_sos_opens_a_top_priority_emergency_and_joins_it_afterwards(cast: Cast, at_call_time):
    checkins.sos_submit(person=cast.falcon, channel=WEB)
    checkins.sos_submit(person=cast.falcon, channel=WEB)  # within minutes: counted on the first
    at_call_time.shift(dt.timedelta(minutes=11))
    checkins.sos_submit(person=cast.falcon, channel=WEB)  # later: raised again, and joins
    emergency = Emergency.objects.get()
    assert emergency.source == EmergencySource.SOS
    assert emergency.priority == Priority.TOP
    assert Alert.objects.filter(emergency=emergency).count() == 2
    assert selectors_checkins.sos_presses(emergency=emergency) == 3


def test_cancelling_with_the_normal_pin_resolves_an_accidental_sos(
    cast: Cast, falcon_schedule, at_call_time
):
    checkins.sos_submit(person=cast.falcon, channel=WEB)
    assert checkins.cancel_submit(schedule=falcon_schedule, pin=NORMAL_PIN, channel=WEB)
    emergency = Emergency.objects.get()
    assert emergency.state == EmergencyState.RESOLVED
    assert emergency.outcome == Outcome.CANCELLED_BY_PERSON
    assert emergency.priority == Priority.LOW


def test_cancelling_with_the_duress_pin_keeps_the_alarm(cast: Cast, falcon_schedule, at_call_time):
    checkins.sos_submit(person=cast.falcon, channel=WEB)
    assert checkins.cancel_submit(schedule=falcon_schedule, pin=DURESS_PIN, channel=WEB)
    emergency = Emergency.objects.get()
    assert emergency.state == EmergencyState.OPEN
    assert emergency.priority == Priority.TOP


def test_cancelling_with_a_wrong_pin_changes_nothing_and_counts(
    cast: Cast, falcon_schedule, at_call_time
):
    checkins.sos_submit(person=cast.falcon, channel=WEB)
    assert not checkins.cancel_submit(schedule=falcon_schedule, pin="0000", channel=WEB)
    assert Emergency.objects.get().state == EmergencyState.OPEN
    assert CheckinSchedule.objects.get().failed_attempts == 1


def test_an_sos_from_an_unknown_sender_is_raised_once_per_ten_minutes(at_call_time):
    checkins.sos_from_unknown(sender="v1$" + "a" * 64)
    checkins.sos_from_unknown(sender="v1$" + "a" * 64)
    emergency = Emergency.objects.get()
    assert emergency.priority == Priority.HIGH
    assert not emergency.people.exists()
    at_call_time.shift(dt.timedelta(minutes=10))
    checkins.sos_from_unknown(sender="v1$" + "a" * 64)
    assert Alert.objects.count() == 2


def test_old_check_ins_and_inbound_ids_are_purged(at_call_time, falcon_schedule, time_machine):
    from refuge.alerts.services import checkin_links

    checkins.checkin_submit(schedule=falcon_schedule, pin=NORMAL_PIN, channel=WEB)
    assert checkin_links.inbound_accept(source="sms", message_id="m-1")
    time_machine.move_to(CALL_TIME + dt.timedelta(days=8), tick=False)
    assert checkins.checkins_purge() == 1  # the inbound id; the check-in is kept 30 days
    time_machine.move_to(CALL_TIME + dt.timedelta(days=31), tick=False)
    assert checkins.checkins_purge() == 1
    assert not Checkin.objects.exists()
    assert CheckinSchedule.objects.get().last_checkin_at == CALL_TIME


def test_unknown_senders_together_page_at_most_five_times_an_hour(at_call_time):
    for sender in range(8):
        checkins.sos_from_unknown(sender=f"v1${sender:064d}")
    assert Alert.objects.count() == 5
    at_call_time.shift(dt.timedelta(hours=1, seconds=1))
    checkins.sos_from_unknown(sender="v1$" + "f" * 64)
    assert Alert.objects.count() == 6
