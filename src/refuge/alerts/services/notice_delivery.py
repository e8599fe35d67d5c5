"""Coordinators' security notices on their notification channels.

accounts raises a notice (a lockout, a login from a new place, the seal's state changing, a
refused unseal share) and fires its `notice_raised` hook inside that transaction; this module's
receiver writes one `NoticeDelivery` per active coordinator to the outbox, on the first of their
active channels. `deliver_due_notices`, a tick hook of the worker, sends them the way
`services.delivery` sends an emergency's notifications: claimed with a lease (SKIP LOCKED on
PostgreSQL), sent outside any transaction through the same notifier (Apprise), the result
recorded afterwards, so a worker dying mid-send loses nothing (the message may arrive twice; its
marker shows it). Failed sends are retried with the same backoff, moving to the coordinator's
next channel after two failures on one.

A notice is not an emergency: nothing escalates and no message asks for an acknowledgement.
Retries stop once someone marks the notices as seen (the rest are cancelled), when the
recipient is no longer an active coordinator, or a day after the notice.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q

from refuge.accounts import notices
from refuge.accounts.models import Role, SecurityNotice, User
from refuge.alerts import notice_messages
from refuge.alerts.models import NoticeDelivery, StaffChannel
from refuge.alerts.notifier import Notifier, get_notifier
from refuge.alerts.services import escalation
from refuge.alerts.services.delivery import SEND_THREADS
from refuge.alerts.services.delivery_records import lease, next_try
from refuge.core import clock, jobs

logger = logging.getLogger(__name__)

GIVE_UP_AFTER = dt.timedelta(days=1)
DEFAULT_LIMIT = 50
_ERROR_LIMIT = 500
NO_CHANNEL = "no active channel"


@dataclass(frozen=True)
class Outgoing:
    """One notice message, ready to send: everything the send needs, nothing more."""

    delivery_id: Any
    channel_id: Any
    channel_kind: str
    target: str
    title: str
    body: str
    lease_until: dt.datetime


def on_notice_raised(notice: SecurityNotice) -> None:
    """Receiver of accounts' `notice_raised`: queue the notice for every active coordinator.
    One without an active channel gets a failed row, so the notices page shows the gap."""
    now = clock.now()
    coordinators = User.objects.filter(role=Role.COORDINATOR, is_active=True).order_by("pk")
    for coordinator in coordinators:
        channel = escalation.first_channel(coordinator, ())
        NoticeDelivery.objects.create(
            notice=notice,
            recipient=coordinator,
            channel=channel,
            channel_kind=channel.kind if channel else "",
            state=NoticeDelivery.State.PENDING if channel else NoticeDelivery.State.FAILED,
            last_error="" if channel else NO_CHANNEL,
            next_attempt_at=now,
            created_at=now,
        )


def deliver_due_notices(now: dt.datetime | None = None, limit: int = DEFAULT_LIMIT) -> int:
    """Send up to `limit` due notice messages; return how many were claimed."""
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


def _claim(now: dt.datetime, limit: int) -> list[uuid.UUID]:
    due = NoticeDelivery.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now),
        state=NoticeDelivery.State.PENDING,
        next_attempt_at__lte=now,
    ).order_by("next_attempt_at")
    if not due.exists():
        # The common case, on every tick of the worker: a read only. A transaction here would
        # take SQLite's write lock (BEGIN IMMEDIATE) and wait behind a surge of SOS for nothing.
        return []
    with transaction.atomic():
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        NoticeDelivery.objects.filter(pk__in=ids).update(locked_until=now + lease())
    return ids


def _prepare(ids: Sequence[uuid.UUID], now: dt.datetime) -> list[Outgoing]:
    outgoing: list[Outgoing] = []
    rows = NoticeDelivery.objects.filter(pk__in=list(ids)).select_related(
        "notice", "recipient", "channel"
    )
    for delivery in rows:
        recipient = delivery.recipient
        if delivery.notice.acknowledged_at is not None or not (
            recipient.is_active and recipient.role == Role.COORDINATOR
        ):
            _finish(delivery, NoticeDelivery.State.CANCELLED)
            continue
        if now - delivery.created_at > GIVE_UP_AFTER:
            _finish(delivery, NoticeDelivery.State.FAILED)
            continue
        channel = _usable_channel(delivery)
        if channel is None:
            _record_failure(_outgoing(delivery, None, now), NO_CHANNEL)
            continue
        outgoing.append(_outgoing(delivery, channel, now))
    return outgoing


def _usable_channel(delivery: NoticeDelivery) -> StaffChannel | None:
    if delivery.channel is not None and delivery.channel.active:
        return delivery.channel
    return escalation.first_channel(delivery.recipient, ())


def _outgoing(delivery: NoticeDelivery, channel: StaffChannel | None, now: dt.datetime) -> Outgoing:
    recipient = delivery.recipient
    message = notice_messages.compose(
        kind=delivery.notice.kind,
        notice_id=delivery.notice_id,
        raised_at=delivery.notice.created_at,
        language=recipient.language,
        time_zone=recipient.time_zone,
    )
    return Outgoing(
        delivery_id=delivery.pk,
        channel_id=channel.pk if channel else None,
        channel_kind=channel.kind if channel else "",
        target=channel.target if channel else "",
        title=message.title,
        body=message.body,
        lease_until=delivery.locked_until or now + lease(),
    )


def _send(notifier: Notifier, item: Outgoing) -> tuple[bool, str]:
    """Runs in a sending thread: no database access here."""
    if clock.now() >= item.lease_until:
        return False, ""  # our lease ran out: another worker may have it now
    try:
        notifier.send(
            channel_kind=item.channel_kind, target=item.target, title=item.title, body=item.body
        )
    except Exception as exc:  # noqa: BLE001 - every failure of a channel is recorded and retried
        return False, f"{item.channel_kind}: {jobs.describe_error(exc)}"
    return True, ""


def _record_sent(item: Outgoing) -> None:
    NoticeDelivery.objects.filter(pk=item.delivery_id).update(
        state=NoticeDelivery.State.SENT,
        sent_at=clock.now(),
        channel_id=item.channel_id,
        channel_kind=item.channel_kind,
        attempts=F("attempts") + 1,
        locked_until=None,
        last_error="",
    )


def _record_failure(item: Outgoing, error: str) -> None:
    now = clock.now()
    with transaction.atomic():
        delivery = (
            NoticeDelivery.objects.select_for_update()
            .select_related("recipient")
            .get(pk=item.delivery_id)
        )
        delivery.attempts += 1
        delivery.last_error = error[:_ERROR_LIMIT]
        delivery.locked_until = None
        if item.channel_kind:
            delivery.channel_kind = item.channel_kind
        if delivery.state == NoticeDelivery.State.PENDING:
            _reschedule(delivery, item, now)
        delivery.save(
            update_fields=[
                "attempts",
                "last_error",
                "locked_until",
                "channel",
                "channel_kind",
                "next_attempt_at",
            ]
        )
    logger.warning(
        "notice delivery %s failed (attempt %d): %s",
        item.delivery_id,
        delivery.attempts,
        error[:_ERROR_LIMIT],
    )


def _reschedule(delivery: NoticeDelivery, item: Outgoing, now: dt.datetime) -> None:
    channel, delivery.next_attempt_at = next_try(
        delivery.recipient, delivery.attempts, item.channel_id, now
    )
    if channel is not None:
        delivery.channel = channel


def _finish(delivery: NoticeDelivery, state: str) -> None:
    NoticeDelivery.objects.filter(pk=delivery.pk, state=NoticeDelivery.State.PENDING).update(
        state=state, locked_until=None
    )


def deliveries_of(notice_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[notices.Delivery]]:
    """For the notices page and API (registered with accounts.notices): who each notice was
    sent to, on which kind of channel, and how it went."""
    found: dict[uuid.UUID, list[notices.Delivery]] = {}
    rows = (
        NoticeDelivery.objects.filter(notice_id__in=list(notice_ids))
        .select_related("recipient")
        .order_by("recipient__username")
    )
    kinds = dict(StaffChannel.Kind.choices)
    states = dict(NoticeDelivery.State.choices)
    pending = NoticeDelivery.State.PENDING
    for row in rows:
        found.setdefault(row.notice_id, []).append(
            notices.Delivery(
                recipient=row.recipient.get_username(),
                channel=row.channel_kind,
                channel_label=str(kinds.get(row.channel_kind, row.channel_kind)),
                state=row.state,
                state_label=str(states.get(row.state, row.state)),
                sent_at=row.sent_at,
                next_attempt_at=row.next_attempt_at if row.state == pending else None,
                attempts=row.attempts,
                no_channel=row.last_error == NO_CHANNEL,
            )
        )
    return found
