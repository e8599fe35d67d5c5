"""The notification outbox's records: what one message carries (`Outgoing`), what its channel
answered (`Result`), and how that is written down, all in one transaction (services.delivery
sends; this records): SENT with an attempt row and an event per notification, or a failure with
its backoff and, after FAILOVER_AFTER failures on one channel, the recipient's next channel.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from refuge.alerts.models import (
    Emergency,
    EmergencyEvent,
    Notification,
    NotificationAttempt,
)
from refuge.alerts.services import escalation
from refuge.core import clock, rows

logger = logging.getLogger(__name__)

BACKOFF_BASE = dt.timedelta(seconds=15)
BACKOFF_MAX = dt.timedelta(minutes=5)
FAILOVER_AFTER = 2
_ERROR_LIMIT = 500


@dataclass(frozen=True)
class Outgoing:
    """One message, ready to send: everything the send needs, nothing more. It carries one
    notification, or several for the same recipient and channel (a bundle)."""

    notification_ids: tuple[Any, ...]
    channel_id: Any
    channel_kind: str
    target: str
    title: str
    body: str
    lease_until: dt.datetime


@dataclass(frozen=True)
class Result:
    item: Outgoing
    sent: bool
    error: str  # empty when not sent because the lease ran out: nothing to record
    finished: float = 0.0  # time.monotonic() when the channel answered


def backoff(attempts: int) -> dt.timedelta:
    """Delay after `attempts` failed tries: 15 s, 30 s, 60 s, ... capped at 5 min."""
    return min(BACKOFF_BASE * (1 << min(max(attempts - 1, 0), 10)), BACKOFF_MAX)


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=int(settings.DELIVERY_LEASE_SECONDS))


def record(results: Sequence[Result]) -> int:
    """Record what the channels answered, all in one transaction. Returns how many
    notifications were recorded."""
    sent = [result.item for result in results if result.sent]
    failed = [result for result in results if not result.sent and result.error]
    if not sent and not failed:
        return 0
    now = clock.now()
    with transaction.atomic():
        _record_sent(sent, now)
        for result in failed:
            _record_failure(result.item, result.error, now)
    return sum(len(item.notification_ids) for item in sent) + sum(
        len(result.item.notification_ids) for result in failed
    )


def _record_sent(items: Sequence[Outgoing], now: dt.datetime) -> None:
    if not items:
        return
    size = {pk: len(item.notification_ids) for item in items for pk in item.notification_ids}
    kinds = {pk: item.channel_kind for item in items for pk in item.notification_ids}
    notifications = list(Notification.objects.filter(pk__in=list(size)).select_related("emergency"))
    rows.insert(
        [
            NotificationAttempt(notification=n, channel_kind=kinds[n.pk], at=now, ok=True)
            for n in notifications
        ]
    )
    Notification.objects.filter(pk__in=list(size)).update(
        state=Notification.State.SENT, sent_at=now, locked_until=None, last_error=""
    )
    Emergency.objects.filter(
        pk__in={n.emergency_id for n in notifications}, first_notified_at__isnull=True
    ).update(first_notified_at=now)
    rows.insert(
        [
            EmergencyEvent(
                emergency=n.emergency,
                kind=EmergencyEvent.Kind.NOTIFICATION_SENT,
                at=now,
                data={
                    **_facts(n, kinds[n.pk]),
                    **({"bundled": size[n.pk]} if size[n.pk] > 1 else {}),
                },
            )
            for n in notifications
        ]
    )


def _record_failure(item: Outgoing, error: str, now: dt.datetime) -> None:
    locked = (
        Notification.objects.select_for_update()
        .select_related("emergency", "recipient")
        .filter(pk__in=list(item.notification_ids))
    )
    for notification in locked:
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
            notification.pk,
            notification.attempts,
            error[:_ERROR_LIMIT],
        )


def _reschedule(notification: Notification, item: Outgoing, now: dt.datetime) -> None:
    channel, notification.next_attempt_at = next_try(
        notification.recipient, notification.attempts, item.channel_id, now
    )
    if channel is not None:
        notification.channel = channel


def next_try(
    recipient: Any, attempts: int, channel_id: Any, now: dt.datetime
) -> tuple[Any, dt.datetime]:
    """After a failed send: the channel to try next (None: keep this one) and when. Backoff on
    the same channel; after FAILOVER_AFTER failures the recipient's next channel, at once. Never
    gives up (the emergency line's notifications and the coordinators' notices alike)."""
    delay = backoff(attempts)
    following = None
    if attempts % FAILOVER_AFTER == 0:
        channels = escalation.channels_of(recipient)
        ids = [c.pk for c in channels]
        if ids:
            position = ids.index(channel_id) if channel_id in ids else -1
            following = channels[(position + 1) % len(channels)]
            if following.pk != channel_id:
                delay = dt.timedelta(0)  # another channel: try it at once
    return following, now + delay


def give_up(notification: Notification, *, cancelled: bool) -> None:
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
