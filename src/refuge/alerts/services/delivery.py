"""Delivering the notification outbox: at least once, never lost, retried until acknowledged.

`deliver_due` claims due PENDING notifications (SKIP LOCKED on PostgreSQL) by setting a lease
(`locked_until`), commits, hands the messages to a pool of sending threads OUTSIDE any database
transaction, and records each result once the channel has answered. A worker that dies between
sending and recording loses nothing: its lease runs out and the notification is sent again, so a
message may arrive twice on the same channel (the "[E-7F3Q #1a2b3c4d]" marker shows it is a
repeat) but is never lost. (Healthchecks marks an alert handled before sending it; a crash
mid-send loses it. This does the opposite.)

A tick waits for its own sends only up to SETTLE_SECONDS: a channel that hangs (a messenger API
that does not answer) must not hold back the next emergency's messages. Sends still running are
recorded by a later tick; the sending thread wakes the worker when it finishes.

Notifications due at once for one recipient on one channel go out as one message
(`messages.compose_bundle`, up to the channel kind's limit); each keeps its own record, attempt
log and event.

A failed send is recorded (NotificationAttempt, NOTIFICATION_FAILED event; the error names the
exception type, never the target or text) and retried with exponential backoff from 15 s up to
5 min. After two failures on one channel the next try goes to the recipient's next active
channel, round the list. Retries never stop while the emergency is unacknowledged: an
acknowledgement or resolution cancels the pending notifications.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from contextlib import contextmanager
from typing import Any

from django.db import OperationalError, connection, transaction
from django.db.models import Q

from refuge.alerts import messages
from refuge.alerts.models import (
    EmergencyState,
    Notification,
    StaffChannel,
)
from refuge.alerts.notifier import Notifier, get_notifier
from refuge.alerts.services import delivery_records, escalation
from refuge.alerts.services.delivery_records import (
    Outgoing,
    Result,
    lease,
)
from refuge.core import clock, jobs, wakeup

logger = logging.getLogger(__name__)

SEND_THREADS = 8
DEFAULT_LIMIT = 200
SETTLE_SECONDS = 1.0
# The one SQLite worker records a finished send only if the database is free this soon ...
RECORD_WAIT_MS = 20
# ... unless a result has waited this long already (seconds).
RECORD_AT_LATEST = 5.0


def next_attempt() -> dt.datetime | None:
    """When the next pending notification may be tried (its lease counts: a notification
    another worker is sending is not due before the lease ends)."""
    row = (
        Notification.objects.filter(state=Notification.State.PENDING)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", "locked_until")
        .first()
    )
    if row is None:
        return None
    next_at, locked_until = row
    return max(next_at, locked_until) if locked_until else next_at


# --- sends in flight ------------------------------------------------------------------------------

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_in_flight: dict[Future[Result], Outgoing] = {}
# Sends that finished but are not recorded yet: SQLite's one writer was busy (a burst of SOS
# being written), and the worker does not wait for it before claiming the next messages.
_unrecorded: list[Result] = []


def _executor() -> ThreadPoolExecutor:
    global _pool  # noqa: PLW0603 - one pool of sending threads per process, made on first use
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix="send")
        return _pool


def _submit(notifier: Notifier, item: Outgoing) -> Future[Result]:
    future = _executor().submit(_send, notifier, item)
    with _pool_lock:
        _in_flight[future] = item
    # Record the result soon, not at the next poll: wake the worker loop of this process.
    future.add_done_callback(lambda _future: wakeup.wake_this_process())
    return future


def _take_finished_locked() -> list[Result]:
    finished = [future for future in _in_flight if future.done()]
    for future in finished:
        del _in_flight[future]
    return [future.result() for future in finished]


def _sending_ids() -> list[Any]:
    with _pool_lock:
        items = [*_in_flight.values(), *(result.item for result in _unrecorded)]
    return [pk for item in items for pk in item.notification_ids]


def in_flight() -> int:
    with _pool_lock:
        return len(_in_flight)


def drain(timeout: float) -> int:
    """Wait up to `timeout` seconds for the sends still running and record them (the worker's
    stop). What does not finish is sent again after its lease, by whichever worker is next."""
    with _pool_lock:
        running = list(_in_flight)
    wait_for_futures(running, timeout=timeout)
    return _record_finished(wait=True)


# --- one tick -------------------------------------------------------------------------------------


def deliver_tick(now: dt.datetime) -> int:
    """The worker's tick: sends that take longer than SETTLE_SECONDS finish in the background."""
    return deliver_due(now, settle=SETTLE_SECONDS)


