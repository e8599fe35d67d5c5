"""Coordinators' security notices on their notification channels: one message per active
coordinator, with no identity in it, retried like any notification and stopped once someone has
seen the notices; never an emergency. Also what produces them: lockouts, the seal's changes and
refused unseal shares."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import transaction

from refuge.accounts import factors, notices
from refuge.accounts.models import Role, SecurityNotice
from refuge.alerts import notice_messages
from refuge.alerts.models import Emergency, NoticeDelivery, Notification, StaffChannel
from refuge.alerts.services import notice_delivery
from refuge.core import clock, jobs
from refuge.security import services_seal
from refuge.security import shares as share_format
from refuge.security.models import AuditEntry
from tests.conftest import Cast
from tests.factories import UserFactory
from tests.security import sealed_instance as sealed_support

pytestmark = pytest.mark.django_db
sealed_instance = sealed_support.sealed_instance  # the fixture

Kind = SecurityNotice.Kind
State = NoticeDelivery.State


def _channel(user, kind: str, target: str, position: int = 0) -> StaffChannel:  # type: ignore[no-untyped-def]
    return StaffChannel.objects.create(user=user, kind=kind, target=target, position=position)


@pytest.fixture
def coordinators(cast: Cast):  # type: ignore[no-untyped-def]
    """The cast's coordinator (e-mail, then Telegram) and a second one on Signal."""
    second = UserFactory(username="coordinator2", role=Role.COORDINATOR, language="ru")
    _channel(cast.coordinator, "email", "coordinator@example.org", 0)
    _channel(cast.coordinator, "telegram", "tgram://bot/coordinator", 1)
    _channel(second, "signal", "signal://coordinator2", 0)
    return cast.coordinator, second


def _lockout(cast: Cast) -> SecurityNotice:
    return notices.notice_raise(kind=Kind.SECOND_FACTOR_LOCKED_OUT, user=cast.operator)


def _deliver() -> int:
    return notice_delivery.deliver_due_notices()


# --- queued with the notice ---------------------------------------------------------------------


def test_a_notice_is_queued_for_every_active_coordinator(cast: Cast, coordinators):
    first, second = coordinators
    UserFactory(username="former", role=Role.COORDINATOR, is_active=False)
    notice = _lockout(cast)
    rows = {d.recipient: d for d in NoticeDelivery.objects.filter(notice=notice)}
    assert set(rows) == {first, second}
    assert rows[first].channel.kind == "email"
    assert rows[second].channel.kind == "signal"
    assert {d.state for d in rows.values()} == {State.PENDING}


def test_a_coordinator_without_a_channel_shows_as_not_reached(cast: Cast):
    notice = _lockout(cast)
    delivery = NoticeDelivery.objects.get(notice=notice)
    assert delivery.recipient == cast.coordinator
    assert delivery.state == State.FAILED
    shown = notices.notice_deliveries([notice])[notice.pk]
    assert [(d.recipient, d.no_channel) for d in shown] == [("coordinator", True)]


def test_the_notice_and_its_messages_roll_back_together(cast: Cast, coordinators):
    def raise_then_fail() -> None:
        with transaction.atomic():
            _lockout(cast)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        raise_then_fail()
    assert not SecurityNotice.objects.exists()
    assert not NoticeDelivery.objects.exists()


def test_a_failing_outbox_never_loses_the_notice(cast: Cast, coordinators, monkeypatch):
    def broken(notice: SecurityNotice) -> None:
        raise RuntimeError("outbox down")

    monkeypatch.setattr(notices.notice_raised, "_receivers", {"broken": broken})
    notice = _lockout(cast)
    assert SecurityNotice.objects.filter(pk=notice.pk).exists()
    assert AuditEntry.objects.filter(action="refuge.accounts.notice.raised").exists()


# --- sent ---------------------------------------------------------------------------------------


