"""The escalation engine with a controlled clock: steps in order, late or repeated steps ignored,
repeats until acknowledged, acknowledgement expiry, staff responses."""

from __future__ import annotations

import datetime as dt

import pytest

from refuge.alerts.models import (
    Emergency,
    EmergencyEvent,
    EmergencySource,
    EmergencyState,
    EscalationPolicy,
    EscalationStep,
    Notification,
    Outcome,
    StaffChannel,
)
from refuge.alerts.services import emergencies, escalation, response
from refuge.core import clock
from refuge.core.errors import DomainError, NotFoundError
from refuge.security.models import AuditEntry
from tests.alerts.conftest import CALL_TIME
from tests.conftest import Cast
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


def _open(cast: Cast) -> Emergency:
    return emergencies.emergency_open_call(
        actor=cast.operator,
        caller=cast.birch,
        heard="screaming",
        location_hint="",
        people=[cast.falcon, cast.birch],
    )


def _paged(emergency: Emergency, *, step: int | None = None, round_: int = 0) -> set[str]:
    rows = Notification.objects.filter(emergency=emergency, round=round_)
    if step is not None:
        rows = rows.filter(step=step)
    return {n.recipient.username for n in rows.select_related("recipient")}


def _tick(time_machine, minutes: float = 0) -> int:  # type: ignore[no-untyped-def]
    if minutes:
        time_machine.shift(dt.timedelta(minutes=minutes))
    return escalation.ack_expiry_tick() + escalation.escalation_tick()


def test_steps_fire_in_order_at_their_delays(cast: Cast, default_policy, at_call_time):
    emergency = _open(cast)

    # The first step fires in the transaction that opens the emergency: nothing is left due.
    assert _paged(emergency) == {"operator"}  # the on-call operator, at once
    assert _tick(at_call_time) == 0
    assert _tick(at_call_time, 4.9) == 0
    assert _tick(at_call_time, 0.1) == 1
    assert _paged(emergency, step=1) == {"lawyer"}  # the case's lawyer after 5 minutes
    assert _tick(at_call_time, 9) == 0
    assert _tick(at_call_time, 1) == 1
    assert _paged(emergency, step=2) == {"coordinator"}
    assert _tick(at_call_time, 5) == 1
    assert _paged(emergency, step=3) == {"caseworker", "lawyer"}  # the whole case team

    escalated = emergency.events.filter(kind=EmergencyEvent.Kind.ESCALATED).order_by("at")
    assert [e.data["step"] for e in escalated] == [0, 1, 2, 3]
    assert [e.at - CALL_TIME for e in escalated] == [
        dt.timedelta(minutes=m) for m in (0, 5, 15, 20)
    ]
    assert AuditEntry.objects.filter(action="refuge.alerts.emergency.escalated").count() == 4


def test_each_notification_gets_an_idempotency_key_and_a_token_digest(
    cast: Cast, default_policy, at_call_time
):
    emergency = _open(cast)
    _tick(at_call_time)
    notification = Notification.objects.get()
    assert notification.idempotency_key == f"{emergency.pk}:0:0:{cast.operator.pk}"
    assert notification.next_attempt_at == CALL_TIME
    token = escalation.ack_token(notification.pk)
    assert notification.ack_token_digest == escalation.token_digest(token)
    assert token not in notification.ack_token_digest


def test_a_step_fired_twice_or_late_is_ignored_by_its_index(
    cast: Cast, default_policy, at_call_time
):
    emergency = _open(cast)
    stale = Emergency.objects.get(pk=emergency.pk)  # a second worker's copy, read before
    before = Notification.objects.count()

    assert escalation.fire_step(emergency, clock.now())
    assert not escalation.fire_step(stale, clock.now())  # the same step again: ignored
    at_call_time.shift(dt.timedelta(hours=1))
    assert not escalation.fire_step(stale, clock.now())  # and late: still ignored

    assert Notification.objects.count() == before + 1
    assert emergency.events.filter(kind=EmergencyEvent.Kind.ESCALATED).count() == 2


def test_a_tick_run_twice_at_the_same_moment_fires_once(cast: Cast, default_policy, at_call_time):
    _open(cast)
    at_call_time.shift(dt.timedelta(minutes=5))  # the second step falls due
    assert escalation.escalation_tick() == 1
    assert escalation.escalation_tick() == 0
    assert Notification.objects.count() == 2


