"""Check-in deadline arithmetic: pure functions of a schedule's settings and instants (no I/O).

Two kinds of schedule:
- every N hours: the next deadline is N hours after the check-in;
- daily at HH:MM in the person's time zone: one check-in per day, in the period that ends at
  HH:MM. A check-in satisfies the deadline that is pending when it arrives (early or, within the
  grace period, late), and the next deadline is the first HH:MM after both the check-in and the
  deadline it satisfied. A second check-in in a period already satisfied changes nothing: the
  deadline does not run away a day per extra check-in, and checking in at 20:55 for a 21:00
  deadline does not leave 21:00 pending.

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


@dataclass(frozen=True)
class Rule:
    """What a schedule asks for: every `interval_hours`, or daily at `daily_time` in `time_zone`."""

    kind: str
    interval_hours: int | None
    daily_time: dt.time | None
    time_zone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


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


def deadline_after_checkin(
    rule: Rule, *, checked_in_at: dt.datetime, pending: dt.datetime | None
) -> dt.datetime:
    """The next deadline once a check-in arrives at `checked_in_at` while `pending` was due."""
    if rule.kind == INTERVAL or pending is None:
        return first_deadline(rule, after=checked_in_at)
    zone = rule.zone
    period_start = daily_before(pending, _time(rule), zone)
    if checked_in_at <= period_start:
        return pending  # this period is satisfied already
    return daily_after(max(checked_in_at, pending), _time(rule), zone)


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
