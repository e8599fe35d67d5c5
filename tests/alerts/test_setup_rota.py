"""Who is on call: the weekly rotation, overrides on top of it, and the next handovers the rota
pages show (they must agree with refuge.alerts.rota.on_call, which the escalation engine uses)."""

from __future__ import annotations

import datetime as dt

import pytest

from refuge.alerts import selectors
from refuge.alerts.rota import on_call
from refuge.alerts.services import setup

pytestmark = pytest.mark.django_db

# Monday 2 March 2026, 09:00 in Moscow.
START = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)
WEEK = dt.timedelta(days=7)


@pytest.fixture
def rota(cast):
    rota = setup.rota_create(actor=cast.coordinator, name="Line", starts_on=START, shift_days=7)
    for user in (cast.operator, cast.lawyer, cast.caseworker):
        setup.rota_member_add(actor=cast.coordinator, rota=rota, user=user)
    return rota


def _on_call(cast, rota, at):
    return selectors.rota_on_call(actor=cast.coordinator, rota=rota, at=at)


def test_the_duty_rotates_weekly_through_the_members(cast, rota, time_machine):
    time_machine.move_to(START + dt.timedelta(days=2), tick=False)
    assert _on_call(cast, rota, None) == cast.operator
    assert _on_call(cast, rota, START + WEEK - dt.timedelta(seconds=1)) == cast.operator
    assert _on_call(cast, rota, START + WEEK) == cast.lawyer
    assert _on_call(cast, rota, START + 2 * WEEK) == cast.caseworker
    assert _on_call(cast, rota, START + 3 * WEEK) == cast.operator  # round again
    assert _on_call(cast, rota, START - dt.timedelta(days=3)) == cast.operator  # not started yet


def test_an_override_takes_over_while_it_lasts(cast, rota, time_machine):
    time_machine.move_to(START + dt.timedelta(days=1), tick=False)
    starts = START + dt.timedelta(days=3)
    setup.rota_override_add(
        actor=cast.coordinator,
        rota=rota,
        user=cast.coordinator,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=12),
    )
    assert _on_call(cast, rota, starts - dt.timedelta(seconds=1)) == cast.operator
    assert _on_call(cast, rota, starts) == cast.coordinator
    assert _on_call(cast, rota, starts + dt.timedelta(hours=12)) == cast.operator
    time_machine.move_to(starts + dt.timedelta(hours=1), tick=False)
    (summary,) = selectors.rota_list(actor=cast.coordinator)
    assert summary.on_call_now == cast.coordinator


def test_a_deactivated_member_is_skipped(cast, rota):
    cast.lawyer.is_active = False
    cast.lawyer.save()
    assert _on_call(cast, rota, START + WEEK) == cast.caseworker


def test_moving_members_changes_whose_shift_it_is(cast, rota):
    member = selectors.rota_members(actor=cast.coordinator, rota=rota).get(user=cast.caseworker)
    setup.rota_member_move(actor=cast.coordinator, member=member, position=0)
    assert _on_call(cast, rota, START) == cast.caseworker
    assert _on_call(cast, rota, START + WEEK) == cast.operator


def _changes(cast, rota, after):
    return [
        (c.at, c.user)
        for c in selectors.rota_next_changes(actor=cast.coordinator, rota=rota, after=after)
    ]


def test_the_next_handovers_follow_the_rotation(cast, rota):
    after = START + dt.timedelta(days=2)
    changes = _changes(cast, rota, after)
    assert changes[:3] == [
        (START + WEEK, cast.lawyer),
        (START + 2 * WEEK, cast.caseworker),
        (START + 3 * WEEK, cast.operator),
    ]
    assert len(changes) == selectors.NEXT_CHANGES


def test_the_next_handovers_include_overrides(cast, rota, time_machine):
    after = START + dt.timedelta(days=2)
    time_machine.move_to(after, tick=False)
    starts = START + dt.timedelta(days=3)
    ends = starts + dt.timedelta(hours=6)
    setup.rota_override_add(
        actor=cast.coordinator, rota=rota, user=cast.coordinator, starts_at=starts, ends_at=ends
    )
    assert _changes(cast, rota, after)[:3] == [
        (starts, cast.coordinator),
        (ends, cast.operator),
        (START + WEEK, cast.lawyer),
    ]


def test_an_override_for_whoever_is_on_call_anyway_is_no_handover(cast, rota, time_machine):
    after = START + dt.timedelta(days=2)
    time_machine.move_to(after, tick=False)
    starts = START + dt.timedelta(days=3)
    setup.rota_override_add(
        actor=cast.coordinator,
        rota=rota,
        user=cast.operator,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=6),
    )
    assert _changes(cast, rota, after)[0] == (START + WEEK, cast.lawyer)


def test_a_single_member_rota_changes_only_for_overrides(cast, time_machine):
    rota = setup.rota_create(actor=cast.coordinator, name="Solo", starts_on=START)
    setup.rota_member_add(actor=cast.coordinator, rota=rota, user=cast.operator)
    after = START + dt.timedelta(days=1)
    time_machine.move_to(after, tick=False)
    assert _changes(cast, rota, after) == []
    starts = START + dt.timedelta(days=20)
    setup.rota_override_add(
        actor=cast.coordinator,
        rota=rota,
        user=cast.lawyer,
        starts_at=starts,
        ends_at=starts + dt.timedelta(days=1),
    )
    assert _changes(cast, rota, after) == [
        (starts, cast.lawyer),
        (starts + dt.timedelta(days=1), cast.operator),
    ]


def test_before_the_rotation_starts_the_first_handover_is_after_the_first_shift(cast, rota):
    assert _changes(cast, rota, START - WEEK)[0] == (START + WEEK, cast.lawyer)


def test_an_empty_rota_has_nobody_on_call(cast):
    rota = setup.rota_create(actor=cast.coordinator, name="Empty", starts_on=START)
    assert _on_call(cast, rota, START) is None
    assert _changes(cast, rota, START) == []


@pytest.mark.parametrize("hours", range(0, 24 * 7 * 4, 13))
def test_the_handovers_agree_with_the_engine(cast, rota, hours):
    after = START + dt.timedelta(hours=hours)
    previous = on_call(rota, after)
    for at, user in _changes(cast, rota, after):
        assert on_call(rota, at) == user
        assert on_call(rota, at - dt.timedelta(microseconds=1)) == previous
        previous = user