def test_after_the_last_step_the_policy_repeats_then_the_last_step_repeats_until_ack(
    cast: Cast, default_policy, at_call_time
):
    emergency = _open(cast)  # round 0's first step fires as it opens
    for minutes in (5, 10, 5):  # the rest of round 0
        assert _tick(at_call_time, minutes) == 1
    # Round 1 (repeat=1) starts with the on-call step, at least RENOTIFY after the last step.
    assert _tick(at_call_time, 4) == 0
    assert _tick(at_call_time, 1) == 1
    assert _paged(emergency, step=0, round_=1) == {"operator"}
    for minutes in (5, 10, 5):
        assert _tick(at_call_time, minutes) == 1
    # Every round done: the last step (the whole team) again every 5 minutes.
    for round_ in (2, 3, 4):
        assert _tick(at_call_time, 5) == 1
        assert _paged(emergency, round_=round_) == {"caseworker", "lawyer"}

    response.emergency_acknowledge(actor=cast.lawyer, emergency=emergency)
    assert _tick(at_call_time, 5) == 0  # paging stopped
    assert _tick(at_call_time, 4) == 0  # until the acknowledgement expires (10 minutes)
    assert not Notification.objects.filter(state=Notification.State.PENDING).exists()


def test_acknowledging_stops_the_paging(cast: Cast, default_policy, at_call_time):
    emergency = _open(cast)
    _tick(at_call_time)
    at_call_time.shift(dt.timedelta(minutes=2))

    acknowledged = response.emergency_acknowledge(actor=cast.operator, emergency=emergency)

    assert acknowledged.state == EmergencyState.ACKNOWLEDGED
    assert acknowledged.acknowledged_at == CALL_TIME + dt.timedelta(minutes=2)
    assert acknowledged.acknowledged_by == cast.operator
    assert acknowledged.ack_expires_at == CALL_TIME + dt.timedelta(minutes=12)
    assert Notification.objects.get().state == Notification.State.CANCELLED
    assert _tick(at_call_time, 5) == 0
    assert acknowledged.events.filter(kind=EmergencyEvent.Kind.ACKNOWLEDGED).count() == 1
    # Acknowledging again changes nothing.
    response.emergency_acknowledge(actor=cast.coordinator, emergency=emergency)
    emergency.refresh_from_db()
    assert emergency.acknowledged_by == cast.operator


def test_an_acknowledgement_without_on_my_way_expires_and_escalation_resumes(
    cast: Cast, default_policy, at_call_time
):
    emergency = _open(cast)
    _tick(at_call_time)  # step 0: operator
    response.emergency_acknowledge(actor=cast.operator, emergency=emergency)

    assert _tick(at_call_time, 9) == 0
    assert _tick(at_call_time, 1) == 2  # expired, then the next step fires at once

    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.OPEN
    assert emergency.ack_expires_at is None
    assert emergency.acknowledged_at == CALL_TIME  # the first acknowledgement is kept
    assert _paged(emergency, step=1) == {"lawyer"}
    kinds = list(emergency.events.values_list("kind", flat=True))
    assert kinds.index(EmergencyEvent.Kind.ACK_EXPIRED) < len(kinds) - 1
    assert AuditEntry.objects.filter(action="refuge.alerts.emergency.ack_expired").exists()

    # Acknowledged again and on the way in time: no expiry any more.
    response.emergency_acknowledge(actor=cast.lawyer, emergency=emergency)
    response.emergency_en_route(actor=cast.lawyer, emergency=emergency)
    assert _tick(at_call_time, 60) == 0