def deliver_due(
    now: dt.datetime | None = None, limit: int = DEFAULT_LIMIT, settle: float | None = None
) -> int:
    """Claim and send up to `limit` due notifications, record the sends that finished (these
    and earlier ones), waiting up to `settle` seconds for the channels to answer (None: until
    every one has answered or timed out). Returns how many were claimed.

    Sending comes before recording: in a surge the next messages go out while the previous
    ones' results are written, instead of after (a finished send that is not recorded yet is
    never claimed again: `_claim` leaves out what this process is still sending or holding).
    For the same reason a tick that claimed a full batch (`limit`: more may be due) does not
    wait for its channels: the next tick, at once, sends the next batch and then records
    this one. A lone page is waited for and recorded in its own tick, as before."""
    now = now or clock.now()
    claimed = _claim(now, limit)
    futures: list[Future[Result]] = []
    if claimed:
        outgoing = _prepare(claimed, now)
        notifier = get_notifier()
        futures = [_submit(notifier, item) for item in outgoing]
    _record_finished(wait=False)
    more_due = len(claimed) >= limit and settle is not None
    if futures and not more_due:
        wait_for_futures(futures, timeout=settle)
        _record_finished(wait=False)
    return len(claimed)


def _claim(now: dt.datetime, limit: int) -> list[Any]:
    due = Notification.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now),
        state=Notification.State.PENDING,
        next_attempt_at__lte=now,
    )
    sending = _sending_ids()
    if sending:
        # Still being sent by this process past its lease (a slow channel): not again from
        # here. Another worker may take it once the lease is out: at least once, as promised.
        due = due.exclude(pk__in=sending)
    if not due.exists():
        return []  # the common case: no write transaction (on SQLite, no write lock)
    if wakeup.sole_sqlite_worker():
        # The one worker of a SQLite database needs no lease written before it sends: no
        # other worker can claim, and the sends it has not recorded are excluded above. So
        # it never waits for SQLite's one writer (busy with a burst of SOS) to page. After a
        # crash the next worker sends them again at once: at least once, as everywhere.
        ordered = due.order_by("-emergency__priority", "next_attempt_at")
        return list(ordered.values_list("pk", flat=True)[:limit])
    with transaction.atomic():
        # Most urgent first: in a surge a top-priority page never waits behind older ones.
        ordered = due.order_by("-emergency__priority", "next_attempt_at")
        if connection.vendor == "postgresql":
            ordered = ordered.select_for_update(skip_locked=True, of=("self",))
        ids = list(ordered.values_list("pk", flat=True)[:limit])
        Notification.objects.filter(pk__in=ids).update(locked_until=now + lease())
    return ids


def _prepare(ids: Iterable[Any], now: dt.datetime) -> list[Outgoing]:
    """Build the messages of claimed notifications, one per recipient and channel (bundled up
    to the channel kind's limit). Ones nobody needs any more (the emergency was acknowledged or
    resolved meanwhile) are cancelled instead."""
    claimed = (
        Notification.objects.filter(pk__in=list(ids))
        .select_related("emergency", "emergency__caller", "recipient", "channel")
        .prefetch_related("emergency__people")
        .order_by("next_attempt_at", "created_at")
    )
    channels_cache: dict[Any, list[StaffChannel]] = {}
    groups: dict[tuple[Any, ...], list[Notification]] = defaultdict(list)
    targets: dict[tuple[Any, ...], StaffChannel | None] = {}
    for notification in claimed:
        emergency = notification.emergency
        if emergency.state != EmergencyState.OPEN or not notification.recipient.is_active:
            # Acknowledged or resolved meanwhile: cancelled; recipient's account closed: failed.
            delivery_records.give_up(notification, cancelled=emergency.state != EmergencyState.OPEN)
            continue
        channel = _usable_channel(notification, channels_cache)
        if channel is None:
            key: tuple[Any, ...] = ("alone", notification.pk)
        elif channel.kind in messages.BUNDLE_LIMITS:
            key = ("bundle", notification.recipient_id, channel.pk)
        else:
            key = ("alone", notification.pk)
        groups[key].append(notification)
        targets[key] = channel
    outgoing: list[Outgoing] = []
    for key, members in groups.items():
        channel = targets[key]
        if channel is None:
            # A recipient with no active channel: a failed attempt, retried like any other.
            item = _outgoing(members, None, now)
            delivery_records.record([Result(item, sent=False, error="no active channel")])
            continue
        limit = messages.BUNDLE_LIMITS.get(channel.kind, 1)
        outgoing.extend(
            _outgoing(members[start : start + limit], channel, now)
            for start in range(0, len(members), limit)
        )
    return outgoing


