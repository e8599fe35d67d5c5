"""Check-in deadline arithmetic: pure functions of a schedule's settings and instants (no I/O).

Two kinds of schedule:
- every N hours: the next deadline is N hours after the check-in;
- daily at HH:MM in the person's time zone: one check-in per day, by HH:MM.

The check-in window. A check-in counts only when it arrives inside the window before the pending
deadline: from `window_minutes` before it (never further back than the previous deadline of a
daily schedule) until the alert fires at deadline + grace. One that counts satisfies the pending
deadline; the next one is N hours after it, or the first HH:MM after both the check-in and the
deadline it satisfied (so checking in at 20:55 for 21:00 does not leave 21:00 pending). One that
arrives earlier is early: it is recorded, and the pending deadline stays where it was. Without
the window a check-in at 09:22 satisfied that evening's 21:00, and nobody was missed until the
next day's 21:00 + grace, 37 hours later. The window is a duration, not wall-clock times: across
a DST change "4 hours before 04:00" starts at 23:00 the evening before, and lasts 4 hours.

Wall-clock times are resolved with zoneinfo. A local time that does not exist (the hour skipped
when clocks go forward) becomes the first instant after the gap, when the clocks jump; a local
time that happens twice (clocks go back) means its first occurrence.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

INTERVAL = "interval"
DAILY = "daily"
MIN_INTERVAL_HOURS = 1
MAX_INTERVAL_HOURS = 168
MIN_GRACE_MINUTES = 5
MAX_GRACE_MINUTES = 1440
MIN_WINDOW_MINUTES = 15
# A daily schedule's window when none is given; an interval schedule's is the whole interval
# (every check-in counts and restarts the N hours, which leaves no gap longer than N + grace).
DAILY_WINDOW_MINUTES = 240
DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class Rule:
    """What a schedule asks for: every `interval_hours`, or daily at `daily_time` in `time_zone`;
    check-ins count from `window_minutes` before the deadline (None: the whole period)."""

    kind: str
    interval_hours: int | None
    daily_time: dt.time | None
    time_zone: str
    window_minutes: int | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


def period_minutes(kind: str, interval_hours: int | None) -> int:
    """The longest window a schedule may have: its interval, or a day."""
    return (interval_hours or 0) * 60 if kind == INTERVAL else DAY_MINUTES


def default_window_minutes(kind: str, interval_hours: int | None) -> int:
    return period_minutes(kind, interval_hours) if kind == INTERVAL else DAILY_WINDOW_MINUTES


def valid_zone(name: str) -> bool:
    if not name or len(name) > 64:  # noqa: PLR2004 - the model's max_length
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def resolve_local(day: dt.date, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The instant (in UTC) when the wall clock in `zone` shows `day` `at`."""
    naive = dt.datetime.combine(day, at.replace(tzinfo=None, fold=0))
    first = naive.replace(tzinfo=zone, fold=0)
    if first.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) == naive:
        # Exists; if it happens twice, fold=0 is the first occurrence.
        return first.astimezone(dt.UTC)
    # In a gap. fold=0 reads it with the offset before the jump (an instant after the gap),
    # fold=1 with the offset after (an instant before it): the jump lies between them.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(dt.UTC)
    high = first.astimezone(dt.UTC)
    return _first_instant_after_gap(low, high, zone, naive)


def _first_instant_after_gap(
    low: dt.datetime, high: dt.datetime, zone: ZoneInfo, naive: dt.datetime
) -> dt.datetime:
    """Smallest whole second in (low, high] whose wall-clock time is later than `naive`."""
    one = dt.timedelta(seconds=1)
    while high - low > one:
        middle = low + (high - low) // 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(zone).replace(tzinfo=None) > naive:
            high = middle
        else:
            low = middle
    return high


def daily_after(after: dt.datetime, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The first occurrence of wall-clock time `at` in `zone` strictly after `after`."""
    day = after.astimezone(zone).date() - dt.timedelta(days=1)
    for _ in range(4):
        instant = resolve_local(day, at, zone)
        if instant > after:
            return instant
        day += dt.timedelta(days=1)
    raise AssertionError(
        "unreachable: a wall-clock time recurs within two days"
    )  # pragma: no cover


def daily_before(until: dt.datetime, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The last occurrence of wall-clock time `at` in `zone` strictly before `until`."""
    day = until.astimezone(zone).date() + dt.timedelta(days=1)
    for _ in range(4):
        instant = resolve_local(day, at, zone)
        if instant < until:
            return instant
        day -= dt.timedelta(days=1)
    raise AssertionError(
        "unreachable: a wall-clock time recurs within two days"
    )  # pragma: no cover


def first_deadline(rule: Rule, *, after: dt.datetime) -> dt.datetime:
    """The deadline of a schedule that has none pending, counted from `after` (the last
    check-in, or now)."""
    if rule.kind == INTERVAL:
        return after + dt.timedelta(hours=_hours(rule))
    return daily_after(after, _time(rule), rule.zone)


def window_opens(rule: Rule, deadline: dt.datetime) -> dt.datetime:
    """When check-ins start to count towards `deadline`."""
    if rule.kind == INTERVAL:
        return deadline - dt.timedelta(minutes=rule.window_minutes or _hours(rule) * 60)
    previous = daily_before(deadline, _time(rule), rule.zone)
    if rule.window_minutes is None:
        return previous
    return max(previous, deadline - dt.timedelta(minutes=rule.window_minutes))


def counts(rule: Rule, *, checked_in_at: dt.datetime, pending: dt.datetime | None) -> bool:
    """Does a check-in at `checked_in_at` satisfy the pending deadline (is it inside the
    window), or is it early? With no deadline pending every check-in counts."""
    return pending is None or checked_in_at >= window_opens(rule, pending)


def deadline_after_checkin(
    rule: Rule, *, checked_in_at: dt.datetime, pending: dt.datetime | None
) -> dt.datetime:
    """The next deadline once a check-in arrives at `checked_in_at` while `pending` was due:
    unchanged for an early one."""
    if pending is None:
        return first_deadline(rule, after=checked_in_at)
    if not counts(rule, checked_in_at=checked_in_at, pending=pending):
        return pending
    if rule.kind == INTERVAL:
        return first_deadline(rule, after=checked_in_at)
    return daily_after(max(checked_in_at, pending), _time(rule), rule.zone)


def deadline_after_miss(
    rule: Rule, *, missed: dt.datetime, grace: dt.timedelta, now: dt.datetime
) -> dt.datetime:
    """The deadline after `missed` was missed: the first one whose alert time (deadline + grace)
    is still ahead, so a worker that was down for days fires once per schedule, not once per
    period it slept through."""
    if rule.kind == INTERVAL:
        step = dt.timedelta(hours=_hours(rule))
        periods = max(1, (now - grace - missed) // step + 1)
        return missed + step * periods
    return daily_after(max(missed, now - grace), _time(rule), rule.zone)


def _hours(rule: Rule) -> int:
    if rule.interval_hours is None:
        raise ValueError("an interval schedule needs interval_hours")
    return rule.interval_hours


def _time(rule: Rule) -> dt.time:
    if rule.daily_time is None:
        raise ValueError("a daily schedule needs daily_time")
    return rule.daily_time
