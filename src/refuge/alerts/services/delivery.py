"""Delivering the notification outbox: at least once, never lost, retried until acknowledged.

`deliver_due` claims due PENDING notifications (SKIP LOCKED on PostgreSQL) by setting a lease
(`locked_until`), commits, sends each one OUTSIDE any database transaction, and only then records
the result. A worker that dies between sending and recording loses nothing: its lease runs out
and the notification is sent again, so a message may arrive twice on the same channel (the
"[E-7F3Q #1a2b3c4d]" marker shows it is a repeat) but is never lost. (Healthchecks marks an alert
handled before sending it; a crash mid-send loses it. This does the opposite.)

A failed send is recorded (NotificationAttempt, NOTIFICATION_FAILED event; the error names the
exception type, never the target or text) and retried with exponential backoff from 15 s up to
5 min. After two failures on one channel the next try goes to the recipient's next active
channel, round the list. Retries never stop while the emergency is unacknowledged: an
acknowledgement or resolution cancels the pending notifications.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from refuge.alerts import messages
from refuge.alerts.models import (
    Emergency,
    EmergencyEvent,
    EmergencyState,
    Notification,
    NotificationAttempt,
    StaffChannel,
)
from refuge.alerts.notifier import Notifier, get_notifier
from refuge.alerts.services import escalation
from refuge.core import clock, jobs

logger = logging.getLogger(__name__)

BACKOFF_BASE = dt.timedelta(seconds=15)
BACKOFF_MAX = dt.timedelta(minutes=5)
FAILOVER_AFTER = 2
SEND_THREADS = 8
DEFAULT_LIMIT = 50
_ERROR_LIMIT = 500


@dataclass(frozen=True)
class Outgoing:
    """One claimed notification, ready to send: everything the send needs, nothing more."""

    notification_id: Any
    channel_id: Any
    channel_kind: str
    target: str
    title: str
    body: str
    lease_until: dt.datetime


def backoff(attempts: int) -> dt.timedelta:
    """Delay after `attempts` failed tries: 15 s, 30 s, 60 s, ... capped at 5 min."""
    return min(BACKOFF_BASE * (1 << min(max(attempts - 1, 0), 10)), BACKOFF_MAX)


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=int(settings.DELIVERY_LEASE_SECONDS))


def deliver_due(now: dt.datetime | None = None, limit: int = DEFAULT_LIMIT) -> int:
    """Send up to `limit` due notifications; return how many were claimed."""
    now = now or clock.now()
    claimed = _claim(now, limit)
    if not claimed:
        return 0
    outgoing = _prepare(claimed, now)
    notifier = get_notifier()
    with ThreadPoolExecutor(max_workers=min(SEND_THREADS, max(1, len(outgoing)))) as pool:
        futures = {pool.submit(_send, notifier, item): item for item in outgoing}
        for future in as_completed(futures):
            item = futures[future]
            sent, error = future.result()
            if sent:
                _record_sent(item)
            elif error:
                _record_failure(item, error)
    return len(claimed)


def _claim(now: dt.datetime, limit: int) -> list[Any]:
    with transaction.atomic():
        due = Notification.objects.filter(
            Q(locked_until__isnull=True) | Q(locked_until__lte=now),
            state=Notification.State.PENDING,
            next_attempt_at__lte=now,
        ).order_by("next_attempt_at")
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        Notification.objects.filter(pk__in=ids).update(locked_until=now + lease())
    return ids


def _prepare(ids: Iterable[Any], now: dt.datetime) -> list[Outgoing]:
    """Build the messages of claimed notifications. Ones nobody needs any more (the emergency
    was acknowledged or resolved meanwhile) are cancelled instead."""
    outgoing: list[Outgoing] = []
    rows = (
        Notification.objects.filter(pk__in=list(ids))
        .select_related("emergency", "emergency__caller", "recipient", "channel")
        .prefetch_related("emergency__people")
    )
    for notification in rows:
        emergency = notification.emergency
        if emergency.state != EmergencyState.OPEN or not notification.recipient.is_active:
            # Acknowledged or resolved meanwhile: cancelled; recipient's account closed: failed.
            _give_up(notification, cancelled=emergency.state != EmergencyState.OPEN)
            continue
        channel = _usable_channel(notification)
        if channel is None:
            _record_failure(_outgoing(notification, None, now), "no active channel")
            continue
        outgoing.append(_outgoing(notification, channel, now))
    return outgoing


def _outgoing(
    notification: Notification, channel: StaffChannel | None, now: dt.datetime
) -> Outgoing:
    emergency = notification.emergency
    pseudonyms = sorted({p.pseudonym for p in emergency.people.all()})
    if emergency.caller is not None and emergency.caller.pseudonym not in pseudonyms:
        pseudonyms.append(emergency.caller.pseudonym)
    message = messages.compose(
        code=emergency.code,
        source=emergency.source,
        priority=emergency.priority,
        pseudonyms=pseudonyms,
        notification_id=notification.pk,
        token=escalation.ack_token(notification.pk),
        language=notification.recipient.language,
    )
    return Outgoing(
        notification_id=notification.pk,
        channel_id=channel.pk if channel else None,
        channel_kind=channel.kind if channel else "",
        target=channel.target if channel else "",
        title=message.title,
        body=message.body,
        lease_until=notification.locked_until or now + lease(),
    )


def _usable_channel(notification: Notification) -> StaffChannel | None:
    channel = notification.channel
    if channel is not None and channel.active:
        return channel
    channels = escalation.channels_of(notification.recipient)
    return channels[0] if channels else None


def _send(notifier: Notifier, item: Outgoing) -> tuple[bool, str]:
    """Runs in a sending thread: no database access here."""
    if clock.now() >= item.lease_until:
        return False, ""  # our lease ran out: another worker may have it now; leave it
    try:
        notifier.send(
            channel_kind=item.channel_kind, target=item.target, title=item.title, body=item.body
        )
    except Exception as exc:  # noqa: BLE001 - every failure of a channel is recorded and retried
        return False, f"{item.channel_kind}: {jobs.describe_error(exc)}"
    return True, ""


def _record_sent(item: Outgoing) -> None:
    now = clock.now()
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update()
            .select_related("emergency")
            .get(pk=item.notification_id)
        )
        NotificationAttempt.objects.create(
            notification=notification, channel_kind=item.channel_kind, at=now, ok=True
        )
        notification.state = Notification.State.SENT
        notification.sent_at = now
        notification.locked_until = None
        notification.last_error = ""
        notification.save(update_fields=["state", "sent_at", "locked_until", "last_error"])
        Emergency.objects.filter(
            pk=notification.emergency_id, first_notified_at__isnull=True
        ).update(first_notified_at=now)
        escalation.event(
            notification.emergency,
            EmergencyEvent.Kind.NOTIFICATION_SENT,
            at=now,
            data=_facts(notification, item.channel_kind),
        )


def _record_failure(item: Outgoing, error: str) -> None:
    now = clock.now()
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update()
            .select_related("emergency", "recipient")
            .get(pk=item.notification_id)
        )
        NotificationAttempt.objects.create(
            notification=notification,
            channel_kind=item.channel_kind,
            at=now,
            ok=False,
            error=error[:_ERROR_LIMIT],
        )
        notification.attempts += 1
        notification.last_error = error[:_ERROR_LIMIT]
        notification.locked_until = None
        if notification.state == Notification.State.PENDING:
            _reschedule(notification, item, now)
        notification.save(
            update_fields=[
                "attempts",
                "last_error",
                "locked_until",
                "state",
                "channel",
                "next_attempt_at",
            ]
        )
        escalation.event(
            notification.emergency,
            EmergencyEvent.Kind.NOTIFICATION_FAILED,
            at=now,
            data={
                **_facts(notification, item.channel_kind),
                "attempt": notification.attempts,
                "next_attempt_at": notification.next_attempt_at.isoformat(),
            },
        )
    logger.warning(
        "notification %s failed (attempt %d): %s",
        item.notification_id,
        notification.attempts,
        error[:_ERROR_LIMIT],
    )


def _reschedule(notification: Notification, item: Outgoing, now: dt.datetime) -> None:
    """Retry later, on the next channel after FAILOVER_AFTER failures on this one. Never gives
    up while the emergency is open and the recipient active."""
    delay = backoff(notification.attempts)
    if notification.attempts % FAILOVER_AFTER == 0:
        channels = escalation.channels_of(notification.recipient)
        ids = [c.pk for c in channels]
        if ids:
            position = ids.index(item.channel_id) if item.channel_id in ids else -1
            following = channels[(position + 1) % len(channels)]
            if following.pk != item.channel_id:
                delay = dt.timedelta(0)  # another channel: try it at once
            notification.channel = following
    notification.next_attempt_at = now + delay


def _give_up(notification: Notification, *, cancelled: bool) -> None:
    """Nobody needs this message any more: the emergency was acknowledged, resolved, or the
    recipient's account was closed."""
    Notification.objects.filter(pk=notification.pk, state=Notification.State.PENDING).update(
        state=Notification.State.CANCELLED if cancelled else Notification.State.FAILED,
        locked_until=None,
    )


def _facts(notification: Notification, channel_kind: str) -> dict[str, Any]:
    return {
        "notification": str(notification.pk),
        "recipient": str(notification.recipient_id),
        "channel": channel_kind,
        "step": notification.step,
        "round": notification.round,
    }