def _item(notification: Notification) -> messages.Item:
    emergency = notification.emergency
    pseudonyms = sorted({p.pseudonym for p in emergency.people.all()})
    if emergency.caller is not None and emergency.caller.pseudonym not in pseudonyms:
        pseudonyms.append(emergency.caller.pseudonym)
    return messages.Item(
        code=emergency.code,
        source=emergency.source,
        priority=emergency.priority,
        pseudonyms=pseudonyms,
        notification_id=notification.pk,
        token=escalation.ack_token(notification.pk),
    )


def _outgoing(
    notifications: Sequence[Notification], channel: StaffChannel | None, now: dt.datetime
) -> Outgoing:
    first = notifications[0]
    message = messages.compose_bundle(
        [_item(n) for n in notifications], language=first.recipient.language
    )
    leases = [n.locked_until or now + lease() for n in notifications]
    return Outgoing(
        notification_ids=tuple(n.pk for n in notifications),
        channel_id=channel.pk if channel else None,
        channel_kind=channel.kind if channel else "",
        target=channel.target if channel else "",
        title=message.title,
        body=message.body,
        lease_until=min(leases),
    )


def _usable_channel(
    notification: Notification, cache: dict[Any, list[StaffChannel]]
) -> StaffChannel | None:
    channel = notification.channel
    if channel is not None and channel.active:
        return channel
    if notification.recipient_id not in cache:
        cache[notification.recipient_id] = escalation.channels_of(notification.recipient)
    channels = cache[notification.recipient_id]
    return channels[0] if channels else None


def _send(notifier: Notifier, item: Outgoing) -> Result:
    """Runs in a sending thread: no database access here."""
    if clock.now() >= item.lease_until:
        return Result(item, sent=False, error="")  # our lease ran out: another worker may send
    try:
        notifier.send(
            channel_kind=item.channel_kind, target=item.target, title=item.title, body=item.body
        )
    except Exception as exc:  # noqa: BLE001 - every failure of a channel is recorded and retried
        error = f"{item.channel_kind}: {jobs.describe_error(exc)}"
        return Result(item, sent=False, error=error, finished=time.monotonic())
    return Result(item, sent=True, error="", finished=time.monotonic())


# --- recording results ----------------------------------------------------------------------------


def _record_finished(*, wait: bool) -> int:
    """Record the sends that finished. The one worker of a SQLite database records only if the
    database is free within RECORD_WAIT_MS; otherwise it keeps the results (their notifications
    are not claimed again meanwhile) and tries at its next tick, waiting as long as it takes
    once the oldest is RECORD_AT_LATEST old."""
    with _pool_lock:
        results, _unrecorded[:] = [*_unrecorded, *_take_finished_locked()], []
    if not results:
        return 0
    oldest = min((r.finished for r in results if r.finished), default=time.monotonic())
    if wait or not wakeup.sole_sqlite_worker() or time.monotonic() - oldest > RECORD_AT_LATEST:
        return delivery_records.record(results)
    try:
        with _short_busy_timeout():
            return delivery_records.record(results)
    except OperationalError:
        with _pool_lock:
            _unrecorded[:0] = results
        return 0


@contextmanager
def _short_busy_timeout() -> Iterator[None]:
    """SQLite only: wait RECORD_WAIT_MS for the writer's turn and lock (refuge.core.sqlite)
    instead of the full timeout."""
    if connection.vendor != "sqlite":
        yield
        return
    connection.ensure_connection()
    raw = connection.connection
    full = int(float(connection.settings_dict["OPTIONS"].get("timeout", 5)) * 1000)
    raw.execute(f"PRAGMA busy_timeout = {RECORD_WAIT_MS}")
    connection.turn_wait = RECORD_WAIT_MS / 1000  # type: ignore[attr-defined]
    try:
        yield
    finally:
        connection.turn_wait = None  # type: ignore[attr-defined]
        raw.execute(f"PRAGMA busy_timeout = {full}")
