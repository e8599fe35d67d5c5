"""Delivering notifications: what a message says (and never says), real local sinks (SMTP and
an HTTP webhook receiver), retries with backoff, failover, leases."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
import time

import pytest

from refuge.alerts import messages
from refuge.alerts.models import (
    Emergency,
    EmergencyEvent,
    EmergencySource,
    EmergencyState,
    EscalationPolicy,
    EscalationStep,
    Notification,
    NotificationAttempt,
    StaffChannel,
)
from refuge.alerts.notifier import NotifierError, apprise_url
from refuge.alerts.services import delivery, delivery_records, emergencies, escalation, response
from refuge.core import clock
from tests.alerts.conftest import CALL_TIME
from tests.conftest import BIRCH_NAME, BIRCH_PHONE, FALCON_NAME, FALCON_PHONE, FLAT_ADDRESS, Cast

pytestmark = pytest.mark.django_db

HEARD = "Screaming, a man shouting: open the door"
HINT = "Behind the blue garages near the flat"
SECRETS = [
    FALCON_NAME,
    FALCON_PHONE,
    BIRCH_NAME,
    BIRCH_PHONE,
    FLAT_ADDRESS,
    "Testaev",
    "Demoev",
    "Testovaya",
    "9005550123",
    "555-01-23",
    HEARD,
    "Screaming",
    HINT,
    "garages",
]


def _open(cast: Cast) -> Emergency:
    return emergencies.emergency_open_call(
        actor=cast.operator,
        caller=cast.birch,
        heard=HEARD,
        location_hint=HINT,
        people=[cast.falcon, cast.birch],
    )


def _leaks(texts: list[str]) -> list[str]:
    return [secret for secret in SECRETS for text in texts if secret.lower() in text.lower()]


def _policy(*steps: tuple[int, str, object]) -> None:
    policy = EscalationPolicy.objects.create(name="Test", is_default=True, repeat=0)
    for position, (delay, target, user) in enumerate(steps):
        EscalationStep.objects.create(
            policy=policy, position=position, delay_minutes=delay, target=target, user=user
        )


def _channel(user, kind: str, target: str, position: int = 0) -> StaffChannel:  # type: ignore[no-untyped-def]
    return StaffChannel.objects.create(user=user, kind=kind, target=target, position=position)


def _run(time_machine, minutes: float = 0) -> int:  # type: ignore[no-untyped-def]
    if minutes:
        time_machine.shift(dt.timedelta(minutes=minutes))
    return escalation.escalation_tick() + delivery.deliver_due()


# --- what a message says ------------------------------------------------------------------------


def test_a_message_names_pseudonyms_kind_priority_code_and_links_only(
    cast: Cast, recorder, at_call_time, settings
):
    settings.PUBLIC_BASE_URL = "https://refuge.example.org"
    _policy((0, EscalationStep.Target.USER, cast.lawyer))
    _channel(cast.lawyer, "webhook", "json://hooks.example.org/lawyer")
    emergency = _open(cast)

    assert _run(at_call_time) == 1  # the step fired as the emergency opened; one message

    (sent,) = recorder.sent
    notification = Notification.objects.get()
    tag = messages.marker(emergency.code, notification.pk)
    assert sent.title.startswith(tag)
    assert emergency.code in sent.title
    assert "High" in sent.title
    assert "Call to the emergency line" in sent.body
    assert "BIRCH" in sent.body
    assert "FALCON" in sent.body
    assert "https://refuge.example.org/alerts/" in sent.body
    token = escalation.ack_token(notification.pk)
    assert f"https://refuge.example.org/alerts/ack/{token}/" in sent.body
    assert sent.body.rstrip().endswith(tag)
    assert _leaks([sent.title, sent.body]) == []
    # The link in the message is the one that acknowledges.
    link = re.search(r"/alerts/ack/([0-9a-f]+)/", sent.body)
    assert link is not None
    assert response.emergency_acknowledge_by_token(link.group(1)).pk == emergency.pk


def test_a_duress_emergency_is_announced_as_an_sos(cast: Cast, recorder, at_call_time):
    _policy((0, EscalationStep.Target.USER, cast.lawyer))
    _channel(cast.lawyer, "webhook", "json://hooks.example.org/lawyer")
    emergency = emergencies.raise_alert(
        source=EmergencySource.DURESS,
        people=[cast.falcon],
        reported_at=clock.now(),
        dedupe_key="duress",
    )
    _run(at_call_time)
    (sent,) = recorder.sent
    assert "SOS" in sent.body
    assert "Top" in sent.title
    assert "uress" not in sent.title + sent.body
    assert emergency.source == EmergencySource.DURESS  # the board still says which


def test_a_sent_notification_is_recorded(cast: Cast, recorder, at_call_time):
    _policy((0, EscalationStep.Target.USER, cast.lawyer))
    _channel(cast.lawyer, "webhook", "json://hooks.example.org/lawyer")
    emergency = _open(cast)
    escalation.escalation_tick()
    at_call_time.shift(dt.timedelta(seconds=3))

    assert delivery.deliver_due() == 1

    notification = Notification.objects.get()
    assert notification.state == Notification.State.SENT
    assert notification.sent_at == CALL_TIME + dt.timedelta(seconds=3)
    assert notification.locked_until is None
    (attempt,) = NotificationAttempt.objects.all()
    assert attempt.ok
    assert attempt.channel_kind == "webhook"
    emergency.refresh_from_db()
    assert emergency.first_notified_at == CALL_TIME + dt.timedelta(seconds=3)
    sent = emergency.events.get(kind=EmergencyEvent.Kind.NOTIFICATION_SENT)
    assert sent.data["recipient"] == str(cast.lawyer.pk)
    assert sent.data["channel"] == "webhook"
    assert delivery.deliver_due() == 0  # sent once


def test_nothing_is_sent_for_an_emergency_acknowledged_before_delivery(
    cast: Cast, recorder, at_call_time
):
    _policy((0, EscalationStep.Target.USER, cast.lawyer))
    _channel(cast.lawyer, "webhook", "json://hooks.example.org/lawyer")
    emergency = _open(cast)
    escalation.escalation_tick()
    response.emergency_acknowledge(actor=cast.coordinator, emergency=emergency)

    assert delivery.deliver_due() == 0
    assert recorder.sent == []
    assert Notification.objects.get().state == Notification.State.CANCELLED


def test_a_notification_claimed_meanwhile_by_an_emergency_now_closed_is_cancelled(
    cast: Cast, recorder, at_call_time
):
    _policy((0, EscalationStep.Target.USER, cast.lawyer))
    _channel(cast.lawyer, "webhook", "json://hooks.example.org/lawyer")
    emergency = _open(cast)
    escalation.escalation_tick()
    Emergency.objects.filter(pk=emergency.pk).update(state=EmergencyState.RESOLVED)

    assert delivery.deliver_due() == 1
    assert recorder.sent == []
    assert Notification.objects.get().state == Notification.State.CANCELLED


# --- failures, backoff, failover ----------------------------------------------------------------


def test_failures_back_off_and_fail_over_round_the_channels_without_giving_up(
    cast: Cast, recorder, at_call_time
):
    _policy((0, EscalationStep.Target.USER, cast.lawyer))
    _channel(cast.lawyer, "webhook", "json://hooks.example.org/lawyer", position=0)
    _channel(cast.lawyer, "email", "lawyer@example.org", position=1)
    _open(cast)
    recorder.fail_kinds = {"webhook", "email"}
    escalation.escalation_tick()

    times: list[dt.datetime] = []
    for _ in range(12):
        notification = Notification.objects.get()
        times.append(notification.next_attempt_at)
        at_call_time.move_to(notification.next_attempt_at, tick=False)
        assert delivery.deliver_due() == 1

    kinds = [message.channel_kind for message in recorder.refused]
    assert kinds == ["webhook", "webhook", "email", "email"] * 3
    waits = [round((b - a).total_seconds()) for a, b in itertools.pairwise(times)]
    # 15 s, then at once on the next channel, then 60 s, ... capped at 5 minutes.
    assert waits == [15, 0, 60, 0, 240, 0, 300, 0, 300, 0, 300]
    notification = Notification.objects.get()
    assert notification.state == Notification.State.PENDING  # never gives up while open
    assert notification.attempts == 12
    failed = NotificationAttempt.objects.filter(ok=False)
    assert failed.count() == 12
    for attempt in failed:
        assert "example.org" not in attempt.error
        assert attempt.error.startswith(("webhook: ", "email: "))
    assert EmergencyEvent.objects.filter(kind="notification_failed").count() == 12

    recorder.fail_kinds = set()
    at_call_time.move_to(notification.next_attempt_at, tick=False)
    assert delivery.deliver_due() == 1
    assert [m.channel_kind for m in recorder.sent] == ["webhook"]
    assert Notification.objects.get().state == Notification.State.SENT


def test_a_recipient_without_channels_is_retried_until_they_have_one(
    cast: Cast, recorder, at_call_time
):
    _policy((0, EscalationStep.Target.USER, cast.lawyer))
    _open(cast)
    escalation.escalation_tick()
    assert delivery.deliver_due() == 1
    notification = Notification.objects.get()
    assert notification.state == Notification.State.PENDING
    assert notification.last_error == "no active channel"

    _channel(cast.lawyer, "webhook", "json://hooks.example.org/lawyer")
    at_call_time.move_to(notification.next_attempt_at, tick=False)
    assert delivery.deliver_due() == 1
    assert len(recorder.sent) == 1


def test_a_crash_after_sending_means_sent_again_after_the_lease_never_lost(
    cast: Cast, recorder, at_call_time, monkeypatch
):
    _policy((0, EscalationStep.Target.USER, cast.lawyer))
    _channel(cast.lawyer, "webhook", "json://hooks.example.org/lawyer")
    _open(cast)
    escalation.escalation_tick()

    def crash(items, now):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt  # the worker dies between "sent" and "recorded"

    monkeypatch.setattr(delivery_records, "_record_sent", crash)
    with pytest.raises(KeyboardInterrupt):
        delivery.deliver_due()
    monkeypatch.undo()
    assert len(recorder.sent) == 1
    assert Notification.objects.get().state == Notification.State.PENDING

    at_call_time.shift(delivery.lease() - dt.timedelta(seconds=1))
    assert delivery.deliver_due() == 0  # still leased to the dead worker
    at_call_time.shift(dt.timedelta(seconds=1))
    assert delivery.deliver_due() == 1  # the lease ran out: sent again

    assert len(recorder.sent) == 2
    assert recorder.sent[0].title == recorder.sent[1].title  # the marker shows the repeat
    assert Notification.objects.get().state == Notification.State.SENT


def test_an_expired_lease_is_not_sent_by_the_worker_that_lost_it(
    cast: Cast, recorder, at_call_time
):
    item = delivery.Outgoing(
        notification_ids=(),
        channel_id=None,
        channel_kind="webhook",
        target="json://x",
        title="t",
        body="b",
        lease_until=clock.now(),
    )
    assert delivery._send(recorder, item) == delivery.Result(item, sent=False, error="")
    assert recorder.sent == []


# --- real sinks ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("default_policy")
def test_real_sinks_receive_each_step_and_nothing_identifying(
    cast: Cast, at_call_time, http_sink, smtp_sink, settings
):
    settings.NOTIFIER = "apprise"
    _channel(cast.operator, "email", "operator@example.org")
    _channel(cast.lawyer, "webhook", http_sink.url("lawyer"))
    _channel(cast.coordinator, "email", "coordinator@example.org")
    _channel(cast.caseworker, "webhook", http_sink.url("caseworker"))
    emergency = _open(cast)

    _run(at_call_time)
    assert [m[1] for m in smtp_sink.messages] == [["operator@example.org"]]
    assert http_sink.received == []
    _run(at_call_time, 5)
    assert [m["path"] for m in http_sink.received] == ["/lawyer"]
    assert len(smtp_sink.messages) == 1  # the coordinator's turn has not come

    _run(at_call_time, 10)
    assert [m[1] for m in smtp_sink.messages][1:] == [["coordinator@example.org"]]
    response.emergency_acknowledge(actor=cast.lawyer, emergency=emergency)
    _run(at_call_time, 5)
    _run(at_call_time, 5)
    assert len(smtp_sink.messages) == 2  # acknowledged: nobody else is paged
    assert len(http_sink.received) == 1

    texts = smtp_sink.texts() + http_sink.texts()
    assert all(emergency.code in text for text in texts)
    assert all("FALCON" in text and "BIRCH" in text for text in texts)
    assert all("/alerts/ack/" in text for text in texts)
    assert _leaks(texts) == []
    assert smtp_sink.messages[0][0] == "refuge@example.org"
    assert Notification.objects.filter(state=Notification.State.SENT).count() == 3


def test_a_webhook_down_for_ten_minutes_delays_delivery_but_loses_nothing(
    cast: Cast, at_call_time, http_sink, settings
):
    settings.NOTIFIER = "apprise"
    _policy((0, EscalationStep.Target.USER, cast.lawyer))
    _channel(cast.lawyer, "webhook", http_sink.url("lawyer"))
    _open(cast)
    http_sink.status = 500

    escalation.escalation_tick()  # one notification; only the outbox runs from here on
    for _ in range(41):  # ten minutes, a worker tick every 15 seconds
        delivery.deliver_due()
        at_call_time.shift(dt.timedelta(seconds=15))
    assert http_sink.received == []
    refused = http_sink.refused
    assert refused >= 5  # tried again and again, backing off
    assert Notification.objects.get().state == Notification.State.PENDING

    http_sink.status = 200
    for _ in range(21):  # at most the 5-minute cap later
        delivery.deliver_due()
        at_call_time.shift(dt.timedelta(seconds=15))
    assert len(http_sink.received) == 1
    assert Notification.objects.get().state == Notification.State.SENT
    assert NotificationAttempt.objects.filter(ok=False).count() == refused


def test_a_refusing_smtp_server_fails_over_to_the_webhook(
    cast: Cast, at_call_time, http_sink, smtp_sink, settings
):
    settings.NOTIFIER = "apprise"
    _policy((0, EscalationStep.Target.USER, cast.lawyer))
    _channel(cast.lawyer, "email", "lawyer@example.org", position=0)
    _channel(cast.lawyer, "webhook", http_sink.url("lawyer"), position=1)
    _open(cast)
    smtp_sink.refuse = True

    _run(at_call_time)  # e-mail refused
    _run(at_call_time, 0.25)  # refused again: fail over at once
    _run(at_call_time)  # the webhook takes it

    assert smtp_sink.messages == []
    assert len(http_sink.received) == 1
    kinds = list(NotificationAttempt.objects.order_by("at").values_list("channel_kind", "ok"))
    assert kinds == [("email", False), ("email", False), ("webhook", True)]


def test_apprise_urls_get_timeouts_and_plain_addresses_are_not_apprise_urls():
    assert apprise_url("webhook", "json://h/x?rto=2") == "json://h/x?rto=2&cto=5"
    with pytest.raises(NotifierError):
        apprise_url("email", "lawyer@example.org")
    assert apprise_url("email", "mailto://u:p@h?to=a@b").startswith("mailto://u:p@h?to=a@b&")


# --- the notifiers ------------------------------------------------------------------------------


def test_notifiers_are_chosen_by_setting_and_fail_clearly(settings, caplog):
    from django.core.exceptions import ImproperlyConfigured

    from refuge.alerts.notifier import (
        AppriseNotifier,
        LogNotifier,
        get_notifier,
        recording_notifier,
    )

    settings.NOTIFIER = "log"
    assert isinstance(get_notifier(), LogNotifier)
    with caplog.at_level("INFO", logger="refuge.alerts.notifier"):
        get_notifier().send(
            channel_kind="email", target="a@example.org", title="[E-AAAA #1] x", body="b"
        )
    assert "[E-AAAA #1]" in caplog.text
    assert "a@example.org" not in caplog.text
    settings.NOTIFIER = "record"
    assert get_notifier() is recording_notifier()
    settings.NOTIFIER = "apprise"
    assert isinstance(get_notifier(), AppriseNotifier)
    settings.NOTIFIER = "pigeon"
    with pytest.raises(ImproperlyConfigured):
        get_notifier()

    with pytest.raises(NotifierError) as unusable:
        AppriseNotifier().send(channel_kind="webhook", target="nonsense", title="t", body="b")
    assert "nonsense" not in str(unusable.value)
    settings.SMTP_HOST = ""
    with pytest.raises(NotifierError) as no_host:
        AppriseNotifier().send(channel_kind="email", target="a@example.org", title="t", body="b")
    assert "REFUGE_SMTP_HOST" in str(no_host.value)
    assert apprise_url("webhook", "json://h/x?cto=1&rto=2") == "json://h/x?cto=1&rto=2"


def test_the_message_is_in_the_recipients_language(cast: Cast, recorder, at_call_time, monkeypatch):
    from django.utils import translation

    monkeypatch.setattr(messages, "_", lambda text: f"<{translation.get_language()}>{text}")
    cast.lawyer.language = "ru"
    cast.lawyer.save()
    _policy((0, EscalationStep.Target.USER, cast.lawyer))
    _channel(cast.lawyer, "webhook", "json://hooks.example.org/lawyer")
    _open(cast)
    _run(at_call_time)
    (sent,) = recorder.sent
    assert "<ru>Emergency" in sent.body
    assert "<en>" not in sent.title + sent.body


# --- several at once ----------------------------------------------------------------------------


def _sos(person, key: str) -> Emergency:  # type: ignore[no-untyped-def]
    return emergencies.raise_alert(
        source=EmergencySource.SOS,
        people=[person],
        reported_at=clock.now(),
        dedupe_key=key,
    )


def test_emergencies_due_together_reach_one_recipient_as_one_message(
    cast: Cast, recorder, at_call_time
):
    from tests.factories import PersonFactory

    _policy((0, EscalationStep.Target.USER, cast.lawyer))
    _channel(cast.lawyer, "telegram", "tgram://bot/123")
    opened = [_sos(PersonFactory(pseudonym=f"HERON{n}"), f"sos-{n}") for n in range(3)]

    assert delivery.deliver_due() == 3

    (sent,) = recorder.sent
    for emergency in opened:
        notification = emergency.notifications.get()
        assert notification.state == Notification.State.SENT
        assert messages.marker(emergency.code, notification.pk) in sent.body
        token = escalation.ack_token(notification.pk)
        assert f"/alerts/ack/{token}/" in sent.body
        event = emergency.events.get(kind=EmergencyEvent.Kind.NOTIFICATION_SENT)
        assert event.data["bundled"] == 3
    assert "3 emergencies" in sent.title
    # Each link in the bundle acknowledges its own emergency, and only that one.
    token = escalation.ack_token(opened[1].notifications.get().pk)
    assert response.emergency_acknowledge_by_token(token).pk == opened[1].pk
    assert Emergency.objects.filter(state=EmergencyState.ACKNOWLEDGED).count() == 1


def test_a_bundle_stops_at_the_channel_kinds_limit(cast: Cast, recorder, at_call_time):
    from tests.factories import PersonFactory

    _policy((0, EscalationStep.Target.USER, cast.lawyer))
    _channel(cast.lawyer, "telegram", "tgram://bot/123")
    limit = messages.BUNDLE_LIMITS["telegram"]
    for n in range(limit + 2):
        _sos(PersonFactory(pseudonym=f"HERON{n}"), f"sos-{n}")

    assert delivery.deliver_due() == limit + 2
    assert sorted(m.body.count("/alerts/ack/") for m in recorder.sent) == [2, limit]


def test_webhooks_get_one_emergency_per_request(cast: Cast, recorder, at_call_time):
    from tests.factories import PersonFactory

    _policy((0, EscalationStep.Target.USER, cast.lawyer))
    _channel(cast.lawyer, "webhook", "json://hooks.example.org/lawyer")
    for n in range(3):
        _sos(PersonFactory(pseudonym=f"HERON{n}"), f"sos-{n}")

    assert delivery.deliver_due() == 3
    assert [m.body.count("/alerts/ack/") for m in recorder.sent] == [1, 1, 1]


def _webhook_that_holds(cast: Cast, recorder, monkeypatch, pseudonym: str) -> threading.Event:  # type: ignore[no-untyped-def]
    """The lawyer is paged by webhook; a message naming `pseudonym` is held until the event
    returned is set (a channel that hangs), the others go straight through."""
    _policy((0, EscalationStep.Target.USER, cast.lawyer))
    _channel(cast.lawyer, "webhook", "json://hooks.example.org/lawyer")
    release = threading.Event()
    real_send = recorder.send

    def holding(**message):  # type: ignore[no-untyped-def]
        if pseudonym in message["body"]:
            release.wait(30)
        real_send(**message)

    monkeypatch.setattr(recorder, "send", holding)
    return release


def test_a_channel_that_hangs_does_not_hold_back_the_next_tick(
    cast: Cast, recorder, at_call_time, monkeypatch
):
    from tests.factories import PersonFactory

    release = _webhook_that_holds(cast, recorder, monkeypatch, "HANG")
    _sos(PersonFactory(pseudonym="HANG"), "sos-hang")
    assert delivery.deliver_due(settle=0.05) == 1  # returns while the send still hangs
    assert delivery.in_flight() == 1
    at_call_time.shift(delivery.lease())
    assert delivery.deliver_due(settle=0.05) == 0  # past its lease, but still ours: not again
    _sos(PersonFactory(pseudonym="SWIFT"), "sos-swift")
    assert delivery.deliver_due(settle=5) == 1
    assert [("SWIFT" in m.body) for m in recorder.sent] == [True]
    release.set()
    assert delivery.drain(5) == 1  # the hung send finished: recorded
    assert Notification.objects.filter(state=Notification.State.SENT).count() == 2


def test_a_full_batch_is_not_waited_for_and_is_recorded_after_the_next_is_sent(
    cast: Cast, recorder, at_call_time, monkeypatch
):
    from tests.factories import PersonFactory

    release = _webhook_that_holds(cast, recorder, monkeypatch, "FIRST")
    _sos(PersonFactory(pseudonym="FIRST"), "sos-first")
    _sos(PersonFactory(pseudonym="SECOND"), "sos-second")
    # A full batch (limit 1, more may be due): the tick returns without waiting 5 s for it.
    started = time.monotonic()
    assert delivery.deliver_due(limit=1, settle=5) == 1
    assert time.monotonic() - started < 4
    release.set()
    # The next tick sends the next batch, then records the first (and waits for its own: the
    # batch is not full).
    assert delivery.deliver_due(limit=2, settle=5) == 1
    assert Notification.objects.filter(state=Notification.State.SENT).count() == 2


# --- the one worker of a SQLite database --------------------------------------------------------


@pytest.fixture
def sole_worker(monkeypatch):  # type: ignore[no-untyped-def]
    from django.db import connection

    from refuge.core import wakeup

    if connection.vendor != "sqlite":
        pytest.skip("only a SQLite database has a sole worker")

    monkeypatch.setattr(wakeup, "_sole_sqlite_worker", True)


def test_the_sole_sqlite_worker_sends_without_writing_a_lease_first(
    cast: Cast, recorder, at_call_time, sole_worker, monkeypatch
):
    import threading

    _policy((0, EscalationStep.Target.USER, cast.lawyer))
    _channel(cast.lawyer, "webhook", "json://hooks.example.org/lawyer")
    release = threading.Event()
    real_send = recorder.send

    def hanging(**message):  # type: ignore[no-untyped-def]
        release.wait(30)
        real_send(**message)

    monkeypatch.setattr(recorder, "send", hanging)
    _open(cast)
    assert delivery.deliver_due(settle=0.05) == 1
    assert Notification.objects.get().locked_until is None  # nothing written before the send
    assert delivery.deliver_due(settle=0.05) == 0  # and not claimed twice while it is sent
    release.set()
    assert delivery.drain(5) == 1
    assert Notification.objects.get().state == Notification.State.SENT
    assert len(recorder.sent) == 1


def test_a_send_the_busy_database_could_not_record_yet_is_kept_and_not_sent_again(
    cast: Cast, recorder, at_call_time, sole_worker, monkeypatch
):
    from django.db import OperationalError

    _policy((0, EscalationStep.Target.USER, cast.lawyer))
    _channel(cast.lawyer, "webhook", "json://hooks.example.org/lawyer")
    real_record = delivery_records.record
    busy = {"left": 1}

    def locked_once(results):  # type: ignore[no-untyped-def]
        if busy["left"]:
            busy["left"] -= 1
            raise OperationalError("database is locked")  # SQLite's writer was busy
        return real_record(results)

    monkeypatch.setattr(delivery_records, "record", locked_once)
    _open(cast)
    assert delivery.deliver_due() == 1
    assert Notification.objects.get().state == Notification.State.PENDING  # not recorded yet
    assert delivery.deliver_due() == 0  # kept, so never claimed and sent again
    assert len(recorder.sent) == 1
    assert Notification.objects.get().state == Notification.State.SENT  # recorded this time
