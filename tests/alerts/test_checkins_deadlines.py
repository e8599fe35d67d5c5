"""Deadline arithmetic: every N hours, daily at a wall-clock time, across DST changes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from refuge.alerts import deadlines
from refuge.alerts.deadlines import Rule

UTC = dt.UTC
BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
MOSCOW = "Europe/Moscow"


def daily(at: str, zone: str) -> Rule:
    return Rule(
        kind="daily", interval_hours=None, daily_time=dt.time.fromisoformat(at), time_zone=zone
    )


def every(hours: int) -> Rule:
    return Rule(kind="interval", interval_hours=hours, daily_time=None, time_zone=MOSCOW)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_every_n_hours_counts_from_the_check_in() -> None:
    assert deadlines.first_deadline(every(6), after=utc(2026, 3, 10, 12)) == utc(2026, 3, 10, 18)


def test_every_24_hours_is_24_elapsed_hours_across_a_dst_change() -> None:
    # Berlin springs forward on 2026-03-29: the wall clock shows 21:00 -> 22:00, 24 h elapsed.
    before = utc(2026, 3, 28, 20)  # 21:00 CET
    deadline = deadlines.first_deadline(every(24), after=before)
    assert deadline - before == dt.timedelta(hours=24)
    assert deadline.astimezone(ZoneInfo(BERLIN)).hour == 22


def test_daily_is_the_next_occurrence_of_the_wall_clock_time() -> None:
    rule = daily("21:00", MOSCOW)
    assert deadlines.first_deadline(rule, after=utc(2026, 3, 10, 12)) == utc(2026, 3, 10, 18)
    # Already past 21:00 MSK (18:00 UTC): tomorrow.
    assert deadlines.first_deadline(rule, after=utc(2026, 3, 10, 18)) == utc(2026, 3, 11, 18)
    assert deadlines.first_deadline(rule, after=utc(2026, 3, 10, 19)) == utc(2026, 3, 11, 18)


@pytest.mark.parametrize("month", range(1, 13))
def test_moscow_has_no_dst_so_21_00_is_always_18_00_utc(month: int) -> None:
    deadline = deadlines.first_deadline(daily("21:00", MOSCOW), after=utc(2026, month, 1, 0))
    assert deadline == utc(2026, month, 1, 18)


def test_daily_keeps_the_wall_clock_time_across_spring_forward_in_berlin() -> None:
    rule = daily("21:00", BERLIN)
    first = deadlines.first_deadline(rule, after=utc(2026, 3, 28, 12))
    assert first == utc(2026, 3, 28, 20)  # 21:00 CET
    second = deadlines.deadline_after_checkin(rule, checked_in_at=first, pending=first)
    assert second == utc(2026, 3, 29, 19)  # 21:00 CEST, only 23 hours later
    assert second - first == dt.timedelta(hours=23)


def test_daily_keeps_the_wall_clock_time_across_fall_back_in_new_york() -> None:
    rule = daily("21:00", NEW_YORK)
    first = deadlines.first_deadline(rule, after=utc(2026, 10, 31, 12))
    assert first == utc(2026, 11, 1, 1)  # 21:00 EDT on 31 October
    second = deadlines.deadline_after_checkin(rule, checked_in_at=first, pending=first)
    assert second == utc(2026, 11, 2, 2)  # 21:00 EST on 1 November: 25 hours later
    assert second - first == dt.timedelta(hours=25)


def test_a_time_in_the_spring_gap_moves_to_the_first_valid_instant() -> None:
    # Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
    rule = daily("02:30", BERLIN)
    deadline = deadlines.first_deadline(rule, after=utc(2026, 3, 28, 23))
    assert deadline == utc(2026, 3, 29, 1)
    assert deadline.astimezone(ZoneInfo(BERLIN)).strftime("%H:%M %Z") == "03:00 CEST"
    # The day after, 02:30 exists again.
    after = deadlines.deadline_after_checkin(rule, checked_in_at=deadline, pending=deadline)
    assert after.astimezone(ZoneInfo(BERLIN)).strftime("%m-%d %H:%M") == "03-30 02:30"


def test_a_time_in_the_new_york_spring_gap_moves_to_3_00_edt() -> None:
    deadline = deadlines.first_deadline(daily("02:15", NEW_YORK), after=utc(2026, 3, 8, 5))
    assert deadline == utc(2026, 3, 8, 7)  # 03:00 EDT
    assert deadline.astimezone(ZoneInfo(NEW_YORK)).strftime("%H:%M") == "03:00"


def test_an_ambiguous_time_takes_its_first_occurrence() -> None:
    # Berlin, 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    rule = daily("02:30", BERLIN)
    deadline = deadlines.first_deadline(rule, after=utc(2026, 10, 24, 12))
    assert deadline == utc(2026, 10, 25, 0, 30)  # 02:30 CEST, the first one
    # A check-in between the two 02:30s does not make the second one a deadline.
    between = utc(2026, 10, 25, 1)
    following = deadlines.deadline_after_checkin(rule, checked_in_at=between, pending=deadline)
    assert following == utc(2026, 10, 26, 1, 30)  # 02:30 CET the next day


def test_an_ambiguous_time_in_new_york_takes_edt() -> None:
    deadline = deadlines.first_deadline(daily("01:30", NEW_YORK), after=utc(2026, 11, 1, 0))
    assert deadline == utc(2026, 11, 1, 5, 30)  # 01:30 EDT (UTC-4), not 01:30 EST


def test_a_check_in_just_before_the_deadline_satisfies_it() -> None:
    rule = daily("21:00", MOSCOW)
    pending = utc(2026, 3, 10, 18)
    following = deadlines.deadline_after_checkin(
        rule, checked_in_at=pending - dt.timedelta(minutes=5), pending=pending
    )
    assert following == utc(2026, 3, 11, 18)


def test_a_late_check_in_within_grace_moves_to_the_next_day() -> None:
    rule = daily("21:00", MOSCOW)
    pending = utc(2026, 3, 10, 18)
    following = deadlines.deadline_after_checkin(
        rule, checked_in_at=pending + dt.timedelta(minutes=30), pending=pending
    )
    assert following == utc(2026, 3, 11, 18)


def test_a_second_check_in_in_a_satisfied_period_changes_nothing() -> None:
    rule = daily("21:00", MOSCOW)
    pending = utc(2026, 3, 10, 18)
    once = deadlines.deadline_after_checkin(
        rule, checked_in_at=utc(2026, 3, 10, 6), pending=pending
    )
    twice = deadlines.deadline_after_checkin(rule, checked_in_at=utc(2026, 3, 10, 7), pending=once)
    assert once == twice == utc(2026, 3, 11, 18)


def test_after_a_miss_the_next_deadline_is_the_following_period() -> None:
    grace = dt.timedelta(hours=2)
    missed = utc(2026, 3, 10, 18)
    now = missed + grace
    assert deadlines.deadline_after_miss(every(6), missed=missed, grace=grace, now=now) == utc(
        2026, 3, 11, 0
    )
    assert deadlines.deadline_after_miss(
        daily("21:00", MOSCOW), missed=missed, grace=grace, now=now
    ) == utc(2026, 3, 11, 18)


def test_after_days_without_a_worker_the_next_deadline_is_in_the_future() -> None:
    grace = dt.timedelta(hours=2)
    missed = utc(2026, 3, 10, 18)
    now = utc(2026, 3, 14, 9)
    interval = deadlines.deadline_after_miss(every(6), missed=missed, grace=grace, now=now)
    assert interval == utc(2026, 3, 14, 12)  # 18 + 6k: the first whose alert time is ahead
    assert interval + grace > now >= interval - dt.timedelta(hours=6) + grace
    day = deadlines.deadline_after_miss(daily("21:00", MOSCOW), missed=missed, grace=grace, now=now)
    assert day == utc(2026, 3, 14, 18)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("Europe/Moscow", True),
        ("America/New_York", True),
        ("UTC", True),
        ("Mars/Olympus", False),
        ("", False),
        ("../../etc/passwd", False),
        ("Europe/" + "x" * 80, False),
    ],
)
def test_time_zone_names_are_checked(name: str, valid: bool) -> None:
    assert deadlines.valid_zone(name) is valid


# --- the check-in window ----------------------------------------------------------------------


def windowed(at: str, zone: str, minutes: int) -> Rule:
    return Rule(
        kind="daily",
        interval_hours=None,
        daily_time=dt.time.fromisoformat(at),
        time_zone=zone,
        window_minutes=minutes,
    )


def test_a_morning_check_in_does_not_satisfy_the_evening_deadline() -> None:
    rule = windowed("21:00", MOSCOW, 240)
    pending = utc(2026, 3, 10, 18)  # 21:00 MSK
    morning = utc(2026, 3, 10, 6, 22)  # 09:22 MSK
    assert deadlines.window_opens(rule, pending) == utc(2026, 3, 10, 14)  # 17:00 MSK
    assert not deadlines.counts(rule, checked_in_at=morning, pending=pending)
    assert deadlines.deadline_after_checkin(rule, checked_in_at=morning, pending=pending) == pending


def test_the_window_opens_exactly_at_its_start() -> None:
    rule = windowed("21:00", MOSCOW, 240)
    pending = utc(2026, 3, 10, 18)
    opens = utc(2026, 3, 10, 14)
    assert deadlines.counts(rule, checked_in_at=opens, pending=pending)
    assert not deadlines.counts(
        rule, checked_in_at=opens - dt.timedelta(seconds=1), pending=pending
    )
    following = deadlines.deadline_after_checkin(rule, checked_in_at=opens, pending=pending)
    assert following == utc(2026, 3, 11, 18)


def test_a_late_check_in_within_grace_still_counts() -> None:
    rule = windowed("21:00", MOSCOW, 240)
    pending = utc(2026, 3, 10, 18)
    late = pending + dt.timedelta(minutes=90)
    assert deadlines.counts(rule, checked_in_at=late, pending=pending)
    assert deadlines.deadline_after_checkin(rule, checked_in_at=late, pending=pending) == utc(
        2026, 3, 11, 18
    )


def test_the_window_is_a_duration_across_a_dst_change() -> None:
    # Berlin springs forward at 02:00 on 2026-03-29: 4 hours before 04:00 CEST is 23:00 CET.
    rule = windowed("04:00", BERLIN, 240)
    deadline = deadlines.first_deadline(rule, after=utc(2026, 3, 28, 12))
    assert deadline == utc(2026, 3, 29, 2)  # 04:00 CEST
    opens = deadlines.window_opens(rule, deadline)
    assert deadline - opens == dt.timedelta(hours=4)
    assert opens.astimezone(ZoneInfo(BERLIN)).strftime("%d %H:%M %Z") == "28 23:00 CET"


def test_a_day_long_window_never_reaches_back_past_the_previous_deadline() -> None:
    # The day the clocks spring forward has 23 hours: a 24-hour window would start an hour
    # before the previous 21:00, and one check-in could count for two deadlines.
    rule = windowed("21:00", BERLIN, 24 * 60)
    deadline = utc(2026, 3, 29, 19)  # 21:00 CEST
    assert deadlines.window_opens(rule, deadline) == utc(2026, 3, 28, 20)  # 21:00 CET


def test_every_n_hours_counts_only_inside_its_window() -> None:
    rule = Rule(
        kind="interval", interval_hours=12, daily_time=None, time_zone=MOSCOW, window_minutes=120
    )
    pending = utc(2026, 3, 10, 12)
    assert not deadlines.counts(rule, checked_in_at=utc(2026, 3, 10, 9, 59), pending=pending)
    assert deadlines.counts(rule, checked_in_at=utc(2026, 3, 10, 10), pending=pending)
    following = deadlines.deadline_after_checkin(
        rule, checked_in_at=utc(2026, 3, 10, 11), pending=pending
    )
    assert following == utc(2026, 3, 10, 23)


def test_every_n_hours_without_a_window_counts_every_check_in() -> None:
    pending = utc(2026, 3, 10, 12)
    assert deadlines.counts(every(6), checked_in_at=utc(2026, 3, 10, 6), pending=pending)
    assert deadlines.window_opens(every(6), pending) == utc(2026, 3, 10, 6)


@pytest.mark.parametrize(
    ("kind", "hours", "window"), [("daily", None, 240), ("interval", 12, 720), ("interval", 1, 60)]
)
def test_the_default_window(kind: str, hours: int | None, window: int) -> None:
    assert deadlines.default_window_minutes(kind, hours) == window
