"""SQLite checkpoints by the worker (refuge.core.wal), not by whichever request commits."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.db import connection

from refuge.accounts.models import Team
from refuge.core import jobs, wal

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's log only")
NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def _in_database_file(marker: str) -> bool:
    """Whether `marker` has been copied from the log into the database file itself."""
    return marker.encode() in Path(connection.settings_dict["NAME"]).read_bytes()


@pytest.fixture
def fresh_tick(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(wal, "_last_checkpoint", [])


def test_the_worker_runs_the_checkpoint_on_its_ticks():
    assert jobs.registered_ticks()["core.sqlite_checkpoint"] is wal.checkpoint_tick


@pytest.mark.django_db
def test_web_connections_leave_the_log_to_the_worker():
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == 10000  # the settings
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"


@pytest.mark.django_db(transaction=True)
def test_a_commit_stays_in_the_log_until_a_tick_copies_it(fresh_tick):
    Team.objects.create(name="Team-in-the-log-1")
    assert not _in_database_file("Team-in-the-log-1")
    assert wal.checkpoint_tick(NOW) == 0
    wal.wait(30)  # it runs in a thread of its own, off the tick's path
    assert _in_database_file("Team-in-the-log-1")


@pytest.mark.django_db(transaction=True)
def test_ticks_within_a_second_checkpoint_once(fresh_tick, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(wal.time, "monotonic", lambda: clock[0])
    wal.checkpoint_tick(NOW)
    wal.wait(30)
    Team.objects.create(name="Team-in-the-log-2")
    clock[0] += 0.5
    wal.checkpoint_tick(NOW)
    wal.wait(30)
    assert not _in_database_file("Team-in-the-log-2")
    clock[0] += 0.6
    wal.checkpoint_tick(NOW)
    wal.wait(30)
    assert _in_database_file("Team-in-the-log-2")


@pytest.mark.django_db(transaction=True)
def test_the_checkpoint_runs_off_the_ticks_thread(fresh_tick, monkeypatch):
    import threading

    seen: list[str] = []
    monkeypatch.setattr(wal, "_checkpoint", lambda: seen.append(threading.current_thread().name))
    wal.checkpoint_tick(NOW)
    wal.wait(30)
    assert seen == ["sqlite-checkpoint"]
