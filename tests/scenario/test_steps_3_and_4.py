"""The reference scenario's steps 3 and 4 end to end (shared/reference/scenario.md).

15:00 BIRCH calls the emergency line; the operator logs the call for both men; the worker pages
the on-call operator at once; nobody acknowledges, so after 5 minutes the case's lawyer is paged;
he acknowledges with the one-time link in his message, is on the way at 15:06 and on site at
15:30. At 21:00 + 2 hours' grace neither man has checked in: the two missed check-ins join the
emergency, which is still open, instead of paging everyone again.

The clock is controlled (time-machine, standing still between steps) and the worker's tick hooks
run as `refuge worker` runs them (`jobs.run_ticks`); notifications go to the RecordingNotifier.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from time_machine import TimeMachineFixture

from refuge.alerts.management.commands.policy import DEFAULT_STEPS
from refuge.alerts.models import (
    CheckinSchedule,
    Emergency,
    EmergencyEvent,
    EmergencySource,
    EmergencyState,
    EscalationStep,
    Notification,
    StaffChannel,
)
from refuge.alerts.notifier import RecordingNotifier, SentMessage, recording_notifier
from refuge.alerts.services import checkins, emergencies, response
from refuge.alerts.services import setup as alert_setup
from refuge.core import jobs
from refuge.core.errors import NotFoundError
from tests.conftest import (
    BIRCH_NAME,
    BIRCH_PHONE,
    FALCON_NAME,
    FALCON_PHONE,
    FLAT_ADDRESS,
    MOTHER_NAME,
    Cast,
)

MSK = dt.timezone(dt.timedelta(hours=3))  # Moscow has no DST: a fixed offset is exact
CALL_DAY = dt.date(2026, 3, 10)
IDENTITY = (FALCON_NAME, BIRCH_NAME, FALCON_PHONE, BIRCH_PHONE, FLAT_ADDRESS, MOTHER_NAME)
HEARD = "Screaming and men's voices in the background; the line went dead after 40 seconds."
ACK_LINK = re.compile(r"/alerts/ack/([A-Za-z0-9_-]+)/")
Kind = EmergencyEvent.Kind


def msk(hour: int, minute: int, second: int = 0) -> dt.datetime:
    return dt.datetime.combine(CALL_DAY, dt.time(hour, minute, second), tzinfo=MSK)


@pytest.fixture
def recorder(settings: Any) -> Iterator[RecordingNotifier]:
    settings.NOTIFIER = "record"
    notifier = recording_notifier()
    notifier.reset()
    yield notifier
    notifier.reset()


@pytest.fixture
def line(cast: Cast, time_machine: TimeMachineFixture) -> Cast:
    """Step 2's set-up, made the morning of the call: the Hotline rota with the operator, the
    default policy, staff e-mail channels, and both men's daily 21:00 check-ins (2 h grace)."""
    time_machine.move_to(msk(9, 0), tick=False)
    rota = alert_setup.rota_create(
        actor=None, name="Hotline", starts_on=msk(9, 0) - dt.timedelta(days=7), shift_days=7
    )
    alert_setup.rota_member_add(actor=None, rota=rota, user=cast.operator)
    policy = alert_setup.policy_create(actor=None, name="Default", is_default=True)
    for target, delay in DEFAULT_STEPS:
        alert_setup.step_add(
            actor=None,
            policy=policy,
            target=target,
            delay_minutes=delay,
            rota=rota if target == EscalationStep.Target.ON_CALL else None,
        )
    for user in (cast.operator, cast.lawyer, cast.caseworker, cast.coordinator):
        alert_setup.staff_channel_add(
            actor=None,
            user=user,
            kind=StaffChannel.Kind.EMAIL,
            target=f"{user.username}@example.org",
        )
    for person, pin, duress in ((cast.falcon, "2468", "1357"), (cast.birch, "3690", "1470")):
        schedule = checkins.schedule_set(
            actor=None,
            person=person,
            kind=CheckinSchedule.Kind.DAILY,
            daily_time=dt.time(21, 0),
            time_zone="Europe/Moscow",
            grace_minutes=120,
        )
        checkins.pins_set(actor=None, schedule=schedule, pin=pin, duress_pin=duress)
    return cast