def test_each_coordinator_gets_a_message_without_any_identity(
    cast: Cast, coordinators, recorder, settings, at_call_time
):
    settings.PUBLIC_BASE_URL = "https://refuge.example.org"
    notice = _lockout(cast)
    assert _deliver() == 2
    by_target = {m.target: m for m in recorder.sent}
    assert set(by_target) == {"coordinator@example.org", "signal://coordinator2"}
    english = by_target["coordinator@example.org"]
    tag = notice_messages.marker(notice.pk)
    assert english.title == f"{tag} Security notice: Account locked after wrong second-factor codes"
    assert "When: 10 March 2026, 15:00 (Europe/Moscow)." in english.body
    assert "https://refuge.example.org/accounts/notices/" in english.body
    assert english.body.rstrip().endswith(tag)
    for message in recorder.sent:
        for identity in ("operator", str(cast.operator.pk), "127.0.0.1"):
            assert identity not in message.title + message.body
    russian = by_target["signal://coordinator2"]
    assert "Уведомление безопасности: Учётная запись заблокирована" in russian.title
    sent = NoticeDelivery.objects.filter(notice=notice)
    assert {(d.state, d.channel_kind, d.attempts) for d in sent} == {
        (State.SENT, "email", 1),
        (State.SENT, "signal", 1),
    }


def test_a_notice_is_not_an_emergency(cast: Cast, coordinators, recorder):
    _lockout(cast)
    _deliver()
    jobs.run_ticks()
    assert not Emergency.objects.exists()
    assert not Notification.objects.exists()
    assert "/alerts/ack/" not in " ".join(m.body for m in recorder.sent)


def test_the_worker_sends_them_on_its_tick(cast: Cast, coordinators, recorder):
    _lockout(cast)
    assert "alerts.notice_delivery" in jobs.registered_ticks()
    jobs.run_ticks()
    assert len(recorder.sent) == 2


def test_a_tick_with_no_notice_due_only_reads(cast: Cast, coordinators, recorder):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert notice_delivery.deliver_due_notices() == 0
    # One read, no transaction: on SQLite a transaction takes the write lock (BEGIN IMMEDIATE)
    # and the worker's every tick would queue behind a surge of SOS being written.
    assert [q["sql"].split()[0] for q in queries] == ["SELECT"]


def test_a_failed_send_is_retried_with_backoff_then_on_the_next_channel(
    cast: Cast, coordinators, recorder, at_call_time
):
    first, _second = coordinators
    recorder.fail_kinds.add("email")
    notice = _lockout(cast)
    _deliver()
    delivery = NoticeDelivery.objects.get(notice=notice, recipient=first)
    assert (delivery.state, delivery.attempts) == (State.PENDING, 1)
    assert delivery.next_attempt_at == clock.now() + dt.timedelta(seconds=15)
    assert "NotifierError" in delivery.last_error
    assert "coordinator@example.org" not in delivery.last_error
    assert _deliver() == 0  # not due yet
    at_call_time.shift(dt.timedelta(seconds=15))
    _deliver()  # the second failure on e-mail moves it to Telegram, at once
    _deliver()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.channel_kind, delivery.attempts) == (
        State.SENT,
        "telegram",
        3,
    )
    assert [m.target for m in recorder.sent if m.target.startswith("tgram")] == [
        "tgram://bot/coordinator"
    ]


def test_marking_the_notices_as_seen_cancels_what_is_not_sent(cast: Cast, coordinators, recorder):
    notice = _lockout(cast)
    notices.notice_acknowledge_all(actor=cast.coordinator)
    assert _deliver() == 2
    assert recorder.sent == []
    assert {d.state for d in NoticeDelivery.objects.filter(notice=notice)} == {State.CANCELLED}


def test_a_former_coordinator_is_not_sent_to(cast: Cast, coordinators, recorder):
    _first, second = coordinators
    _lockout(cast)
    second.is_active = False
    second.save()
    _deliver()
    assert [m.target for m in recorder.sent] == ["coordinator@example.org"]


def test_retries_stop_after_a_day(cast: Cast, coordinators, recorder, at_call_time):
    recorder.fail_kinds.update({"email", "telegram", "signal"})
    notice = _lockout(cast)
    for _tick in range(400):
        at_call_time.shift(dt.timedelta(minutes=5))
        _deliver()
    assert {d.state for d in NoticeDelivery.objects.filter(notice=notice)} == {State.FAILED}
    at_call_time.shift(dt.timedelta(minutes=5))
    assert _deliver() == 0


