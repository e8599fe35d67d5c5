"""The worker's per-tick queries read only what is due, through an index, never every row.

SQLite's planner is checked (it plans the same on an empty table); PostgreSQL's planner prefers
a sequential scan on tiny tables, so its side is measured in the benchmarks instead."""

from __future__ import annotations

import pytest
from django.db import connection

from refuge.alerts.models import CheckinSchedule, Emergency, Notification
from refuge.core import clock

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plan is checked here"),
]


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return " ".join(str(row[-1]) for row in cursor.fetchall())


def test_due_check_ins_are_found_through_an_index():
    due = CheckinSchedule.objects.filter(paused=False, alert_at__lte=clock.now())
    assert "USING INDEX alerts_schedule_due" in _plan(due.order_by("alert_at")[:50])


def test_expired_pauses_are_found_through_an_index():
    expired = CheckinSchedule.objects.filter(paused=True, paused_until__lte=clock.now())
    assert "USING INDEX alerts_schedule_pause_due" in _plan(expired[:500])


def test_due_escalations_are_found_through_an_index():
    due = Emergency.objects.filter(state="open", next_escalation_at__lte=clock.now())
    assert "USING INDEX" in _plan(due)


def test_due_notifications_are_found_through_an_index():
    due = Notification.objects.filter(state="pending", next_attempt_at__lte=clock.now())
    assert "USING INDEX" in _plan(due)
