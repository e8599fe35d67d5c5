"""Worker wake-ups (refuge.core.wakeup): what sends them, what receives them, and that losing one
only leaves the work to the poll. The end-to-end checks with a real worker process are in
test_wakeup_worker.py."""

from __future__ import annotations

import datetime as dt
import os
import socket
import stat
import threading
from pathlib import Path

import pytest
from django.db import connection, transaction

from refuge.core import clock, jobs, wakeup
from refuge.core.models import Job

on_postgres = pytest.mark.skipif(
    os.environ.get("REFUGE_DATABASE_URL", os.environ.get("DATABASE_URL", "")).split(":")[0]
    not in {"postgres", "postgresql"},
    reason="LISTEN/NOTIFY is PostgreSQL's",
)
on_sqlite = pytest.mark.skipif(
    os.environ.get("REFUGE_DATABASE_URL", os.environ.get("DATABASE_URL", "")).split(":")[0]
    in {"postgres", "postgresql"},
    reason="the wake-up socket is SQLite's",
)


@jobs.register("tests.wakeup_noop")
def _noop(payload: jobs.Payload) -> None:
    del payload


@pytest.fixture
def socket_listener(settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    settings.VAR_DIR = tmp_path
    listener = wakeup.SocketListener(wakeup.socket_address())
    yield listener
    listener.close()


# --- the SQLite socket ----------------------------------------------------------------------------


def test_a_poke_wakes_the_socket_listener_before_its_timeout(socket_listener):
    wakeup.poke_local()
    assert socket_listener.wait(30) is True


def test_without_a_poke_the_listener_waits_out_its_timeout(socket_listener):
    assert socket_listener.wait(0.01) is False


def test_many_pokes_are_drained_by_one_wait(socket_listener):
    for _ in range(50):
        wakeup.poke_local()
    assert socket_listener.wait(30) is True
    assert socket_listener.wait(0.01) is False  # one tick serves them all


def test_an_idle_poke_is_taken_in_without_ending_the_wait(socket_listener):
    wakeup.poke_local_idle()
    assert socket_listener.wait(0.2) is False  # read, and the wait went on to its end
    assert socket_listener.wait(0.01) is False  # nothing left behind


def test_a_poke_among_idle_ones_ends_the_wait(socket_listener):
    wakeup.poke_local_idle()
    wakeup.poke_local()
    wakeup.poke_local_idle()
    assert socket_listener.wait(30) is True


def test_an_idle_poke_then_a_real_one_ends_the_wait_at_the_real_one(socket_listener):
    wakeup.poke_local_idle()
    threading.Timer(0.05, wakeup.poke_local).start()
    assert socket_listener.wait(30) is True


def test_the_socket_file_is_private_to_the_workers_user(socket_listener):
    mode = Path(str(socket_listener.address)).stat().st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) & 0o077 == 0


def test_a_poke_with_no_worker_listening_is_silently_nothing(settings, tmp_path, caplog):
    settings.VAR_DIR = tmp_path
    wakeup.poke_local()  # no socket file at all
    Path(tmp_path / wakeup.SOCKET_NAME).write_text("")  # not even a socket
    wakeup.poke_local()
    assert "could not wake" not in caplog.text


