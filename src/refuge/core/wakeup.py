"""Waking `refuge worker` the moment urgent work is committed, instead of at its next poll.

A service that makes work due now (an emergency opened, a job queued to run at once) calls
`wake_worker()` inside its own transaction:

- PostgreSQL: `NOTIFY refuge_worker` is sent in that transaction, so the server delivers it when
  the transaction commits and drops it if it rolls back. Every worker LISTENs on a connection of
  its own (`Listener`); several workers are all woken and share the work through SKIP LOCKED.
- SQLite: after the commit (`transaction.on_commit`), one datagram goes to the worker's Unix
  socket, `worker.sock` under REFUGE_VAR_DIR (mode 0600 in the 0700 directory). SQLite has one
  worker, the holder of the exclusive lock on `worker.lock`; a second one finds it taken, is
  not woken and claims only with leases, as on PostgreSQL.

Nothing here is needed for correctness. The worker still polls every REFUGE_WORKER_POLL_SECONDS,
and what a wake-up asks for is read from the database, not from the message (which carries
nothing). A wake-up that is lost (no worker running, a full socket buffer, the listening
connection broken by a database restart) delays the work until the next poll; it never loses it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import psycopg
from django.conf import settings
from django.db import connection, transaction

logger = logging.getLogger(__name__)

CHANNEL = "refuge_worker"
SOCKET_NAME = "worker.sock"
LOCK_NAME = "worker.lock"
# sockaddr_un holds 108 bytes; longer paths fall back to the abstract namespace (Linux).
_MAX_SOCKET_PATH = 100
# What a wake-up says: look for work, or nothing (a signal that costs its sender what a real
# one costs, for callers whose every request must do the same work: see wake_worker).
_POKE, _IDLE = b"\x01", b"\x00"
_PAYLOAD = {True: "1", False: "0"}

_sender_lock = threading.Lock()
_sender: socket.socket | None = None


def wake_worker(*, work: bool = True) -> None:
    """Ask the worker to look for work as soon as the current transaction commits (at once when
    there is none). Cheap, never raises, never blocks.

    `work=False` sends the same signal, at the same cost, saying there is nothing to do: the
    worker takes it in and goes on waiting without a tick. For requests that must not differ
    by what they cost (a check-in with the duress PIN wakes the worker, one with the normal
    PIN must send the same NOTIFY or datagram without making it tick for a job that does
    nothing)."""
    try:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"NOTIFY {CHANNEL}, %s", [_PAYLOAD[work]])
        else:
            transaction.on_commit(poke_local if work else poke_local_idle)
    except Exception as exc:  # noqa: BLE001 - a wake-up is an optimisation; the poll remains
        logger.warning(
            "could not wake the worker (%s); it finds the work at its next poll", type(exc).__name__
        )


def socket_address() -> str | bytes:
    """Where the SQLite worker listens: a path under REFUGE_VAR_DIR, or, when that path is too
    long for a Unix socket, an abstract address derived from it."""
    path = str(Path(settings.VAR_DIR).resolve() / SOCKET_NAME)
    if len(path.encode()) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(path.encode()).hexdigest()[:24]
    return b"\0refuge-worker-" + digest.encode()


def poke_local() -> None:
    """One datagram to the SQLite worker's socket; silently nothing when no worker listens."""
    _send_datagram(_POKE)


def poke_local_idle() -> None:
    """The same datagram saying there is nothing to do (see wake_worker)."""
    _send_datagram(_IDLE)


def _send_datagram(message: bytes) -> None:
    global _sender  # noqa: PLW0603 - one sending socket per process, made on first use
    try:
        with _sender_lock:
            if _sender is None:
                _sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                _sender.setblocking(False)  # noqa: FBT003 - the socket API's own flag
            sender = _sender
        sender.sendto(message, socket_address())
    except OSError as exc:
        # ENOENT/ECONNREFUSED: no worker now; EAGAIN: its buffer is full, so it is awake anyway.
        if exc.errno not in {errno.ENOENT, errno.ECONNREFUSED, errno.EAGAIN, errno.ENOTCONN}:
            logger.warning("could not wake the worker (%s)", type(exc).__name__)


_local_waker: Callable[[], None] | None = None