def test_on_the_way_on_site_and_resolve_record_their_times(
    cast: Cast, default_policy, at_call_time
):
    emergency = _open(cast)
    _tick(at_call_time)
    _tick(at_call_time, 5)
    at_call_time.shift(dt.timedelta(minutes=1))
    response.emergency_acknowledge(actor=cast.lawyer, emergency=emergency)
    at_call_time.shift(dt.timedelta(minutes=2))
    response.emergency_en_route(actor=cast.lawyer, emergency=emergency)
    at_call_time.shift(dt.timedelta(minutes=22))
    response.emergency_on_site(actor=cast.lawyer, emergency=emergency)
    at_call_time.shift(dt.timedelta(minutes=30))
    resolved = response.emergency_resolve(
        actor=cast.lawyer, emergency=emergency, outcome=Outcome.MISSING, note="Flat empty"
    )

    resolved.refresh_from_db()
    assert resolved.state == EmergencyState.RESOLVED
    assert resolved.acknowledged_at - resolved.reported_at == dt.timedelta(minutes=6)
    assert resolved.en_route_at - resolved.reported_at == dt.timedelta(minutes=8)
    assert resolved.on_site_at - resolved.reported_at == dt.timedelta(minutes=30)
    assert resolved.resolved_at - resolved.reported_at == dt.timedelta(minutes=60)
    assert resolved.resolved_by == cast.lawyer
    assert resolved.outcome == Outcome.MISSING
    assert resolved.resolution_note == "Flat empty"
    assert resolved.next_escalation_at is None
    kinds = [e.kind for e in resolved.events.filter(actor=cast.lawyer)]
    assert kinds == ["acknowledged", "en_route", "on_site", "resolved"]
    with pytest.raises(DomainError):
        response.emergency_resolve(actor=cast.lawyer, emergency=emergency, outcome=Outcome.SAFE)
    with pytest.raises(DomainError):
        response.emergency_acknowledge(actor=cast.lawyer, emergency=emergency)


def test_on_my_way_straight_from_open_counts_as_acknowledged(
    cast: Cast, default_policy, at_call_time
):
    emergency = _open(cast)
    _tick(at_call_time)
    on_the_way = response.emergency_en_route(actor=cast.lawyer, emergency=emergency)
    assert on_the_way.acknowledged_at == CALL_TIME
    assert on_the_way.acknowledged_by == cast.lawyer
    assert not Notification.objects.filter(state=Notification.State.PENDING).exists()
    with pytest.raises(DomainError):
        response.emergency_en_route(actor=cast.lawyer, emergency=emergency)
    response.emergency_on_site(actor=cast.lawyer, emergency=emergency)
    with pytest.raises(DomainError):
        response.emergency_on_site(actor=cast.lawyer, emergency=emergency)


def test_staff_outside_the_emergency_get_not_found(cast: Cast, at_call_time):
    emergency = _open(cast)
    for actor in (cast.outsider, cast.admin, cast.analyst):
        with pytest.raises(NotFoundError):
            response.emergency_acknowledge(actor=actor, emergency=emergency)
        with pytest.raises(NotFoundError):
            response.emergency_add_note(actor=actor, emergency=emergency, text="x")
    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.OPEN


def test_resolve_needs_a_staff_outcome(cast: Cast, at_call_time):
    emergency = _open(cast)
    for outcome in ("", "gone", Outcome.CANCELLED_BY_PERSON):
        with pytest.raises(DomainError):
            response.emergency_resolve(actor=cast.lawyer, emergency=emergency, outcome=outcome)


def test_notes_are_encrypted_and_read_back(cast: Cast, at_call_time):
    emergency = _open(cast)
    note = response.emergency_add_note(
        actor=cast.operator, emergency=emergency, text="Neighbour saw a grey Lada"
    )
    assert "Lada" not in str(note.data)
    stored = EmergencyEvent.objects.select_related("emergency").get(pk=note.pk)
    assert response.event_note(stored) == "Neighbour saw a grey Lada"
    assert response.event_note(emergency.events.get(kind="opened")) is None
    with pytest.raises(DomainError):
        response.emergency_add_note(actor=cast.operator, emergency=emergency, text="  ")


def test_the_link_in_a_notification_acknowledges_once(cast: Cast, default_policy, at_call_time):
    emergency = _open(cast)
    _tick(at_call_time)
    token = escalation.ack_token(Notification.objects.get().pk)

    acknowledged = response.emergency_acknowledge_by_token(token)

    assert acknowledged.pk == emergency.pk
    assert acknowledged.state == EmergencyState.ACKNOWLEDGED
    assert acknowledged.acknowledged_by == cast.operator
    assert acknowledged.events.get(kind="acknowledged").data == {"via": "link"}
    with pytest.raises(NotFoundError):
        response.emergency_acknowledge_by_token(token)  # works once
    for bad in ("", "x" * 300, "not-a-token"):
        with pytest.raises(NotFoundError):
            response.emergency_acknowledge_by_token(bad)


