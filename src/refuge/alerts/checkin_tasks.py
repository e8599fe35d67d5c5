"""Worker entry points of the check-ins (registered on import, from AppConfig.ready()).

- Every tick, first: the duress alarms not raised yet (`checkins.raise_duress_alarms`: one read
  of a partial index that is empty almost always; a duress check-in's signal makes the worker
  tick at once).
- Every tick: missed check-ins (`checkins_detect_missed`). Its work is proportional to what is
  due (an indexed range on alert_at), and several workers share it safely (SKIP LOCKED). On
  PostgreSQL a tick raises one chunk and goes on to the outbox, then ticks again at once: in a
  surge one worker pages the first chunk while another raises the next. SQLite's one worker
  raises everything due first (up to missed.LIMIT), as interleaving alone only adds ticks.
- Daily: raw check-in history and inbound message ids past their retention are deleted.
- Every minute: the per-address windows of the protected people's pages that have passed are
  deleted (source_windows; a new window's first row also deletes them).
"""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.db.models import Min

from refuge.alerts.models import CheckinSchedule
from refuge.alerts.services import checkins, missed, source_windows
from refuge.core import jobs

DURESS_TICK = "alerts.duress_alarms"
MISSED_TICK = "alerts.checkins_missed"
PURGE_JOB = "alerts.checkins_purge"
SOURCE_WINDOWS_JOB = "alerts.source_windows_purge"


def detect_missed(now: dt.datetime) -> int:
    return checkins.checkins_detect_missed(now, limit=missed_per_tick())


def missed_per_tick() -> int:
    """One chunk where several workers share the surge (PostgreSQL), all of it where one
    worker does it all (see the module's docstring; bench/README.md has the figures)."""
    return missed.CHUNK if connection.vendor == "postgresql" else missed.LIMIT


def next_missed_due() -> dt.datetime | None:
    """The next moment a missed check-in fires or a pause ends: two reads of partial indexes."""
    first_alert = CheckinSchedule.objects.filter(paused=False).aggregate(at=Min("alert_at"))["at"]
    first_resume = CheckinSchedule.objects.filter(paused=True).aggregate(at=Min("paused_until"))[
        "at"
    ]
    times = [t for t in (first_alert, first_resume) if t is not None]
    return min(times) if times else None


@jobs.register(PURGE_JOB)
def checkins_purge(payload: jobs.Payload) -> None:
    del payload
    checkins.checkins_purge()


@jobs.register(SOURCE_WINDOWS_JOB)
def source_windows_purge(payload: jobs.Payload) -> None:
    del payload
    source_windows.purge()


jobs.register_tick(DURESS_TICK, checkins.raise_duress_alarms)
jobs.register_tick(MISSED_TICK, detect_missed, next_due=next_missed_due)
jobs.register_periodic(PURGE_JOB, every=dt.timedelta(days=1))
jobs.register_periodic(SOURCE_WINDOWS_JOB, every=dt.timedelta(minutes=1))
