"""Reads of a person's check-in history for staff: the recent check-ins (counted, early, or
refused while locked), the schedule's locks and unlocks (from the audit log), and how often SOS
was pressed for an emergency.

Call these only with a schedule the actor was allowed to fetch (selectors_emergencies.
checkin_schedule_get): the rows carry no rule of their own, they follow the person. Whether a
check-in was made with the duress PIN is not part of these reads; the duress emergency says so.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from refuge.alerts.models import Alert, Checkin, CheckinSchedule, Emergency, EmergencySource
from refuge.security.models import AuditEntry

RECENT_CHECKINS = 10
LOCK_EVENTS = 5
LOCKED = "refuge.alerts.schedule.locked"
UNLOCKED = "refuge.alerts.schedule.unlocked"


def checkin_recent(*, schedule: CheckinSchedule, limit: int = RECENT_CHECKINS) -> list[Checkin]:
    """The schedule's latest check-ins, newest first (raw history is kept 30 days)."""
    return list(
        Checkin.objects.filter(schedule=schedule)
        .only("at", "channel", "outcome", "schedule_id")
        .order_by("-at")[:limit]
    )


@dataclass(frozen=True)
class LockEvent:
    """A lock (by wrong PINs) or an unlock (by a staff member) of the schedule's check-ins."""

    at: dt.datetime
    locked: bool
    by: str  # the username, or "system" for a lock
    failures: int | None
    emergency: str  # the code of the emergency holding the reason of an unlock


def lock_history(*, schedule: CheckinSchedule, limit: int = LOCK_EVENTS) -> list[LockEvent]:
    """The schedule's latest locks and unlocks, newest first."""
    entries = AuditEntry.objects.filter(
        object_type=f"{CheckinSchedule._meta.app_label}.{CheckinSchedule._meta.model_name}",
        object_id=str(schedule.pk),
        action__in=(LOCKED, UNLOCKED),
    ).order_by("-seq")[:limit]
    events = []
    for entry in entries:
        detail = json.loads(entry.detail or "{}")
        failures = detail.get("failures")
        events.append(
            LockEvent(
                at=entry.occurred_at,
                locked=entry.action == LOCKED,
                by=entry.actor_label,
                failures=failures if isinstance(failures, int) else None,
                emergency=str(detail.get("emergency") or ""),
            )
        )
    return events


def sos_presses(*, emergency: Emergency) -> int:
    """How often SOS was pressed for an emergency: its SOS alerts and the repeats counted on
    them (services.sos). Call with an emergency the actor was allowed to fetch."""
    repeats = Alert.objects.filter(
        emergency=emergency, source__in=(EmergencySource.SOS, EmergencySource.SOS_FLOOD)
    ).values_list("repeats", flat=True)
    return sum(1 + count for count in repeats)
