"""Missed check-ins: how late the worker's tick raises them, and what one tick costs.

`scale.schedules` people get a check-in schedule each (bench.alertdata), every alert_at 1 to 25
hours away. Then:

1. Idle ticks: `checkins_detect_missed` is timed `scale.idle_ticks` times with nothing due. With
   the index on (paused, alert_at) this is one empty range read, whatever the number of
   schedules; a tick that scanned them would show here.
2. `scale.missed_due` of the schedules (spread through the table) are moved, in one bulk update,
   to alert_at times evenly spread over the next `scale.missed_spread_s` seconds.
3. Ticks run as `refuge worker` runs them: after each tick the loop sleeps until the next due
   alert_at (`checkin_tasks.next_missed_due`, the worker's timer), at most the poll
   (`scale.tick_every_s`, REFUGE_WORKER_POLL_SECONDS' default of 2 s), until every one of them
   has fired or a time limit passes. Each tick is timed.

The lag of a schedule is the time from its alert_at to the creation of its Alert row. The row is
written in the same transaction that opens the person's emergency, whose opened_at is the
row's creation time (Alert has no timestamp of its own; raised_at is the alert_at itself). The
lag therefore includes waking at the deadline (a timer, not a poll), the tick's work before this
row, and nothing else. The time at which the tick that fired it returned (when a reader of the
database sees it at the latest) is kept as well, in the context.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable

from bench import alertdata
from bench.caselist import BenchmarkError
from bench.scale import Scale
from bench.stats import Metric, context, metric, p50, p99
from refuge.alerts.models import Alert, CheckinSchedule, EmergencySource
from refuge.alerts.services import checkins
from refuge.core import clock

Progress = Callable[[str], None]
LEAD_S = 1.0  # the first due alert_at is this far after the bulk update
LIMIT_AFTER_S = 60.0  # ticks stop this long after the last alert_at even if some never fired


def _tick() -> tuple[int, float]:
    started = time.perf_counter()
    fired = checkins.checkins_detect_missed()
    return fired, (time.perf_counter() - started) * 1000


def _until_next_due(poll_s: float) -> float:
    """What the worker sleeps after a tick: until the next alert_at, at most the poll."""
    from refuge.alerts import checkin_tasks

    due = checkin_tasks.next_missed_due()
    if due is None:
        return poll_s
    return min(poll_s, max(0.0, (due - clock.now()).total_seconds()))


def _ms(delta: dt.timedelta) -> float:
    return delta.total_seconds() * 1000


def measure(scale: Scale, progress: Progress = print) -> list[Metric]:
    if scale.schedules < 2 * scale.missed_due or scale.missed_due < 2:
        raise BenchmarkError("the missed-check-in benchmark needs schedules >= 2 x due >= 4")
    progress(f"Scheduling check-ins for {scale.schedules:,} people")
    made = alertdata.schedules(
        scale.schedules, due=scale.missed_due, batch_size=scale.batch_size, progress=progress
    )
    from bench.runner import analyze

    analyze()

    progress(f"Timing {scale.idle_ticks} ticks with nothing due")
    idle: list[float] = []
    for _number in range(scale.idle_ticks):
        fired, ms = _tick()
        if fired:
            raise BenchmarkError(f"an idle tick fired {fired} schedules: something else is due")
        idle.append(ms)

    due = list(CheckinSchedule.objects.filter(pk__in=made.due_ids).order_by("pk"))
    start = clock.now() + dt.timedelta(seconds=LEAD_S)
    step = scale.missed_spread_s / max(len(due) - 1, 1)
    alert_at: dict[uuid.UUID, dt.datetime] = {}
    for position, schedule in enumerate(due):
        schedule.alert_at = start + dt.timedelta(seconds=position * step)
        schedule.next_deadline = schedule.alert_at - dt.timedelta(minutes=schedule.grace_minutes)
        alert_at[schedule.person_id] = schedule.alert_at
    CheckinSchedule.objects.bulk_update(due, ["alert_at", "next_deadline"], batch_size=500)
    last_due = start + dt.timedelta(seconds=scale.missed_spread_s)
    progress(
        f"Ticking at each deadline (timer, poll {scale.tick_every_s:g} s) while {len(due):,} "
        "schedules fall due "
        f"over {scale.missed_spread_s:g} s"
    )

    busy: list[float] = []
    seen_at: dict[uuid.UUID, dt.datetime] = {}
    fired_total = 0
    ticks = 0
    give_up = last_due + dt.timedelta(seconds=LIMIT_AFTER_S)
    missed = Alert.objects.filter(source=EmergencySource.MISSED_CHECKIN)
    while fired_total < len(due) and clock.now() < give_up:
        ticks += 1
        tick_started = clock.now()
        fired, ms = _tick()
        tick_ended = clock.now()
        if fired:
            busy.append(ms)
            fired_total += fired
            for person_id in missed.filter(
                emergency__opened_at__gte=tick_started, person_id__isnull=False
            ).values_list("person_id", flat=True):
                seen_at.setdefault(person_id, tick_ended)
        time.sleep(_until_next_due(scale.tick_every_s))

    created = dict(
        missed.filter(person_id__in=list(alert_at)).values_list("person_id", "emergency__opened_at")
    )
    lags = [_ms(created[pid] - alert_at[pid]) for pid in alert_at if pid in created]
    seen = [_ms(seen_at[pid] - alert_at[pid]) for pid in alert_at if pid in seen_at]
    if len(lags) < 2 or len(busy) < 2:
        raise BenchmarkError(
            f"only {len(lags)} of {len(due)} missed check-ins were raised in {ticks} ticks"
        )
    late = missed.filter(person_id__in=list(alert_at), late=True).count()
    ctx = context(
        scale,
        repetitions=ticks,
        schedules=scale.schedules,
        due=len(due),
        raised=len(lags),
        late_flagged=late,
        spread_s=scale.missed_spread_s,
        tick_every_s=scale.tick_every_s,
        busy_ticks=len(busy),
        fired_per_busy_tick=round(fired_total / len(busy), 1),
        lag_p50_ms=round(p50(lags), 1),
        lag_max_ms=round(max(lags), 1),
        seen_at_tick_end_p99_ms=round(p99(seen), 1) if len(seen) >= 2 else None,
        tick_p50_ms=round(p50(busy), 2),
        tick_p99_ms=round(p99(busy), 2),
        tick_max_ms=round(max(busy), 2),
        schedule_setup_seconds=round(made.seconds, 1),
    )
    idle_ctx = context(
        scale,
        repetitions=len(idle),
        schedules=scale.schedules,
        idle_p50_ms=round(p50(idle), 3),
        idle_p99_ms=round(p99(idle), 3),
    )
    return [
        metric("missed_checkin_lag_p99_ms", p99(lags), "ms", ctx),
        metric("missed_checkin_tick_ms", p50(busy), "ms", ctx),
        metric("missed_checkin_idle_tick_ms", p50(idle), "ms", idle_ctx),
    ]
