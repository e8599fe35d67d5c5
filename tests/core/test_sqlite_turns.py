"""Writers take turns for SQLite's write lock (refuge.core.sqlite): held for a transaction,
given back however it ends, waited for by other threads and processes, never inherited."""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection, transaction

from refuge.core.models import WorkerHeartbeat
from refuge.core.sqlite import base

pytestmark = [
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's writers only"),
    # No test transaction around the test: it would hold the turn from start to end.
    pytest.mark.django_db(transaction=True),
]


def _turn_file() -> Path:
    return Path(os.path.realpath(str(connection.settings_dict["NAME"])) + base.TURN_FILE_SUFFIX)


def _taken_elsewhere() -> bool:
    """Is the turn file's flock held (by anyone but a new, separate opening of it)?"""
    fd = os.open(_turn_file(), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing the only descriptor of this opening releases its flock
    return False


@pytest.fixture
def other_process_turn() -> Iterator[int]:
    """The turn file's flock, held through an opening of its own, as another process would."""
    with transaction.atomic():  # makes sure the file exists
        pass
    fd = os.open(_turn_file(), os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield fd
    finally:
        os.close(fd)


def test_a_transaction_holds_the_turn_until_it_commits():
    with transaction.atomic():
        WorkerHeartbeat.objects.filter(pid=-1).delete()
        assert _taken_elsewhere()
    assert not _taken_elsewhere()


def test_a_transaction_that_fails_gives_the_turn_back():
    held: list[bool] = []

    def fail() -> None:
        with transaction.atomic():
            held.append(_taken_elsewhere())
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        fail()
    assert held == [True]
    assert not _taken_elsewhere()


def test_closing_the_connection_inside_a_transaction_gives_the_turn_back():
    connection.ensure_connection()
    connection._start_transaction_under_autocommit()  # what atomic() begins with
    assert _taken_elsewhere()
    connection.close()  # a process or thread ending with its transaction open
    assert not _taken_elsewhere()


def test_the_turn_file_is_readable_by_its_owner_only():
    with transaction.atomic():
        pass
    assert stat.S_IMODE(_turn_file().stat().st_mode) & 0o077 == 0


def test_another_thread_waits_for_the_turn_and_writes_once_it_is_given_back():
    began: list[float] = []
    entered = threading.Event()

    def writer() -> None:
        entered.set()
        with transaction.atomic():
            began.append(time.monotonic())
        connection.close()

    with transaction.atomic():
        thread = threading.Thread(target=writer)
        thread.start()
        entered.wait(5)
        time.sleep(0.2)
        assert began == []  # still waiting for this transaction's turn
        committed = time.monotonic()
    thread.join(10)
    assert began
    assert began[0] >= committed


def test_a_writer_waits_for_another_process_turn(other_process_turn):
    began: list[float] = []

    def writer() -> None:
        with transaction.atomic():
            began.append(time.monotonic())
        connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.2)
    assert began == []
    released = time.monotonic()
    fcntl.flock(other_process_turn, fcntl.LOCK_UN)
    thread.join(10)
    assert began
    assert began[0] >= released


def test_a_short_turn_wait_begins_without_the_turn_once_it_has_passed(other_process_turn):
    connection.turn_wait = 0.05
    try:
        started = time.monotonic()
        with transaction.atomic():  # SQLite's own lock is free: the write goes ahead
            WorkerHeartbeat.objects.filter(pid=-1).delete()
        waited = time.monotonic() - started
    finally:
        connection.turn_wait = None
    assert 0.05 <= waited < 5
    assert connection._turn is None


def test_a_forked_child_does_not_inherit_the_parents_turn():
    # The parent holds the turn; the child must queue for it through an opening of its own. Had
    # the child kept the parent's opening, its flock would succeed at once.
    name = os.path.realpath(str(connection.settings_dict["NAME"]))
    script = textwrap.dedent(
        f"""
        import fcntl, os, sys
        from refuge.core.sqlite import base
        queue = base._queue({name!r})
        fcntl.flock(queue.file, fcntl.LOCK_EX)
        pid = os.fork()
        if pid == 0:
            child = base._queue({name!r})
            try:
                fcntl.flock(child.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os._exit(0)
            os._exit(1)
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        fcntl.flock(queue.file, fcntl.LOCK_UN)
        sys.exit(code)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
