"""SQLite only: `refuge worker` copies the write-ahead log back into the database file.

In WAL mode a commit appends pages to the log; a checkpoint copies them into the database file
and syncs both (with synchronous=NORMAL that is the only fsync). By default SQLite checkpoints
inside whichever commit pushes the log past 1,000 pages, so every so often a web request (a
check-in, an SOS) waited 20-30 ms for two fsyncs. Instead the worker checkpoints at most once a
second, and web processes only when the log has passed 10,000 pages (wal_autocheckpoint in the
settings), which happens when no worker is running.

It also bounds what a power cut can take: with synchronous=NORMAL, commits since the last
checkpoint are in the operating system's cache only. Once a second makes that about a second of
work, where before a quiet instance could leave hours of check-ins unsynced below 1,000 pages.
See docs/decisions/0008-hot-paths-and-sqlite-durability.md.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

from django.db import connection

CHECKPOINT_EVERY_SECONDS = 1.0
_last_checkpoint: list[float] = []
_running: list[threading.Thread] = []


def checkpoint_tick(now: dt.datetime) -> int:
    """The worker's tick hook: a PASSIVE checkpoint (it never waits for readers or writers) at
    most once a second, in a thread of its own with a connection of its own. The copy and its
    fsync can take hundreds of milliseconds after a large write (a restore, a bulk import, a
    surge): on the tick's own thread they would hold back the pages of the next SOS. Returns 0:
    a checkpoint is upkeep, not work that calls for another tick."""
    del now
    if connection.vendor != "sqlite":
        return 0
    started = time.monotonic()
    if _last_checkpoint and started - _last_checkpoint[-1] < CHECKPOINT_EVERY_SECONDS:
        return 0
    if _running and _running[-1].is_alive():
        return 0  # the last one is still copying; the next tick tries again
    _last_checkpoint[:] = [started]
    thread = threading.Thread(target=_checkpoint, name="sqlite-checkpoint", daemon=True)
    _running[:] = [thread]
    thread.start()
    return 0


def _checkpoint() -> None:
    """Runs in the checkpoint thread: Django gives it a connection of its own, closed after."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        connection.close()


def wait(timeout: float | None = None) -> None:
    """Until the checkpoint in progress, if any, has finished (for tests)."""
    if _running:
        _running[-1].join(timeout)