def set_local_waker(waker: Callable[[], None] | None) -> None:
    """The worker registers how to end its own wait (its listener's `interrupt`), so that work
    finishing in one of its threads (a send) is recorded at once, not at the next poll."""
    global _local_waker  # noqa: PLW0603 - one worker loop per process
    _local_waker = waker


def wake_this_process() -> None:
    """End the wait of this process's worker loop, if it has one. Thread-safe."""
    waker = _local_waker
    if waker is not None:
        waker()


class Listener(Protocol):
    """What the worker waits on between ticks."""

    def wait(self, timeout: float) -> bool:
        """Block until a wake-up, `interrupt()` or `timeout` seconds; True when woken early."""
        ...

    def interrupt(self) -> None:
        """Make a `wait` in progress (or the next one) return at once. Safe in signal handlers."""
        ...

    def close(self) -> None: ...


class _Base:
    """Waits on the wake-up source and on a self-pipe that `interrupt()` writes to."""

    def __init__(self) -> None:
        self._pipe_r, self._pipe_w = os.pipe()
        os.set_blocking(self._pipe_r, False)
        os.set_blocking(self._pipe_w, False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._pipe_r, selectors.EVENT_READ, "interrupt")

    def interrupt(self) -> None:
        with contextlib.suppress(OSError):  # a full pipe already holds an interrupt
            os.write(self._pipe_w, b"\0")

    def _select(self, timeout: float) -> list[str]:
        try:
            ready = self._selector.select(max(0.0, timeout))
        except InterruptedError:  # pragma: no cover - PEP 475 retries; a signal stops early
            return ["interrupt"]
        tags = [str(key.data) for key, _events in ready]
        if "interrupt" in tags:
            with contextlib.suppress(OSError):
                while os.read(self._pipe_r, 512):
                    pass
        return tags

    def _wait_for_work(self, timeout: float, take_in: Callable[[], bool]) -> bool:
        """Wait until an interrupt, a wake-up that asks for work (`take_in` reads the ones
        that arrived and says whether any did), or the end of `timeout`."""
        ends = time.monotonic() + timeout
        while True:
            tags = self._select(ends - time.monotonic())
            if "interrupt" in tags:
                if "wake" in tags:
                    take_in()
                return True
            if "wake" in tags and take_in():
                return True
            if not tags or time.monotonic() >= ends:
                return False

    def close(self) -> None:
        self._selector.close()
        for fd in (self._pipe_r, self._pipe_w):
            with contextlib.suppress(OSError):
                os.close(fd)


class PollingListener(_Base):
    """No wake-up source: waits out the timeout (or an interrupt)."""

    def wait(self, timeout: float) -> bool:
        return bool(self._select(timeout))


_sole_sqlite_worker = False


def sole_sqlite_worker() -> bool:
    """True in the one worker of a SQLite database: the process that holds the worker lock
    (`worker.lock` under REFUGE_VAR_DIR) and the wake-up socket. It may skip what only several
    workers need (the delivery's lease written before a send: services.delivery)."""
    return _sole_sqlite_worker


class SocketListener(_Base):
    """SQLite: the datagram socket that `poke_local` sends to, held with an exclusive lock on
    `worker.lock` so that one worker at a time runs for a database (the lock goes with the
    process, however it ends)."""

    def __init__(self, address: str | bytes) -> None:
        global _sole_sqlite_worker  # noqa: PLW0603 - one worker loop per process
        super().__init__()
        self.address = address
        self._lock_fd = _lock_worker(Path(settings.VAR_DIR) / LOCK_NAME)
        try:
            self._socket = _bind(address)
        except BaseException:
            os.close(self._lock_fd)
            super().close()
            raise
        self._selector.register(self._socket, selectors.EVENT_READ, "wake")
        _sole_sqlite_worker = True

    def wait(self, timeout: float) -> bool:
        return self._wait_for_work(timeout, self._take_in)

    def _take_in(self) -> bool:
        """Drain the socket (one tick serves every wake-up so far); True if one asked for work."""
        work = False
        with contextlib.suppress(OSError):
            while message := self._socket.recv(64):
                work = work or message != _IDLE
        return work

    def close(self) -> None:
        global _sole_sqlite_worker  # noqa: PLW0603 - one worker loop per process
        _sole_sqlite_worker = False
        with contextlib.suppress(Exception):
            self._selector.unregister(self._socket)
        self._socket.close()
        if isinstance(self.address, str):
            with contextlib.suppress(OSError):
                Path(self.address).unlink()
        with contextlib.suppress(OSError):
            os.close(self._lock_fd)  # releases the lock
        super().close()