def test_a_reply_from_a_staff_channel_acknowledges(cast: Cast, default_policy, at_call_time):
    emergency = _open(cast)
    _tick(at_call_time)
    StaffChannel.objects.create(
        user=cast.operator, kind=StaffChannel.Kind.TELEGRAM, target="tgram://bot:token/424242"
    )
    StaffChannel.objects.create(
        user=cast.outsider, kind=StaffChannel.Kind.EMAIL, target="outsider@example.org"
    )
    code = emergency.code

    def reply(kind: str, sender: str, text: str) -> Emergency | None:
        return response.acknowledge_by_reply(channel_kind=kind, sender=sender, text=text)

    assert reply("telegram", "999999", f"ack {code}") is None  # unknown sender
    assert reply("telegram", "424242", "hello") is None  # not an acknowledgement
    assert reply("email", "424242", f"ack {code}") is None  # another kind of channel
    assert reply("email", "outsider@example.org", f"ack {code}") is None  # cannot see it
    assert reply("telegram", "424242", "ack E-ZZZZ") is None  # no such emergency
    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.OPEN

    acknowledged = reply("telegram", "424242", f"  ACK {code.lower()} ")
    assert acknowledged is not None
    assert acknowledged.acknowledged_by == cast.operator
    assert acknowledged.events.get(kind="acknowledged").data == {"via": "reply:telegram"}


def test_without_a_policy_coordinators_and_operators_are_paged(cast: Cast, at_call_time):
    emergency = _open(cast)
    _tick(at_call_time)
    assert _paged(emergency) == {"coordinator", "operator"}
    # ... and again every 5 minutes until someone acknowledges.
    assert _tick(at_call_time, 5) == 1
    assert _paged(emergency, round_=1) == {"coordinator", "operator"}


def test_a_step_that_resolves_to_nobody_pages_the_line(cast: Cast, at_call_time):
    policy = EscalationPolicy.objects.create(name="Lawyer only", is_default=True)
    EscalationStep.objects.create(
        policy=policy, position=0, target=EscalationStep.Target.CASE_LAWYER
    )
    stranger = PersonFactory(pseudonym="HERON")  # no case, no team: no lawyer
    emergency = emergencies.raise_alert(
        source=EmergencySource.SOS, people=[stranger], reported_at=clock.now(), dedupe_key="s"
    )
    _tick(at_call_time)
    assert _paged(emergency) == {"coordinator", "operator"}
    assert emergency.events.get(kind="escalated").data["fallback"] is True


def test_a_named_user_step_and_an_inactive_user(cast: Cast, at_call_time):
    policy = EscalationPolicy.objects.create(name="Named", is_default=True)
    EscalationStep.objects.create(
        policy=policy, position=0, target=EscalationStep.Target.USER, user=cast.caseworker
    )
    EscalationStep.objects.create(
        policy=policy, position=1, target=EscalationStep.Target.USER, user=cast.lawyer
    )
    emergency = _open(cast)
    cast.lawyer.is_active = False
    cast.lawyer.save()
    _tick(at_call_time)
    assert _paged(emergency, step=0) == {"caseworker"}
    _tick(at_call_time)
    assert _paged(emergency, step=1) == {"coordinator", "operator"}  # the lawyer left


def test_the_step_uses_the_recipients_channel_of_the_steps_kind(cast: Cast, at_call_time):
    policy = EscalationPolicy.objects.create(name="Signal first", is_default=True)
    EscalationStep.objects.create(
        policy=policy,
        position=0,
        target=EscalationStep.Target.USER,
        user=cast.lawyer,
        channel_kinds=["signal"],
    )
    StaffChannel.objects.create(user=cast.lawyer, kind="email", target="l@example.org")
    signal = StaffChannel.objects.create(
        user=cast.lawyer, kind="signal", target="signal://localhost/+100", position=1
    )
    _open(cast)
    _tick(at_call_time)
    assert Notification.objects.get().channel == signal


def test_a_tick_with_nothing_due_costs_a_fixed_number_of_queries(
    cast: Cast, default_policy, at_call_time, django_assert_max_num_queries
):
    _open(cast)
    for index in range(5):
        emergencies.raise_alert(
            source=EmergencySource.SOS,
            people=[PersonFactory()],
            reported_at=clock.now(),
            dedupe_key=f"sos-{index}",
        )
    assert _tick(at_call_time, 5) == 6  # the second step of each
    with django_assert_max_num_queries(2):
        assert _tick(at_call_time, 1) == 0