def test_a_socket_left_by_a_killed_worker_is_reclaimed(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    address = wakeup.socket_address()
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(address)
    dead.close()  # the file stays, nobody reads it: what kill -9 leaves behind
    listener = wakeup.SocketListener(address)
    try:
        wakeup.poke_local()
        assert listener.wait(30) is True
    finally:
        listener.close()


def test_a_second_worker_on_sqlite_falls_back_to_polling(socket_listener, caplog):
    second = wakeup.listener() if connection.vendor == "sqlite" else None
    if second is None:
        pytest.skip("SQLite only")
    try:
        assert isinstance(second, wakeup.PollingListener)
        assert "another worker has it" in caplog.text
    finally:
        second.close()


def test_a_var_dir_too_long_for_a_socket_path_uses_an_abstract_address(settings, tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    settings.VAR_DIR = deep
    address = wakeup.socket_address()
    assert isinstance(address, bytes)
    assert address.startswith(b"\0refuge-worker-")
    listener = wakeup.SocketListener(address)
    try:
        wakeup.poke_local()
        assert listener.wait(30) is True
    finally:
        listener.close()


def test_interrupt_ends_a_wait_at_once_from_another_thread(socket_listener):
    threading.Timer(0.05, socket_listener.interrupt).start()
    assert socket_listener.wait(30) is True


def test_the_polling_listener_can_be_interrupted():
    listener = wakeup.PollingListener()
    try:
        listener.interrupt()
        assert listener.wait(30) is True
        assert listener.wait(0.01) is False
    finally:
        listener.close()


# --- who sends wake-ups ---------------------------------------------------------------------------


def _enqueue_then_roll_back() -> None:
    with transaction.atomic():
        jobs.enqueue("tests.wakeup_noop")
        transaction.set_rollback(True)


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_a_job_due_now_wakes_the_worker_when_its_transaction_commits(socket_listener):
    with transaction.atomic():
        jobs.enqueue("tests.wakeup_noop")
        assert socket_listener.wait(0.01) is False  # not before the commit
    assert socket_listener.wait(30) is True


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_job_wakes_nobody(socket_listener):
    _enqueue_then_roll_back()
    assert socket_listener.wait(0.05) is False
    assert not Job.objects.exists()


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_a_job_for_later_wakes_nobody(socket_listener):
    jobs.enqueue("tests.wakeup_noop", run_after=clock.now() + dt.timedelta(hours=1))
    assert socket_listener.wait(0.05) is False


@on_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("audit_truncatable")
def test_postgres_notify_reaches_a_listener_on_commit_only():
    listener = wakeup.PostgresListener()
    try:
        with transaction.atomic():
            jobs.enqueue("tests.wakeup_noop")
            assert listener.wait(0.05) is False  # NOTIFY is held until the commit
        assert listener.wait(30) is True
        _enqueue_then_roll_back()
        assert listener.wait(0.2) is False  # rolled back: never delivered
    finally:
        listener.close()


@on_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("audit_truncatable")
def test_postgres_idle_notify_is_taken_in_without_ending_the_wait():
    listener = wakeup.PostgresListener()
    try:
        wakeup.wake_worker(work=False)  # autocommit: sent at once
        assert listener.wait(0.3) is False
        wakeup.wake_worker(work=False)
        wakeup.wake_worker()
        assert listener.wait(30) is True
    finally:
        listener.close()


@on_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("audit_truncatable")
def test_postgres_listener_reconnects_after_its_connection_is_killed():
    listener = wakeup.PostgresListener()
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE %s AND pid <> pg_backend_pid()",
                [f"LISTEN {wakeup.CHANNEL}%"],
            )
        # The broken connection reads as a wake-up (the worker ticks, finding whatever was
        # committed meanwhile) and the listener connects again.
        assert listener.wait(5) is True
        for _ in range(10):  # the rest of the old connection's goodbye, then quiet
            if not listener.wait(0.2):
                break
        assert listener.listening
        wakeup.wake_worker()  # autocommit: sent at once
        assert listener.wait(30) is True
    finally:
        listener.close()


def test_a_failing_wake_up_is_logged_and_never_raises(monkeypatch, caplog, db):
    def broken(func):  # type: ignore[no-untyped-def]
        raise OSError("no")

    monkeypatch.setattr(transaction, "on_commit", broken)
    monkeypatch.setattr(connection, "vendor", "sqlite")
    wakeup.wake_worker()
    assert "could not wake the worker (OSError)" in caplog.text


def test_one_worker_per_sqlite_database_holds_the_lock(socket_listener, settings):
    assert wakeup.sole_sqlite_worker()
    with pytest.raises(wakeup.AddressInUseError):
        wakeup.SocketListener(wakeup.socket_address() + "-other")  # the lock, not the socket
    socket_listener.close()
    assert not wakeup.sole_sqlite_worker()
    again = wakeup.SocketListener(wakeup.socket_address())  # released with the first
    try:
        assert wakeup.sole_sqlite_worker()
    finally:
        again.close()