def to(time_machine: TimeMachineFixture, when: dt.datetime) -> None:
    time_machine.move_to(when, tick=False)


def sent_to(recorder: RecordingNotifier, username: str) -> list[SentMessage]:
    return [m for m in recorder.sent if m.target == f"{username}@example.org"]


def grouped_events(emergency: Emergency) -> list[tuple[dt.datetime, Counter[str]]]:
    """The events in time order; events of one instant (one worker tick) as a multiset."""
    groups: dict[dt.datetime, Counter[str]] = {}
    for at, kind in emergency.events.order_by("at").values_list("at", "kind"):
        groups.setdefault(at, Counter())[kind] += 1
    return list(groups.items())


def step_3_call_and_escalation(
    cast: Cast, recorder: RecordingNotifier, time_machine: TimeMachineFixture
) -> Emergency:
    # 15:00 - BIRCH calls; the operator logs it for both men while still on the line.
    to(time_machine, msk(15, 0))
    emergency = emergencies.emergency_open_call(
        actor=cast.operator,
        caller=cast.birch,
        heard=HEARD,
        location_hint="Probably the safe flat.",
        people=[cast.falcon, cast.birch],
        reported_at=msk(15, 0),
    )
    assert emergency.state == EmergencyState.OPEN
    assert emergency.cases.get() == cast.case

    # The worker's next tick (it polls every ~2 s): the on-call operator is paged at once.
    to(time_machine, msk(15, 0, 2))
    jobs.run_ticks()
    assert [m.target for m in recorder.sent] == ["operator@example.org"]
    # Nobody acknowledges. Nothing more until the lawyer's step is due, 5 minutes later.
    to(time_machine, msk(15, 4))
    jobs.run_ticks()
    assert len(recorder.sent) == 1
    to(time_machine, msk(15, 5, 2))
    jobs.run_ticks()
    assert [m.target for m in recorder.sent] == ["operator@example.org", "lawyer@example.org"]

    return emergency


def step_3_lawyer_responds(
    cast: Cast,
    recorder: RecordingNotifier,
    time_machine: TimeMachineFixture,
    emergency: Emergency,
) -> None:
    # The lawyer acknowledges with the one-time link in his message; it works once.
    (lawyer_message,) = sent_to(recorder, "lawyer")
    match = ACK_LINK.search(lawyer_message.body)
    assert match is not None, lawyer_message.body
    to(time_machine, msk(15, 5, 30))
    acknowledged = response.emergency_acknowledge_by_token(match.group(1))
    assert acknowledged.pk == emergency.pk
    assert acknowledged.state == EmergencyState.ACKNOWLEDGED
    assert acknowledged.acknowledged_by == cast.lawyer
    with pytest.raises(NotFoundError):
        response.emergency_acknowledge_by_token(match.group(1))
    # Paging stops: the coordinators' step (due 15:10) never fires.
    to(time_machine, msk(15, 6))
    response.emergency_en_route(actor=cast.lawyer, emergency=acknowledged)
    to(time_machine, msk(15, 12))
    jobs.run_ticks()
    assert len(recorder.sent) == 2
    to(time_machine, msk(15, 30))
    response.emergency_on_site(actor=cast.lawyer, emergency=acknowledged)


def assert_step_3_times(cast: Cast, emergency: Emergency) -> None:
    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.ON_SITE
    assert emergency.reported_at == msk(15, 0)
    assert emergency.opened_at == msk(15, 0)
    assert emergency.first_notified_at == msk(15, 0, 2)
    assert emergency.acknowledged_at == msk(15, 5, 30)
    assert emergency.en_route_at == msk(15, 6)
    assert emergency.on_site_at == msk(15, 30)
    assert emergency.on_site_at - emergency.reported_at == dt.timedelta(minutes=30)
    notifications = Notification.objects.filter(emergency=emergency)
    assert sorted(notifications.values_list("recipient__username", "step", "state")) == [
        ("lawyer", 1, Notification.State.SENT),
        ("operator", 0, Notification.State.SENT),
    ]