def test_a_broken_emergency_does_not_stop_the_others(cast: Cast, at_call_time, monkeypatch, caplog):
    real = escalation.recipients_for

    def failing(emergency, step, now):  # type: ignore[no-untyped-def]
        if cast.falcon in emergency.people.all():
            raise RuntimeError("+7 900 555-01-23")
        return real(emergency, step, now)

    monkeypatch.setattr(escalation, "recipients_for", failing)
    broken = _open(cast)  # its first step fails as it opens: the alert stands all the same
    assert "left to the worker" in caplog.text
    assert "555" not in caplog.text
    healthy = emergencies.raise_alert(
        source=EmergencySource.SOS,
        people=[PersonFactory()],
        reported_at=clock.now(),
        dedupe_key="ok",
    )
    assert Notification.objects.filter(emergency=healthy).exists()
    assert not Notification.objects.filter(emergency=broken).exists()
    assert escalation.escalation_tick() == 0  # fails again in the worker, alone
    broken.refresh_from_db()
    assert broken.escalation_step == 0  # rolled back: tried again next tick
    assert broken.next_escalation_at == CALL_TIME
    monkeypatch.setattr(escalation, "recipients_for", real)
    assert escalation.escalation_tick() == 1
    assert Notification.objects.filter(emergency=broken).exists()


def test_a_step_whose_target_cannot_be_resolved_pages_the_line(cast: Cast, at_call_time):
    emergency = _open(cast)
    Emergency.objects.filter(pk=emergency.pk).update(
        policy_snapshot={"steps": [{"target": "on_call", "rota": "not-a-uuid"}]}
    )
    assert _tick(at_call_time, 5) == 1  # the step repeats after RENOTIFY
    assert _paged(emergency, round_=1) == {"coordinator", "operator"}


def test_a_step_with_no_active_staff_at_all_is_logged(cast: Cast, at_call_time, caplog):
    from refuge.accounts.models import User

    User.objects.update(is_active=False)
    emergency = _open(cast)
    assert emergency.events.get(kind="escalated").data["recipients"] == []
    assert "pages nobody" in caplog.text


def test_an_emergency_acknowledged_between_listing_and_locking_is_skipped(
    cast: Cast, default_policy, at_call_time
):
    emergency = _open(cast)
    _tick(at_call_time)
    response.emergency_acknowledge(actor=cast.operator, emergency=emergency)
    assert escalation._fire_due(emergency.pk, clock.now()) == 0
    response.emergency_en_route(actor=cast.operator, emergency=emergency)
    assert escalation._expire(emergency.pk, clock.now() + dt.timedelta(hours=1)) == 0


def test_a_used_link_on_an_acknowledged_emergency_changes_nothing(
    cast: Cast, default_policy, at_call_time
):
    emergency = _open(cast)
    _tick(at_call_time)
    token = escalation.ack_token(Notification.objects.get().pk)
    response.emergency_acknowledge(actor=cast.coordinator, emergency=emergency)
    same = response.emergency_acknowledge_by_token(token)
    assert same.acknowledged_by == cast.coordinator
    assert same.events.filter(kind="acknowledged").count() == 1


def test_a_failing_expiry_does_not_stop_the_others(cast: Cast, at_call_time, monkeypatch, caplog):
    emergency = _open(cast)
    response.emergency_acknowledge(actor=cast.operator, emergency=emergency)

    def fails(pk, now):  # type: ignore[no-untyped-def]
        raise RuntimeError("+7 900 555-01-23")

    monkeypatch.setattr(escalation, "_expire", fails)
    assert escalation.ack_expiry_tick(clock.now() + dt.timedelta(hours=1)) == 0
    assert "ack expiry of emergency" in caplog.text
    assert "555" not in caplog.text


def test_a_reply_about_an_emergency_resolved_meanwhile_changes_nothing(
    cast: Cast, at_call_time, monkeypatch
):
    emergency = _open(cast)
    StaffChannel.objects.create(user=cast.operator, kind="email", target="op@example.org")
    response.emergency_resolve(actor=cast.coordinator, emergency=emergency, outcome=Outcome.SAFE)
    # As if it was resolved between the look-up and the lock.
    monkeypatch.setattr(response.access, "scope", lambda actor, qs: Emergency.objects.all())
    assert (
        response.acknowledge_by_reply(
            channel_kind="email", sender="op@example.org", text=f"ack {emergency.code}"
        )
        is None
    )