class AddressInUseError(OSError):
    """Another live worker runs for this SQLite database (its lock or socket is taken)."""


def _lock_worker(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        raise AddressInUseError(errno.EADDRINUSE, "another worker holds the worker lock") from exc
    return fd


def _bind(address: str | bytes) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setblocking(False)  # noqa: FBT003 - the socket API's own flag
    try:
        _bind_or_reclaim(sock, address)
    except BaseException:
        sock.close()
        raise
    return sock


def _bind_or_reclaim(sock: socket.socket, address: str | bytes) -> None:
    old_umask = os.umask(0o177)  # the socket file is created 0600
    try:
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or not isinstance(address, str):
                raise AddressInUseError(exc.errno, "wake-up socket in use") from exc
        else:
            return
        # The file exists: a live worker's, or left behind by one that was killed.
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            probe.connect(address)
        except ConnectionRefusedError:
            Path(address).unlink()  # stale: nobody reads it
            sock.bind(address)
            return
        finally:
            probe.close()
        raise AddressInUseError(errno.EADDRINUSE, "another worker listens on the wake-up socket")
    finally:
        os.umask(old_umask)


class PostgresListener(_Base):
    """PostgreSQL: LISTEN on a connection of the worker's own (autocommit, never in a
    transaction), reconnected after a failure; while it is down the worker polls."""

    def __init__(self) -> None:
        super().__init__()
        self._conn: Any = None
        self._fd: int | None = None
        self._connect()

    def _connect(self) -> None:
        params = {
            key: value
            for key, value in connection.get_connection_params().items()
            if key not in {"cursor_factory", "context"}
        }
        try:
            conn = psycopg.connect(**params, autocommit=True)
            conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as exc:
            logger.warning("worker wake-ups unavailable (%s); polling", type(exc).__name__)
            return
        self._conn, self._fd = conn, conn.fileno()
        self._selector.register(self._fd, selectors.EVENT_READ, "wake")

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(Exception):
                self._selector.unregister(fd)
        if conn is None:
            return
        with contextlib.suppress(Exception):
            conn.close()

    @property
    def listening(self) -> bool:
        return self._conn is not None

    def wait(self, timeout: float) -> bool:
        if self._conn is None:
            self._connect()  # once per wait at most: a poll interval between tries
        return self._wait_for_work(timeout, self._drain)

    def _drain(self) -> bool:
        """Read the notifications that arrived; True if one asked for work, or the listening
        connection was lost (what was committed meanwhile is found by the tick)."""
        work = False
        try:
            pgconn = self._conn.pgconn
            pgconn.consume_input()
            while (notify := pgconn.notifies()) is not None:
                work = work or notify.extra != _PAYLOAD[False].encode()
            if pgconn.status != psycopg.pq.ConnStatus.OK:
                raise psycopg.OperationalError("listening connection lost")
        except psycopg.Error as exc:
            # Listen again at once. What was committed while nobody listened is found by the
            # tick this wait returns to (the caller treats it as a wake-up).
            logger.warning("worker wake-up connection lost (%s); reconnecting", type(exc).__name__)
            self._drop()
            self._connect()
            return True
        return work

    def close(self) -> None:
        self._drop()
        super().close()


def listener() -> Listener:
    """The wake-up source for this database: LISTEN on PostgreSQL, the Unix socket on SQLite,
    and plain waiting when neither can be had (the poll still finds every piece of work)."""
    if connection.vendor == "postgresql":
        return PostgresListener()
    address = socket_address()
    try:
        return SocketListener(address)
    except OSError as exc:
        reason = (
            "another worker has it" if isinstance(exc, AddressInUseError) else type(exc).__name__
        )
        logger.warning("worker wake-up socket unavailable (%s); polling only", reason)
        return PollingListener()
