"""`refuge worker`: runs queued and periodic jobs until SIGTERM or SIGINT.

Each tick runs a batch of due jobs and then the apps' tick hooks (missed check-ins, due
escalation steps, the notification outbox: `jobs.register_tick`); every few seconds it also
writes a heartbeat row (the staff pages warn when none is fresh) and queues the periodic tasks of
the current period. After a good tick the worker pings the dead-man's-switch URL
(REFUGE_DEADMAN_URL), at most once a minute and in the background, so that someone outside
learns when alerting itself has stopped.

Between ticks the worker sleeps until the first of: a wake-up (`core.wakeup`: NOTIFY on
PostgreSQL, a datagram on SQLite, sent when an emergency opens or a job is queued to run at
once), the moment the next known piece of work falls due (`jobs.next_due`: a check-in deadline,
an escalation step, a retry), or REFUGE_WORKER_POLL_SECONDS, the fallback that finds whatever a
lost wake-up left behind.

A signal lets the running job finish, then the worker exits. A database outage is waited out
rather than ending the worker: alerts must resume on their own when the database comes back.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import threading
import time
import urllib.parse
import urllib.request
import uuid
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, connections, transaction

from refuge.core import clock, jobs, wakeup
from refuge.core.models import WorkerHeartbeat

logger = logging.getLogger("refuge.worker")

# Heartbeats of workers that died without cleaning up are removed after this long.
STALE_HEARTBEAT = dt.timedelta(days=1)
DEADMAN_EVERY_SECONDS = 60
DEADMAN_TIMEOUT_SECONDS = 5
# Bookkeeping that need not run on every tick: a heartbeat is fresh for 30 s, periodic tasks
# run at most once a minute. Skipping them keeps a woken tick to the work it was woken for.
HEARTBEAT_EVERY = dt.timedelta(seconds=5)
PERIODIC_EVERY = dt.timedelta(seconds=20)
# A timer this close is not worth a sleep; ticking at once is cheaper than a wake-up.
_TIMER_SLACK_S = 0.002


class Command(BaseCommand):
    help = "Run background jobs (check-in deadlines, alerts, maintenance) until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="Run a single tick, then exit (for tests and cron)."
        )
        parser.add_argument(
            "--batch", type=int, default=20, help="Jobs run per tick at most (default 20)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch = max(1, int(options["batch"]))
        self._stop = threading.Event()
        self._started_at = clock.now()
        self._last_ping: float | None = None
        self._ping_thread: threading.Thread | None = None
        self._last_beat: dt.datetime | None = None
        self._last_periodic: dt.datetime | None = None
        self._listener: wakeup.Listener | None = None
        if options["once"]:
            # One row per host however often cron runs us, instead of one per run.
            self._worker_id = f"{socket.gethostname()[:60]}:once"
            self.tick(batch)
            self._wait_for_ping()
            return
        self._worker_id = f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._listener = wakeup.listener()
        wakeup.set_local_waker(self._listener.interrupt)
        previous = self._install_signal_handlers()
        self.stdout.write(
            f"worker {self._worker_id} started; woken by {type(self._listener).__name__}, "
            f"polling every {self.poll_seconds} s"
        )
        try:
            self._loop(batch)
        finally:
            # Our handlers stay until the end: a second Ctrl-C or a SIGTERM while the sends are
            # drained (Ctrl-C in a terminal reaches every process of the demo, which then stops
            # its children) only asks again to stop, never raises in the middle of the cleanup.
            jobs.run_stop_hooks()
            wakeup.set_local_waker(None)
            listener, self._listener = self._listener, None
            listener.close()
            self._remove_heartbeat()
            self.stdout.write(f"worker {self._worker_id} stopped")
            self._restore_signal_handlers(previous)

    @property
    def poll_seconds(self) -> int:
        return int(settings.WORKER_POLL_SECONDS)

    def _loop(self, batch: int) -> None:
        listener = self._listener or wakeup.PollingListener()
        while not self._stop.is_set():
            try:
                ran = self.tick(batch)
                pause = 0.0 if ran >= batch else self._pause(did_work=ran > 0)
            except DatabaseError as exc:
                # The message of a database error can quote row values: log its type only.
                logger.warning("worker tick failed (%s); retrying", type(exc).__name__)
                _refresh_connections()
                pause = float(self.poll_seconds)
            if pause > 0 and not self._stop.is_set():
                # A full batch means more may be due: go again without waiting.
                listener.wait(pause)

    def _pause(self, *, did_work: bool) -> float:
        """Seconds to sleep unless woken: until the next known due moment, at most the poll.

        Work that is overdue and yet was not done by the tick just run (leased by another
        worker, or failing) waits for the poll, so a stuck row can never make the worker spin."""
        poll = float(self.poll_seconds)
        due = jobs.next_due()
        if due is None:
            return poll
        seconds = (due - clock.now()).total_seconds()
        if seconds <= _TIMER_SLACK_S:
            return 0.0 if did_work else poll
        return min(poll, seconds + _TIMER_SLACK_S)

    def tick(self, batch: int) -> int:
        """One round of work; returns how much was done (jobs run plus the hooks' work)."""
        _refresh_connections()
        now = clock.now()
        if self._last_beat is None or now - self._last_beat >= HEARTBEAT_EVERY:
            self._beat()
            self._last_beat = now
        if self._last_periodic is None or now - self._last_periodic >= PERIODIC_EVERY:
            jobs.schedule_periodic()
            self._last_periodic = now
        # The tick hooks first (the emergency line: alarms, escalation, the outbox), then the
        # queued maintenance jobs: a page never waits behind a job of the same tick, and a
        # long job runs in slices (people.tasks), each one a job of its own.
        ran = jobs.run_ticks()
        ran += jobs.run_due(batch)
        self._ping_deadman()
        return ran

    def _wait_for_ping(self) -> None:
        thread = self._ping_thread
        if thread is not None:
            thread.join(DEADMAN_TIMEOUT_SECONDS + 1)

    def _ping_deadman(self) -> None:
        url = str(settings.DEADMAN_URL or "")
        if not url:
            return
        now = time.monotonic()
        if self._last_ping is not None and now - self._last_ping < DEADMAN_EVERY_SECONDS:
            return
        if self._ping_thread is not None and self._ping_thread.is_alive():
            return  # the last ping still hangs; a slow monitor must never slow alerting down
        self._last_ping = now
        self._ping_thread = threading.Thread(target=_ping, args=(url,), daemon=True)
        self._ping_thread.start()

    def _beat(self) -> None:
        now = clock.now()
        with transaction.atomic():
            WorkerHeartbeat.objects.update_or_create(
                worker_id=self._worker_id,
                defaults={
                    "hostname": socket.gethostname()[:200],
                    "pid": os.getpid(),
                    "started_at": self._started_at,
                    "last_tick_at": now,
                },
            )
            WorkerHeartbeat.objects.filter(last_tick_at__lt=now - STALE_HEARTBEAT).delete()

    def _remove_heartbeat(self) -> None:
        # A deliberate stop shows on the staff pages at once instead of 30 seconds later.
        try:
            WorkerHeartbeat.objects.filter(worker_id=self._worker_id).delete()
        except DatabaseError:
            logger.warning("could not remove the heartbeat of worker %s", self._worker_id)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        del frame
        self.stdout.write(f"received {signal.Signals(signum).name}; stopping after this tick")
        self._stop.set()
        if self._listener is not None:
            self._listener.interrupt()

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}  # signals reach the main thread only; the caller stops us some other way
        previous: dict[int, Any] = {}
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, self._on_signal)
        return previous

    def _restore_signal_handlers(self, previous: dict[int, Any]) -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _ping(url: str) -> None:
    shown = _without_secrets(url)
    if urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
        logger.warning("dead-man's switch %s: only http and https URLs are pinged", shown)
        return
    try:
        # The scheme was checked above (S310).
        with urllib.request.urlopen(url, timeout=DEADMAN_TIMEOUT_SECONDS) as response:  # noqa: S310
            response.read(1024)
    except (OSError, ValueError) as exc:
        logger.warning("dead-man's switch ping to %s failed (%s)", shown, type(exc).__name__)


def _without_secrets(url: str) -> str:
    """The URL without its query and credentials, which may carry a token."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def _refresh_connections() -> None:
    """Drop connections that broke or outlived CONN_MAX_AGE, as Django does between requests.

    A connection inside a transaction is left alone: that is a caller's (a test's) transaction."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
