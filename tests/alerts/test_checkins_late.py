"""The first check-in after a missed deadline shows on the timeline of the emergency the miss
raised, while that emergency is active; the same for the normal and the duress PIN."""

from __future__ import annotations

import datetime as dt

import pytest

from refuge.alerts.models import CheckinSchedule, Emergency, EmergencyEvent, EmergencySource
from refuge.alerts.selectors_timeline import emergency_timeline
from refuge.alerts.services import checkins, response
from refuge.core import clock
from tests.alerts.conftest import DURESS_PIN, NORMAL_PIN
from tests.conftest import Cast

pytestmark = pytest.mark.django_db

LATE = "checked_in_late"


def _miss(time_machine) -> Emergency:  # type: ignore[no-untyped-def]
    schedule = CheckinSchedule.objects.get()
    time_machine.move_to(schedule.alert_at, tick=False)
    assert checkins.checkins_detect_missed(clock.now()) == 1
    return Emergency.objects.get(source=EmergencySource.MISSED_CHECKIN)


def _late_events(emergency: Emergency) -> list[EmergencyEvent]:
    return list(emergency.events.filter(kind=LATE))


def test_a_check_in_after_the_miss_goes_on_the_emergencys_timeline(
    cast: Cast, falcon_schedule, at_call_time
):
    missed_deadline = CheckinSchedule.objects.get().next_deadline
    emergency = _miss(at_call_time)
    assert CheckinSchedule.objects.get().missed_deadline == missed_deadline
    at_call_time.shift(dt.timedelta(minutes=40))
    assert checkins.checkin_submit(schedule=falcon_schedule, pin=NORMAL_PIN, channel="webhook")
    (event,) = _late_events(emergency)
    assert event.at == clock.now()
    assert event.data["channel"] == "webhook"
    (row,) = [
        r for r in emergency_timeline(actor=cast.operator, emergency=emergency) if r.event == event
    ]
    labels = dict(row.facts)
    assert labels["Channel"] == "SMS gateway"
    assert labels["Deadline missed"] != "—"
    assert "does not show that the person is safe" in labels["Caution"]


def test_only_the_first_check_in_after_the_miss_is_shown(cast: Cast, falcon_schedule, at_call_time):
    emergency = _miss(at_call_time)
    checkins.checkin_submit(schedule=falcon_schedule, pin=NORMAL_PIN, channel="web")
    at_call_time.shift(dt.timedelta(minutes=5))
    checkins.checkin_submit(schedule=falcon_schedule, pin=NORMAL_PIN, channel="web")
    assert len(_late_events(emergency)) == 1
    assert CheckinSchedule.objects.get().missed_deadline is None


def test_a_check_in_after_the_emergency_was_resolved_adds_nothing(
    cast: Cast, falcon_schedule, at_call_time
):
    emergency = _miss(at_call_time)
    response.emergency_resolve(actor=cast.coordinator, emergency=emergency, outcome="safe", note="")
    checkins.checkin_submit(schedule=falcon_schedule, pin=NORMAL_PIN, channel="web")
    assert _late_events(emergency) == []
    assert CheckinSchedule.objects.get().missed_deadline is None


def test_a_duress_check_in_after_the_miss_shows_the_same_and_raises_its_alarm(
    cast: Cast, falcon_schedule, at_call_time
):
    emergency = _miss(at_call_time)
    duress = checkins.checkin_submit(schedule=falcon_schedule, pin=DURESS_PIN, channel="web")
    assert duress.accepted
    (event,) = _late_events(emergency)
    assert event.data == {"channel": "web", "deadline": event.data["deadline"]}
    checkins.raise_duress_alarms()
    emergency.refresh_from_db()
    assert emergency.alerts.filter(source=EmergencySource.DURESS).exists()


def test_a_check_in_with_no_miss_writes_no_event(cast: Cast, falcon_schedule, at_call_time):
    checkins.checkin_submit(schedule=falcon_schedule, pin=NORMAL_PIN, channel="web")
    assert not EmergencyEvent.objects.exists()
