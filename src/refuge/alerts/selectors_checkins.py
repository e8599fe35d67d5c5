"""Reads of a person's check-in history for staff: the recent check-ins (counted or early).

Call these only with a schedule the actor was allowed to fetch (selectors_emergencies.
checkin_schedule_get): the rows carry no rule of their own, they follow the person. Whether a
check-in was made with the duress PIN is not part of these reads; the duress emergency says so.
"""

from __future__ import annotations

from refuge.alerts.models import Checkin, CheckinSchedule

RECENT_CHECKINS = 10


def checkin_recent(*, schedule: CheckinSchedule, limit: int = RECENT_CHECKINS) -> list[Checkin]:
    """The schedule's latest check-ins, newest first (raw history is kept 30 days)."""
    return list(
        Checkin.objects.filter(schedule=schedule)
        .only("at", "channel", "outcome", "schedule_id")
        .order_by("-at")[:limit]
    )
