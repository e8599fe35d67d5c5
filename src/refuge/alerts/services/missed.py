"""Missed check-ins: the worker's tick raises an alert for every schedule whose deadline and
grace have passed, and moves the schedule on to its next deadline.

Work is proportional to what is due (partial indexes on alert_at and paused_until); a tick with
nothing due reads two indexes and takes no write lock. Due schedules are claimed in chunks (SKIP
LOCKED on PostgreSQL, so any number of workers share them and none is alerted twice) and each
chunk is raised in bulk (alerts.services.surge): a thousand check-ins missed in the same minute
cost a few transactions, not a thousand. A chunk that fails is raised again one schedule at a
time, so one bad row never blocks the others.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from refuge.alerts import deadlines
from refuge.alerts.models import CheckinSchedule, EmergencySource, Priority
from refuge.alerts.services import checkin_schedules, surge
from refuge.core import clock, jobs
from refuge.security import audit

logger = logging.getLogger(__name__)

# Claims of due schedules are committed in chunks: short transactions let other workers (and
# the audit chain's lock) interleave, and a crash loses at most one chunk's work, redone later.
CHUNK = 250
# Schedules one call raises at most (the rest fire on the next call).
LIMIT = 1000


def dedupe_key(schedule_id: Any, deadline: dt.datetime) -> str:
    """The dedupe key of the alert a missed `deadline` raises: one alert per deadline."""
    return f"missed:{schedule_id}:{deadline.astimezone(dt.UTC).isoformat()}"


def detect(now: dt.datetime | None = None, limit: int = LIMIT) -> int:
    """Raise an alert for every schedule whose deadline + grace has passed, then move it on to
    its next deadline. Claims rows with SKIP LOCKED on PostgreSQL, so any number of workers share
    the work and none is alerted twice. Returns how many schedules fired."""
    now = now or clock.now()
    if CheckinSchedule.objects.filter(paused=True, paused_until__lte=now).exists():
        _resume_expired_pauses(now, limit)
    if not CheckinSchedule.objects.filter(paused=False, alert_at__lte=now).exists():
        return 0  # the common case: no write transaction (on SQLite, no write lock) for nothing
    fired = 0
    failed: set[Any] = set()
    while fired < limit:
        size = min(CHUNK, limit - fired)
        claimed = _fire_chunk(now, size, failed)
        fired += claimed
        if claimed < size:
            break
    return fired - len(failed)


def _claim(queryset: Any) -> Any:
    if connection.vendor == "postgresql":
        return queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset  # SQLite: BEGIN IMMEDIATE already gave this (single) worker the write lock


def _fire_chunk(now: dt.datetime, size: int, failed: set[Any]) -> int:
    with transaction.atomic():
        due = (
            CheckinSchedule.objects.filter(paused=False, alert_at__lte=now)
            .exclude(pk__in=failed)
            .select_related("person")
            .order_by("alert_at")
        )
        schedules = list(_claim(due)[:size])
        try:
            with transaction.atomic():
                _fire_all(schedules, now)
        except Exception as exc:  # noqa: BLE001 - one bad row must not block the others
            problem = jobs.describe_error(exc)
            logger.warning("%d missed check-ins raised one by one: %s", len(schedules), problem)
            for schedule in schedules:
                try:
                    with transaction.atomic():
                        _fire_all([schedule], now)
                except Exception as exc:  # noqa: BLE001 - one bad row must not block the others
                    failed.add(schedule.pk)
                    logger.warning(
                        "missed check-in of schedule %s not raised: %s",
                        schedule.pk,
                        jobs.describe_error(exc),
                    )
    return len(schedules)


@dataclass(frozen=True)
class _Miss:
    schedule: CheckinSchedule
    deadline: dt.datetime  # the deadline that was missed
    alert_at: dt.datetime
    late: bool


def _miss(schedule: CheckinSchedule, now: dt.datetime) -> _Miss:
    grace = dt.timedelta(minutes=schedule.grace_minutes)
    alert_at = schedule.alert_at or now
    return _Miss(
        schedule=schedule,
        deadline=schedule.next_deadline or alert_at - grace,
        alert_at=alert_at,
        late=now - alert_at > dt.timedelta(seconds=2 * settings.WORKER_POLL_SECONDS),
    )


def _fire_all(schedules: list[CheckinSchedule], now: dt.datetime) -> None:
    """Raise the missed check-ins of `schedules` together and move each to its next deadline."""
    misses = [_miss(schedule, now) for schedule in schedules]
    surge.raise_alerts(
        [
            surge.AlertSpec(
                source=EmergencySource.MISSED_CHECKIN,
                person=miss.schedule.person,
                priority=Priority.HIGH,
                reported_at=miss.alert_at,
                late=miss.late,
                dedupe_key=dedupe_key(miss.schedule.pk, miss.deadline),
            )
            for miss in misses
        ]
    )
    for miss in misses:
        schedule = miss.schedule
        schedule.missed_deadline = miss.deadline  # a later check-in shows on the emergency
        grace = dt.timedelta(minutes=schedule.grace_minutes)
        checkin_schedules.set_deadline(
            schedule,
            deadlines.deadline_after_miss(
                checkin_schedules.rule_of(schedule), missed=miss.deadline, grace=grace, now=now
            ),
        )
    # One UPDATE per distinct missed and new deadline (a surge of one daily time shares one),
    # never bulk_update's CASE per row.
    moved: dict[tuple[Any, ...], list[Any]] = {}
    for schedule in schedules:
        key = (schedule.missed_deadline, schedule.next_deadline, schedule.alert_at)
        moved.setdefault(key, []).append(schedule.pk)
    for (missed_deadline, next_deadline, alert_at), pks in moved.items():
        CheckinSchedule.objects.filter(pk__in=pks).update(
            missed_deadline=missed_deadline,
            next_deadline=next_deadline,
            alert_at=alert_at,
            updated_at=now,
        )
    audit.record_many(
        [
            audit.Entry(
                "refuge.alerts.checkin.missed",
                obj=miss.schedule,
                detail={"deadline": miss.deadline.isoformat(), "late": miss.late},
            )
            for miss in misses
        ]
    )


def _resume_expired_pauses(now: dt.datetime, limit: int) -> None:
    with transaction.atomic():
        expired = CheckinSchedule.objects.filter(paused=True, paused_until__lte=now)
        for schedule in _claim(expired)[:limit]:
            checkin_schedules.resume(schedule, now)
            audit.record(
                "refuge.alerts.schedule.resumed", actor=None, obj=schedule, detail={"auto": True}
            )
