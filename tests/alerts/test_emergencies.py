"""Raising alerts: open, join, idempotency, the operator's call, cancellation by the person."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from refuge.alerts.models import (
    Alert,
    Emergency,
    EmergencyEvent,
    EmergencySource,
    EmergencyState,
    Notification,
    Outcome,
    Priority,
)
from refuge.alerts.services import cancellation, emergencies, escalation, response
from refuge.cases.models import CaseStatus
from refuge.core import clock
from refuge.core.errors import DomainError
from refuge.security.models import AuditEntry
from tests.alerts.conftest import CALL_TIME
from tests.conftest import FALCON_NAME, FLAT_ADDRESS, Cast
from tests.factories import CaseFactory, PersonFactory

pytestmark = pytest.mark.django_db


def _sos(person, key: str = "sos-1", **kwargs):  # type: ignore[no-untyped-def]
    return emergencies.raise_alert(
        source=EmergencySource.SOS,
        people=[person],
        reported_at=clock.now(),
        dedupe_key=key,
        **kwargs,
    )


def test_an_alert_opens_an_emergency_linked_to_the_persons_open_cases(
    cast: Cast, default_policy, at_call_time
):
    emergency = _sos(cast.falcon)

    assert emergency.code.startswith("E-")
    assert emergency.state == EmergencyState.OPEN
    assert emergency.source == EmergencySource.SOS
    assert emergency.reported_at == emergency.opened_at == CALL_TIME
    # The first step fired in the opening transaction: its notifications exist already, and
    # the next step is due after its delay.
    assert emergency.escalation_step == 1
    assert emergency.next_escalation_at == CALL_TIME + dt.timedelta(minutes=5)
    assert emergency.notifications.count() >= 1
    assert list(emergency.people.all()) == [cast.falcon]
    assert list(emergency.cases.all()) == [cast.case]
    assert emergency.team == cast.case.team
    snapshot = emergency.policy_snapshot
    assert snapshot["policy"] == str(default_policy.pk)
    assert [s["target"] for s in snapshot["steps"]] == [
        "on_call",
        "case_lawyer",
        "coordinators",
        "case_team",
    ]
    assert [s["delay_minutes"] for s in snapshot["steps"]] == [0, 5, 10, 5]
    assert snapshot["en_route_within_minutes"] == 10
    assert snapshot["repeat"] == 1
    assert Alert.objects.get().emergency == emergency
    assert [e.kind for e in emergency.events.all()] == [
        EmergencyEvent.Kind.OPENED,
        EmergencyEvent.Kind.ESCALATED,
    ]
    entry = AuditEntry.objects.get(action="refuge.alerts.emergency.opened")
    assert entry.object_id == str(emergency.pk)
    assert FALCON_NAME not in entry.detail


def test_the_same_dedupe_key_returns_the_same_emergency_unchanged(cast: Cast, at_call_time):
    first = _sos(cast.falcon, priority=Priority.HIGH)
    again = _sos(cast.falcon, priority=Priority.TOP)

    assert again.pk == first.pk
    assert Alert.objects.count() == 1
    assert Emergency.objects.get().priority == Priority.HIGH
    kinds = list(EmergencyEvent.objects.values_list("kind", flat=True))
    assert sorted(kinds) == [EmergencyEvent.Kind.ESCALATED, EmergencyEvent.Kind.OPENED]


def test_an_alert_about_a_person_of_an_open_emergency_joins_it(cast: Cast, at_call_time):
    call = emergencies.emergency_open_call(
        actor=cast.operator,
        caller=cast.birch,
        heard="screaming in the background",
        location_hint="the flat",
        people=[cast.falcon, cast.birch],
    )
    escalation.escalation_tick()
    notifications = Notification.objects.count()
    at_call_time.shift(dt.timedelta(hours=8))

    missed = emergencies.raise_alert(
        source=EmergencySource.MISSED_CHECKIN,
        people=[cast.falcon],
        priority=Priority.HIGH,
        reported_at=clock.now(),
        dedupe_key="missed:falcon:1",
    )

    assert missed.pk == call.pk
    assert Emergency.objects.count() == 1
    assert Alert.objects.filter(emergency=call).count() == 2
    assert call.events.filter(kind=EmergencyEvent.Kind.JOINED).count() == 1
    assert Notification.objects.count() == notifications  # nobody is paged again
    assert AuditEntry.objects.filter(action="refuge.alerts.emergency.joined").exists()


def test_an_alert_about_the_same_case_joins_even_for_another_person(cast: Cast, at_call_time):
    falcon = _sos(cast.falcon)
    birch = _sos(cast.birch, key="sos-2")  # BIRCH shares FALCON's case

    assert birch.pk == falcon.pk
    assert set(falcon.people.all()) == {cast.falcon, cast.birch}


def test_a_duress_alert_joining_raises_the_priority_to_top(cast: Cast, at_call_time):
    emergency = _sos(cast.falcon, priority=Priority.NORMAL)
    emergencies.raise_alert(
        source=EmergencySource.DURESS,
        people=[cast.falcon],
        priority=Priority.HIGH,
        reported_at=clock.now(),
        dedupe_key="duress-1",
    )
    emergency.refresh_from_db()
    assert emergency.priority == Priority.TOP


def test_a_lower_priority_alert_joining_keeps_the_priority(cast: Cast, at_call_time):
    emergency = _sos(cast.falcon, priority=Priority.TOP)
    _sos(cast.falcon, key="sos-2", priority=Priority.LOW)
    emergency.refresh_from_db()
    assert emergency.priority == Priority.TOP


def test_an_alert_about_someone_else_opens_its_own_emergency(cast: Cast, at_call_time):
    stranger = PersonFactory(pseudonym="HERON")
    first = _sos(cast.falcon)
    second = _sos(stranger, key="sos-heron")
    assert first.pk != second.pk
    assert second.team is None
    assert list(second.cases.all()) == []


def test_a_resolved_emergency_is_not_joined(cast: Cast, at_call_time):
    first = _sos(cast.falcon)
    response.emergency_resolve(actor=cast.coordinator, emergency=first, outcome=Outcome.SAFE)
    second = _sos(cast.falcon, key="sos-2")
    assert second.pk != first.pk


def test_closed_cases_are_not_linked(cast: Cast, at_call_time):
    CaseFactory(team=cast.case.team, status=CaseStatus.CLOSED, people=[cast.falcon])
    emergency = _sos(cast.falcon)
    assert list(emergency.cases.all()) == [cast.case]


def test_late_alerts_are_marked_late(cast: Cast, at_call_time):
    emergencies.raise_alert(
        source=EmergencySource.MISSED_CHECKIN,
        people=[cast.falcon],
        reported_at=CALL_TIME - dt.timedelta(hours=3),
        dedupe_key="missed:1",
        late=True,
    )
    alert = Alert.objects.get()
    assert alert.late
    assert alert.raised_at == CALL_TIME - dt.timedelta(hours=3)
    assert EmergencyEvent.objects.get(kind=EmergencyEvent.Kind.OPENED).data["late"] is True


def test_bad_arguments_are_refused(cast: Cast):
    with pytest.raises(ValueError):
        _sos(cast.falcon, key="")
    with pytest.raises(ValueError):
        emergencies.raise_alert(
            source="carrier-pigeon", people=[cast.falcon], reported_at=clock.now(), dedupe_key="x"
        )
    with pytest.raises(ValueError):
        _sos(cast.falcon, priority=99)


def test_the_policy_is_frozen_when_the_emergency_opens(cast: Cast, default_policy, at_call_time):
    emergency = _sos(cast.falcon)
    default_policy.steps.all().delete()
    default_policy.en_route_within_minutes = 1
    default_policy.save()
    emergency.refresh_from_db()
    assert len(emergency.policy_snapshot["steps"]) == 4
    assert emergency.policy_snapshot["en_route_within_minutes"] == 10


def test_without_a_default_policy_the_line_is_paged(cast: Cast, at_call_time):
    emergency = _sos(cast.falcon)
    assert emergency.policy_snapshot["policy"] is None
    assert [s["target"] for s in emergency.policy_snapshot["steps"]] == [escalation.LINE]


# --- the operator's call --------------------------------------------------------------------


def test_the_operator_logs_a_call_and_what_was_heard_is_encrypted(cast: Cast, at_call_time):
    emergency = emergencies.emergency_open_call(
        actor=cast.operator,
        caller=cast.birch,
        heard="Screaming; a man shouting in Chechen",
        location_hint=FLAT_ADDRESS,
        people=[cast.falcon],
        reported_at=CALL_TIME - dt.timedelta(minutes=2),
    )

    emergency.refresh_from_db()
    assert emergency.source == EmergencySource.CALL
    assert emergency.priority == Priority.HIGH
    assert emergency.opened_by == cast.operator
    assert emergency.caller == cast.birch
    assert emergency.reported_at == CALL_TIME - dt.timedelta(minutes=2)
    assert set(emergency.people.all()) == {cast.falcon, cast.birch}
    assert emergency.heard == "Screaming; a man shouting in Chechen"
    assert emergency.location_hint == FLAT_ADDRESS
    row = Emergency.objects.filter(pk=emergency.pk).values("heard_ct", "location_hint_ct").get()
    assert b"Screaming" not in bytes(row["heard_ct"])
    assert b"Testovaya" not in bytes(row["location_hint_ct"])
    assert Alert.objects.get().dedupe_key.startswith("call:")


def test_a_call_from_an_unknown_caller_about_nobody_known_opens_an_emergency(
    cast: Cast, at_call_time
):
    emergency = emergencies.emergency_open_call(
        actor=cast.operator, caller=None, heard="silence", location_hint="", people=[]
    )
    assert emergency.caller is None
    assert emergency.people.count() == 0


def test_a_call_time_a_little_ahead_is_clamped_to_now(cast: Cast, at_call_time):
    # A browser clock a minute ahead of the server's is not the operator's mistake.
    emergency = emergencies.emergency_open_call(
        actor=cast.operator,
        caller=None,
        heard="",
        location_hint="",
        people=[cast.falcon],
        reported_at=CALL_TIME + dt.timedelta(minutes=1),
    )
    assert emergency.reported_at == CALL_TIME


@pytest.mark.parametrize(
    ("offset", "words"),
    [
        (dt.timedelta(hours=1), "cannot have come in the future"),
        (-dt.timedelta(days=8), "up to 7 days after it came in"),
    ],
)
def test_a_call_time_in_the_future_or_absurdly_old_is_refused(
    offset, words, cast: Cast, at_call_time
):
    with pytest.raises(DomainError) as refused:
        emergencies.emergency_open_call(
            actor=cast.operator,
            caller=None,
            heard="",
            location_hint="",
            people=[cast.falcon],
            reported_at=CALL_TIME + offset,
        )
    assert words in refused.value.field_errors["reported_at"][0]
    assert not Emergency.objects.exists()


def test_a_call_entered_afterwards_keeps_its_time(cast: Cast, at_call_time):
    emergency = emergencies.emergency_open_call(
        actor=cast.operator,
        caller=None,
        heard="",
        location_hint="",
        people=[cast.falcon],
        reported_at=CALL_TIME - dt.timedelta(hours=2),
    )
    assert emergency.reported_at == CALL_TIME - dt.timedelta(hours=2)
    assert emergency.opened_at == CALL_TIME


def test_admins_and_analysts_cannot_open_emergencies(cast: Cast):
    for actor in (cast.admin, cast.analyst):
        with pytest.raises(DomainError):
            emergencies.emergency_open_call(
                actor=actor, caller=None, heard="", location_hint="", people=[cast.falcon]
            )
    assert not Emergency.objects.exists()


def test_a_call_about_people_or_cases_the_actor_cannot_see_is_refused(cast: Cast):
    with pytest.raises(DomainError) as refused:
        emergencies.emergency_open_call(
            actor=cast.outsider,
            caller=None,
            heard="",
            location_hint="",
            people=[cast.falcon],
            cases=[cast.case],
        )
    assert set(refused.value.field_errors) == {"people", "cases"}
    with pytest.raises(DomainError):
        emergencies.emergency_open_call(
            actor=cast.operator, caller=None, heard="x" * 20_001, location_hint="", people=[]
        )
    assert not Emergency.objects.exists()


# --- cancellation by the protected person ----------------------------------------------------


def test_the_normal_pin_cancels_an_accidental_sos_and_staff_still_see_it(
    cast: Cast, default_policy, at_call_time
):
    emergency = _sos(cast.falcon)
    escalation.escalation_tick()
    assert Notification.objects.filter(state=Notification.State.PENDING).exists()

    cancelled = cancellation.cancel_by_person(person=cast.falcon, via_duress=False, channel="web")

    assert cancelled is not None
    assert cancelled.pk == emergency.pk
    cancelled.refresh_from_db()
    assert cancelled.state == EmergencyState.RESOLVED
    assert cancelled.outcome == Outcome.CANCELLED_BY_PERSON
    assert cancelled.priority == Priority.LOW
    assert cancelled.resolved_at == CALL_TIME
    assert cancelled.next_escalation_at is None
    note = cancelled.events.get(kind=EmergencyEvent.Kind.CANCEL_REQUESTED)
    assert note.data == {"channel": "web", "duress": False, "cancelled": True}
    assert not Notification.objects.filter(state=Notification.State.PENDING).exists()


def test_the_normal_pin_does_not_cancel_an_emergency_other_signals_joined(cast: Cast, at_call_time):
    emergency = _sos(cast.falcon)
    emergencies.raise_alert(
        source=EmergencySource.MISSED_CHECKIN,
        people=[cast.birch],
        reported_at=clock.now(),
        dedupe_key="missed:birch",
    )

    cancellation.cancel_by_person(person=cast.falcon, via_duress=False, channel="web")

    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.OPEN
    assert emergency.priority == Priority.HIGH
    note = emergency.events.get(kind=EmergencyEvent.Kind.CANCEL_REQUESTED)
    assert note.data["cancelled"] is False


def test_the_duress_pin_keeps_the_alarm_and_escalates_at_once(
    cast: Cast, default_policy, at_call_time
):
    emergency = _sos(cast.falcon)
    escalation.escalation_tick()
    response.emergency_acknowledge(actor=cast.operator, emergency=emergency)
    at_call_time.shift(dt.timedelta(minutes=1))

    kept = cancellation.cancel_by_person(person=cast.falcon, via_duress=True, channel="web")

    assert kept is not None
    kept.refresh_from_db()
    assert kept.state == EmergencyState.OPEN
    assert kept.priority == Priority.TOP
    assert kept.next_escalation_at == clock.now()
    assert kept.resolved_at is None
    assert kept.events.get(kind=EmergencyEvent.Kind.CANCEL_REQUESTED).data["duress"] is True
    assert escalation.escalation_tick() == 1  # the next step is paged now


def test_the_duress_pin_with_nothing_open_opens_a_top_priority_emergency(cast: Cast, at_call_time):
    assert (
        cancellation.cancel_by_person(person=cast.falcon, via_duress=False, channel="web") is None
    )
    opened = cancellation.cancel_by_person(person=cast.falcon, via_duress=True, channel="sms")
    assert opened is not None
    assert opened.source == EmergencySource.DURESS
    assert opened.priority == Priority.TOP
    assert opened.state == EmergencyState.OPEN


# --- two alerts at once -------------------------------------------------------------------------


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite serialises writers (BEGIN IMMEDIATE): there is no concurrency to test",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_alerts_for_the_same_person_open_one_emergency(cast: Cast, audit_truncatable):
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)
    opened: list[str] = []

    def raise_one(index: int) -> None:
        try:
            barrier.wait()
            emergency = emergencies.raise_alert(
                source=EmergencySource.MISSED_CHECKIN,
                people=[cast.falcon if index % 2 else cast.birch],
                reported_at=clock.now(),
                dedupe_key=f"missed:{index % 3}",
            )
            opened.append(str(emergency.pk))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=raise_one, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Emergency.objects.count() == 1
    assert len(set(opened)) == 1
    assert Alert.objects.count() == 3  # three dedupe keys


# --- edges ----------------------------------------------------------------------------------------


def test_a_second_call_joining_adds_to_what_was_heard(cast: Cast, at_call_time):
    first = emergencies.emergency_open_call(
        actor=cast.operator,
        caller=None,
        heard="screaming",
        location_hint="flat",
        people=[cast.falcon],
    )
    at_call_time.shift(dt.timedelta(minutes=3))
    second = emergencies.emergency_open_call(
        actor=cast.operator,
        caller=None,
        heard="a car leaving",
        location_hint="yard",
        people=[cast.birch],
    )
    assert second.pk == first.pk
    second.refresh_from_db()
    assert second.heard == "screaming\n\n[2026-03-10 12:03 UTC] a car leaving"
    assert second.location_hint == "flat\n\n[2026-03-10 12:03 UTC] yard"


def test_a_racing_duplicate_is_caught_by_the_unique_dedupe_key(
    cast: Cast, monkeypatch, at_call_time
):
    first = _sos(cast.falcon)
    real = emergencies._existing
    calls = {"n": 0}

    def blind_once(key: str):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        return None if calls["n"] <= 1 else real(key)  # as if the other had not committed yet

    monkeypatch.setattr(emergencies, "_existing", blind_once)
    again = _sos(cast.falcon, priority=Priority.TOP)

    assert again.pk == first.pk
    assert Alert.objects.count() == 1
    first.refresh_from_db()
    assert first.priority == Priority.HIGH  # the duplicate's join was rolled back


def test_an_emergency_code_collision_draws_again(cast: Cast, monkeypatch, at_call_time):
    codes = iter(["E-AAAA", "E-AAAA", "E-BBBB"])
    monkeypatch.setattr(emergencies, "random_code", lambda prefix, length: next(codes))
    first = _sos(cast.falcon)
    second = _sos(PersonFactory(), key="sos-2")
    assert (first.code, second.code) == ("E-AAAA", "E-BBBB")


def test_the_caller_is_named_in_notifications_even_if_not_concerned(
    cast: Cast, recorder, at_call_time
):
    from refuge.alerts.models import StaffChannel
    from refuge.alerts.services import delivery

    StaffChannel.objects.create(user=cast.coordinator, kind="webhook", target="json://x/c")
    emergencies.raise_alert(
        source=EmergencySource.CALL,
        people=[cast.falcon],
        caller=cast.birch,
        reported_at=clock.now(),
        dedupe_key="call:x",
    )
    escalation.escalation_tick()
    delivery.deliver_due()
    (sent,) = [m for m in recorder.sent if m.target == "json://x/c"]
    assert "FALCON, BIRCH" in sent.body


def test_an_integrity_error_that_is_not_a_duplicate_alert_is_raised(cast: Cast, monkeypatch):
    from django.db import IntegrityError

    def broken_save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise IntegrityError

    monkeypatch.setattr(Alert, "save", broken_save)
    with pytest.raises(IntegrityError):
        _sos(cast.falcon)
    assert not Emergency.objects.exists()
