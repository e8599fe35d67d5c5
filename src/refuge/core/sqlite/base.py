"""SQLite, with writers taking turns for the write lock instead of sleeping for it.

Transactions begin IMMEDIATE (settings), so a writer takes SQLite's write lock at BEGIN. While
another holds it, SQLite's busy handler sleeps and retries (after 1, 2, 5, 10 … then every
100 ms): under a steady stream of writes a waiter that misses the lock sleeps longer each time
while later writers take it, and a few wait up to a second for a lock free most of that time
(check-ins under load: median 30 ms, p99 950 ms). Here a writer first takes its turn, then begins
IMMEDIATE as before, and gives the turn back when the transaction ends (commit, rollback, or the
connection closing):

- the threads of one process queue on a lock of that process, and are woken when it is free;
- the processes (web workers, `refuge worker`, the CLI) queue on an exclusive flock of a file
  beside the database (`<database>-writers`): the kernel wakes the next one when it is released,
  and releases it itself if its holder dies, so a killed process never leaves it taken.

The turn only orders writers; SQLite's own lock still decides who writes. A write that takes no
turn (one statement in autocommit, another program) is exactly as safe as before, and a turn
holder that finds the database locked waits in SQLite's busy handler as before. A thread waits
for its process's lock no longer than the database's timeout and then begins without a turn, so
no writer waits here longer than it would have waited for SQLite. The one exception: the single
thread of a process that holds its process's lock waits for the flock for as long as another
process keeps a transaction open (docs/decisions/0008-hot-paths-and-sqlite-durability.md).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from dataclasses import dataclass

from django.db.backends.sqlite3 import base as sqlite3_base

TURN_FILE_SUFFIX = "-writers"
DEFAULT_TIMEOUT_S = 5.0  # sqlite3.connect's default, when OPTIONS has no timeout
_POLL_S = 0.001  # how often a writer with a short wait (turn_wait) looks at the flock again


@dataclass
class _Queue:
    """One database's turn, in this process."""

    threads: threading.Lock
    file: int  # descriptor of the turn file, opened by this process (flock is per open file)
    pid: int  # the process that opened it


_queues: dict[str, _Queue] = {}
_queues_lock = threading.Lock()


def _forget_queues() -> None:
    """In a forked child: the parent's locks (maybe held at the fork) and open files are not the
    child's to use; flock would even be shared with the parent through the inherited file."""
    global _queues_lock  # noqa: PLW0603 - replaced, not mutated: the old one may be held
    for queue in _queues.values():
        os.close(queue.file)
    _queues.clear()
    _queues_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_queues)


def _queue(database: str) -> _Queue:
    with _queues_lock:
        queue = _queues.get(database)
        if queue is None:
            flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
            file = os.open(database + TURN_FILE_SUFFIX, flags, 0o600)
            queue = _Queue(threading.Lock(), file, os.getpid())
            _queues[database] = queue
        return queue


def _flock_within(file: int, seconds: float) -> bool:
    """Take the flock of `file` if it comes free within `seconds`."""
    give_up = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= give_up:
                return False
            time.sleep(_POLL_S)
        else:
            return True


class DatabaseWrapper(sqlite3_base.DatabaseWrapper):
    _turn: _Queue | None = None
    # Seconds this connection's writers wait for their turn before they begin without it; None:
    # as long as the database's timeout for the process's lock, and the flock until it is free.
    # A caller that lowers SQLite's busy timeout to give up quickly lowers this too.
    turn_wait: float | None = None

    def _takes_turns(self) -> bool:
        mode = getattr(self, "transaction_mode", None)  # set by Django's SQLite __init__
        return mode == "IMMEDIATE" and not self.is_in_memory_db()

    def _take_turn(self) -> None:
        queue = _queue(os.path.realpath(str(self.settings_dict["NAME"])))
        wait = self.turn_wait
        if wait is None:
            wait = float(self.settings_dict.get("OPTIONS", {}).get("timeout", DEFAULT_TIMEOUT_S))
        if not queue.threads.acquire(timeout=wait):
            return  # begin without a turn: SQLite's busy timeout decides, as it always did
        try:
            if self.turn_wait is None:
                fcntl.flock(queue.file, fcntl.LOCK_EX)
            elif not _flock_within(queue.file, self.turn_wait):
                queue.threads.release()
                return
        except BaseException:
            queue.threads.release()
            raise
        self._turn = queue

    def _give_turn_back(self) -> None:
        queue, self._turn = self._turn, None
        if queue is None or queue.pid != os.getpid():
            return  # none, or a parent's, inherited through a fork: not this process's to end
        try:
            fcntl.flock(queue.file, fcntl.LOCK_UN)
        finally:
            queue.threads.release()

    def _start_transaction_under_autocommit(self) -> None:
        if self._turn is None and self._takes_turns():
            self._take_turn()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # private in django-stubs
        except BaseException:
            self._give_turn_back()
            raise

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]  # private in django-stubs
        finally:
            self._give_turn_back()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]  # private in django-stubs
        finally:
            self._give_turn_back()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]  # private in django-stubs
        finally:
            self._give_turn_back()