def test_a_worker_that_dies_mid_send_loses_nothing(
    cast: Cast, coordinators, recorder, at_call_time, settings
):
    notice = _lockout(cast)
    claimed = notice_delivery._claim(clock.now(), 10)  # then the worker dies
    assert len(claimed) == 2
    assert _deliver() == 0  # leased to the dead worker
    at_call_time.shift(dt.timedelta(seconds=settings.DELIVERY_LEASE_SECONDS + 1))
    assert _deliver() == 2
    assert {d.state for d in NoticeDelivery.objects.filter(notice=notice)} == {State.SENT}


# --- what raises notices ------------------------------------------------------------------------


def test_a_second_factor_lockout_reaches_the_channels(cast: Cast, coordinators, recorder):
    for _attempt in range(5):
        with transaction.atomic():
            factors.record_failure(cast.operator, method="totp", reason="wrong")
    _deliver()
    english = sorted(
        m.title.split("] ", 1)[1] for m in recorder.sent if m.target == "coordinator@example.org"
    )
    assert english == [
        "Security notice: Account locked after wrong second-factor codes",
        "Security notice: Password accepted, second factor failed",
    ]
    assert len([m for m in recorder.sent if m.target == "signal://coordinator2"]) == 2


def test_seal_now_and_the_unseal_raise_notices(cast: Cast, coordinators, recorder, sealed_instance):
    sealed_instance.unseal()
    shares = sealed_instance.result.shares
    services_seal.seal_now(actor=cast.coordinator, holder="coordinator")
    for share in shares[:2]:
        services_seal.seal_unseal(actor=None, share_text=share.text(), holder="cli:root")
    raised = list(SecurityNotice.objects.order_by("created_at").values_list("kind", "user"))
    assert raised == [(Kind.SEALED, cast.coordinator.pk), (Kind.UNSEALED, None)]
    _deliver()
    assert len(recorder.sent) == 4  # two notices, two coordinators


def test_a_refused_share_is_audited_and_raises_one_notice_per_window(
    cast: Cast, coordinators, sealed_instance
):
    for attempt in range(3):
        with pytest.raises(share_format.ShareError):
            services_seal.seal_unseal(
                actor=cast.coordinator, share_text=f"refuge-share:junk{attempt}", holder="coord"
            )
    refused = AuditEntry.objects.filter(action="refuge.security.unseal.share_refused")
    assert refused.count() == 3
    assert "junk" not in " ".join(refused.values_list("detail", flat=True))
    assert '"holder":"coord"' in refused.first().detail  # type: ignore[union-attr]
    notices_raised = SecurityNotice.objects.filter(kind=Kind.UNSEAL_SHARE_REFUSED)
    assert [n.user for n in notices_raised] == [cast.coordinator]


def test_a_share_of_another_instance_is_refused_and_noticed(
    cast: Cast, coordinators, sealed_instance
):
    foreign = share_format.split(
        bytes(share_format.UNSEAL_KEY_BYTES), threshold=2, total=3, instance_id="0badf00d"
    )[0]
    with pytest.raises(share_format.ShareError, match="instance"):
        services_seal.seal_unseal(actor=None, share_text=foreign.text(), holder="cli:root")
    assert SecurityNotice.objects.filter(kind=Kind.UNSEAL_SHARE_REFUSED).exists()


def test_notices_are_sent_while_sealed(cast: Cast, coordinators, recorder, sealed_instance):
    services_seal.seal_now(actor=cast.coordinator, holder="coordinator")
    assert _deliver() == 2
    assert len(recorder.sent) == 2


def test_the_reader_says_who_got_what_where(cast: Cast, coordinators, recorder):
    notice = _lockout(cast)
    recorder.fail_kinds.add("signal")
    _deliver()
    shown = {d.recipient: d for d in notices.notice_deliveries([notice])[notice.pk]}
    assert (shown["coordinator"].channel, shown["coordinator"].state) == ("email", "sent")
    assert shown["coordinator"].sent_at is not None
    assert (shown["coordinator2"].channel, shown["coordinator2"].state) == ("signal", "pending")
    assert shown["coordinator2"].attempts == 1
    assert shown["coordinator2"].next_attempt_at is not None
    assert notices.notice_deliveries([]) == {}
    assert notices.notice_deliveries([SecurityNotice(id=uuid.uuid4())]) == {}