def step_4_missed_checkins_join(
    recorder: RecordingNotifier,
    time_machine: TimeMachineFixture,
    emergency: Emergency,
) -> None:
    # 21:00 + 2 hours' grace: neither man has checked in.
    to(time_machine, msk(22, 59, 59))
    jobs.run_ticks()
    assert emergency.alerts.count() == 1
    to(time_machine, msk(23, 0, 1))
    paged_before = Notification.objects.count()
    assert checkins.checkins_detect_missed() == 2
    jobs.run_ticks()  # the worker's next tick: escalation and delivery find nothing to do
    to(time_machine, msk(23, 10))
    jobs.run_ticks()

    assert Emergency.objects.count() == 1  # joined, not a new emergency
    assert Notification.objects.count() == paged_before  # nobody paged again
    assert len(recorder.sent) == 2
    missed = emergency.alerts.filter(source=EmergencySource.MISSED_CHECKIN)
    assert sorted(missed.values_list("person__pseudonym", flat=True)) == ["BIRCH", "FALCON"]
    assert {a.raised_at for a in missed} == {msk(23, 0)}
    assert not any(a.late for a in missed)
    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.ON_SITE
    joined = emergency.events.filter(kind=Kind.JOINED)
    assert sorted(e.data["people"][0] for e in joined) == ["BIRCH", "FALCON"]
    assert {e.data["source"] for e in joined} == {EmergencySource.MISSED_CHECKIN}


def assert_timeline(cast: Cast, emergency: Emergency) -> None:
    # The whole timeline, each worker tick's events together.
    assert grouped_events(emergency) == [
        # The first step fires as the emergency opens; the worker's next tick sends it.
        (msk(15, 0), Counter({Kind.OPENED: 1, Kind.ESCALATED: 1})),
        (msk(15, 0, 2), Counter({Kind.NOTIFICATION_SENT: 1})),
        (msk(15, 5, 2), Counter({Kind.ESCALATED: 1, Kind.NOTIFICATION_SENT: 1})),
        (msk(15, 5, 30), Counter({Kind.ACKNOWLEDGED: 1})),
        (msk(15, 6), Counter({Kind.EN_ROUTE: 1})),
        (msk(15, 30), Counter({Kind.ON_SITE: 1})),
        (msk(23, 0, 1), Counter({Kind.JOINED: 2})),
    ]
    escalated = emergency.events.filter(kind=Kind.ESCALATED).order_by("at")
    assert [(e.data["step"], e.data["target"]) for e in escalated] == [
        (0, EscalationStep.Target.ON_CALL),
        (1, EscalationStep.Target.CASE_LAWYER),
    ]
    assert [e.data["recipients"] for e in escalated] == [
        [str(cast.operator.pk)],
        [str(cast.lawyer.pk)],
    ]
    acknowledged_event = emergency.events.get(kind=Kind.ACKNOWLEDGED)
    assert acknowledged_event.actor == cast.lawyer
    assert acknowledged_event.data["via"] == "link"


def assert_nothing_identifying_sent(recorder: RecordingNotifier, emergency: Emergency) -> None:
    # No message carries a legal name, a phone number, the flat's address or what was heard.
    assert recorder.sent
    assert not recorder.refused
    for message in recorder.sent:
        text = f"{message.title}\n{message.body}"
        for secret in (*IDENTITY, HEARD):
            assert secret not in text
        assert "BIRCH" in text
        assert "FALCON" in text
        assert emergency.code in text


def test_the_call_escalates_to_the_lawyer_and_missed_checkins_join(
    line: Cast, recorder: RecordingNotifier, time_machine: TimeMachineFixture
) -> None:
    emergency = step_3_call_and_escalation(line, recorder, time_machine)
    step_3_lawyer_responds(line, recorder, time_machine, emergency)
    assert_step_3_times(line, emergency)
    step_4_missed_checkins_join(recorder, time_machine, emergency)
    assert_timeline(line, emergency)
    assert_nothing_identifying_sent(recorder, emergency)
