"""The job queue (refuge.core.jobs) and `refuge worker`."""

from __future__ import annotations

import datetime as dt
import os
import signal

import pytest
from django.core.management import call_command
from django.db import transaction

from refuge.accounts.models import Team
from refuge.core import clock, jobs
from refuge.core.models import Job, WorkerHeartbeat
from refuge.people.models import ProtectedPerson
from refuge.people.tasks import REFRESH_MINOR_FLAGS
from tests.factories import PersonFactory

START = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
calls: list[dict[str, object]] = []
failures_left: dict[str, int] = {}


@jobs.register("tests.record")
def _record(payload: jobs.Payload) -> None:
    calls.append(dict(payload))


@jobs.register("tests.flaky")
def _flaky(payload: jobs.Payload) -> None:
    # The message quotes a phone number, as a careless handler's error might.
    key = str(payload["key"])
    if failures_left.get(key, 0) > 0:
        failures_left[key] -= 1
        raise RuntimeError("could not reach +7 900 555-01-23")
    calls.append(dict(payload))


@jobs.register("tests.writes_then_fails")
def _writes_then_fails(payload: jobs.Payload) -> None:
    Team.objects.create(name=str(payload["team"]))
    raise ValueError


@pytest.fixture(autouse=True)
def _reset() -> None:
    calls.clear()
    failures_left.clear()


@pytest.fixture
def at_start(time_machine):  # type: ignore[no-untyped-def]
    time_machine.move_to(START, tick=False)
    return time_machine


# The test's own transaction stays open around these: on PostgreSQL a transactional test could
# not flush the append-only audit table afterwards. A savepoint rolls back the same way.
@pytest.mark.django_db
def test_job_enqueued_in_a_rolled_back_transaction_is_gone():
    def enqueue_then_fail() -> None:
        with transaction.atomic():
            jobs.enqueue("tests.record", {"id": "a"})
            assert Job.objects.count() == 1
            raise RuntimeError

    with pytest.raises(RuntimeError):
        enqueue_then_fail()
    assert not Job.objects.exists()
    assert jobs.run_due() == 0


@pytest.mark.django_db
def test_job_enqueued_in_a_committed_transaction_runs():
    with transaction.atomic():
        job = jobs.enqueue("tests.record", {"id": "a"})
    assert Job.objects.get().pk == job.pk
    assert jobs.run_due() == 1
    assert calls == [{"id": "a"}]


@pytest.mark.django_db
def test_idempotency_key_enqueues_once():
    first = jobs.enqueue("tests.record", {"id": "a"}, idempotency_key="notify:a")
    second = jobs.enqueue("tests.record", {"id": "b"}, idempotency_key="notify:a")
    assert second.pk == first.pk
    assert Job.objects.count() == 1
    jobs.run_due()
    assert calls == [{"id": "a"}]


@pytest.mark.django_db
def test_failed_job_is_retried_with_exponential_backoff(at_start):
    failures_left["k"] = 2
    job = jobs.enqueue("tests.flaky", {"key": "k"})

    assert jobs.run_due() == 1
    job.refresh_from_db()
    assert (job.state, job.attempts) == (Job.State.QUEUED, 1)
    assert job.run_after == START + dt.timedelta(seconds=10)
    assert jobs.run_due() == 0  # not due before its backoff has passed

    at_start.shift(dt.timedelta(seconds=10))
    assert jobs.run_due() == 1
    job.refresh_from_db()
    assert job.attempts == 2
    assert job.run_after == START + dt.timedelta(seconds=10 + 20)

    at_start.shift(dt.timedelta(seconds=20))
    assert jobs.run_due() == 1
    job.refresh_from_db()
    assert (job.state, job.attempts, job.last_error) == (Job.State.DONE, 3, "")
    assert calls == [{"key": "k"}]


@pytest.mark.django_db
def test_last_error_names_the_failure_without_its_message(at_start):
    failures_left["k"] = 1
    job = jobs.enqueue("tests.flaky", {"key": "k"})
    jobs.run_due()
    job.refresh_from_db()
    assert job.last_error.startswith("builtins.RuntimeError at ")
    assert "test_jobs.py" in job.last_error
    assert "555" not in job.last_error
    assert "reach" not in job.last_error


@pytest.mark.django_db
def test_job_fails_for_good_after_max_attempts(at_start):
    failures_left["k"] = 99
    job = jobs.enqueue("tests.flaky", {"key": "k"}, max_attempts=3)
    for _ in range(3):
        assert jobs.run_due() == 1
        at_start.shift(jobs.BACKOFF_MAX)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.attempts == 3
    assert job.finished_at is not None
    assert jobs.run_due() == 0


def test_backoff_doubles_up_to_its_cap():
    assert [jobs.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert jobs.backoff(50) == jobs.BACKOFF_MAX


@pytest.mark.django_db
def test_failed_handler_writes_roll_back_with_it():
    jobs.enqueue("tests.writes_then_fails", {"team": "ghost-team"})
    jobs.run_due()
    assert not Team.objects.filter(name="ghost-team").exists()
    assert Job.objects.get().last_error.startswith("builtins.ValueError")


@pytest.mark.django_db
def test_claimed_job_is_leased_until_its_worker_is_presumed_dead(at_start):
    job = jobs.enqueue("tests.record", {"id": "a"})
    assert [j.pk for j in jobs.claim_due(10)] == [job.pk]  # its worker then dies
    assert jobs.claim_due(10) == []
    at_start.shift(jobs.LEASE)
    again = jobs.claim_due(10)
    assert [j.pk for j in again] == [job.pk]
    assert again[0].attempts == 2  # the lost run counts as an attempt
    assert jobs.run_one(again[0]) is True
    assert calls == [{"id": "a"}]


@pytest.mark.django_db
def test_job_not_yet_due_waits(at_start):
    jobs.enqueue("tests.record", {"id": "a"}, run_after=START + dt.timedelta(minutes=5))
    assert jobs.run_due() == 0
    at_start.shift(dt.timedelta(minutes=5))
    assert jobs.run_due() == 1


@pytest.mark.django_db
def test_unknown_job_name_is_refused_at_enqueue():
    with pytest.raises(jobs.UnknownJobError):
        jobs.enqueue("tests.no_such_job", {})


@pytest.mark.django_db
def test_job_whose_handler_disappeared_fails_instead_of_crashing_the_worker():
    job = Job.objects.create(name="tests.gone", payload={}, run_after=clock.now(), max_attempts=1)
    assert jobs.run_due() == 1
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "UnknownJobError" in job.last_error


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [
        {"name": "Rustam Zaurbekovich Testaev"},
        {"phone": "+7 900 555-01-23"},
        {"address": "Nizhny Novgorod, ul. Testovaya 12, kv. 34"},
        {"id": "x" * 65},
        {"when": dt.date(2026, 1, 1)},
        {"nested": {"a": 1}},
    ],
)
def test_payload_holds_ids_only(payload):
    with pytest.raises((TypeError, ValueError)):
        jobs.enqueue("tests.record", payload)
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_idempotency_key_holds_ids_only():
    with pytest.raises(ValueError, match="idempotency key"):
        jobs.enqueue("tests.record", {}, idempotency_key="call from Rustam Testaev")
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_uuid_payload_values_are_stored_as_text():
    person = PersonFactory()
    job = jobs.enqueue("tests.record", {"person": person.pk, "ids": [person.pk], "n": 3})
    job.refresh_from_db()
    assert job.payload == {"person": str(person.pk), "ids": [str(person.pk)], "n": 3}


@pytest.mark.django_db
def test_periodic_tasks_are_queued_once_per_period(at_start):
    first = {job.name: job.pk for job in jobs.schedule_periodic()}
    again = {job.name: job.pk for job in jobs.schedule_periodic()}
    assert first == again
    assert REFRESH_MINOR_FLAGS in first
    assert Job.objects.filter(name=REFRESH_MINOR_FLAGS).count() == 1
    queued = Job.objects.get(name=REFRESH_MINOR_FLAGS)
    assert queued.run_after == dt.datetime(2026, 3, 10, tzinfo=dt.UTC)

    at_start.shift(dt.timedelta(days=1))
    jobs.schedule_periodic()
    assert Job.objects.filter(name=REFRESH_MINOR_FLAGS).count() == 2


def test_handler_names_are_unique():
    def other(payload: jobs.Payload) -> None:
        del payload

    with pytest.raises(ValueError, match="already handled"):
        jobs.register("tests.record")(other)


@pytest.mark.django_db
def test_worker_once_runs_due_jobs_and_writes_a_heartbeat(at_start):
    job = jobs.enqueue("tests.record", {"id": "a"})
    call_command("worker", "--once")
    job.refresh_from_db()
    assert job.state == Job.State.DONE
    assert calls == [{"id": "a"}]
    beat = WorkerHeartbeat.objects.get()
    assert beat.last_tick_at == START
    assert beat.pid == os.getpid()
    # The periodic tasks of the day were queued and run in the same tick.
    assert Job.objects.get(name=REFRESH_MINOR_FLAGS).state == Job.State.DONE


@pytest.mark.django_db
def test_worker_clears_the_minor_flag_on_the_eighteenth_birthday(time_machine):
    time_machine.move_to(dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC), tick=False)
    person = PersonFactory(date_of_birth=dt.date(2008, 6, 2), is_minor=True)
    call_command("worker", "--once")
    assert ProtectedPerson.objects.get(pk=person.pk).is_minor

    time_machine.shift(dt.timedelta(days=1))
    call_command("worker", "--once")
    assert not ProtectedPerson.objects.get(pk=person.pk).is_minor


@jobs.register("tests.sigterm_self")
def _sigterm_self(payload: jobs.Payload) -> None:
    # Sent from inside a job, so the worker's own handler is certainly installed by then.
    os.kill(os.getpid(), signal.SIGTERM)
    calls.append(dict(payload))


@pytest.mark.django_db
def test_worker_finishes_its_job_and_stops_on_sigterm(settings):
    settings.WORKER_POLL_SECONDS = 1
    jobs.enqueue("tests.sigterm_self", {"id": "a"})
    previous = signal.getsignal(signal.SIGTERM)
    call_command("worker")
    assert calls == [{"id": "a"}]
    assert Job.objects.get(name="tests.sigterm_self").state == Job.State.DONE
    # A deliberate stop removes the heartbeat, so the staff pages warn at once.
    assert not WorkerHeartbeat.objects.exists()
    assert signal.getsignal(signal.SIGTERM) is previous


@pytest.mark.django_db
def test_a_second_ctrl_c_while_the_worker_stops_does_not_interrupt_its_cleanup(settings):
    settings.WORKER_POLL_SECONDS = 1
    jobs.enqueue("tests.sigterm_self", {"id": "b"})
    # During the stop hooks (the sends being drained), a Ctrl-C as a terminal sends it.
    jobs.register_stop("tests.ctrl_c", lambda: os.kill(os.getpid(), signal.SIGINT))
    previous = signal.getsignal(signal.SIGINT)
    try:
        call_command("worker")  # returns normally: no KeyboardInterrupt
    finally:
        jobs._stop_hooks.pop("tests.ctrl_c", None)
    assert not WorkerHeartbeat.objects.exists()  # the cleanup ran to its end
    assert signal.getsignal(signal.SIGINT) is previous


@pytest.mark.django_db
def test_the_daily_minor_flags_job_queues_its_next_slice_until_none_is_left(monkeypatch):
    from refuge.people import services as people_services
    from refuge.people import tasks as people_tasks

    slices: list[object] = []

    def one_slice(*, after=None):  # type: ignore[no-untyped-def]
        slices.append(after)
        return 0, ("00000000-0000-0000-0000-000000000002" if after is None else None)

    monkeypatch.setattr(people_tasks, "people_refresh_minor_flags", one_slice)
    assert people_services.MINOR_FLAGS_PER_RUN == 100
    jobs.enqueue(REFRESH_MINOR_FLAGS, {})
    while jobs.run_due(5):
        pass
    assert slices == [None, "00000000-0000-0000-0000-000000000002"]
    assert set(Job.objects.values_list("state", flat=True)) == {Job.State.DONE}


@pytest.mark.django_db
def test_a_worker_tick_runs_the_tick_hooks_before_the_queued_jobs(at_start):
    order: list[str] = []
    jobs.register_tick("tests.order", lambda now: order.append("tick") or 0)
    jobs.register("tests.order_job")(lambda payload: order.append("job"))
    try:
        jobs.enqueue("tests.order_job", {})
        call_command("worker", "--once")
    finally:
        jobs._ticks.pop("tests.order", None)
        jobs._handlers.pop("tests.order_job", None)
    assert order.index("tick") < order.index("job")


@pytest.mark.django_db
def test_the_minor_flags_slices_run_again_the_next_day(at_start, monkeypatch):
    from refuge.people import tasks as people_tasks

    slices: list[object] = []

    def one_slice(*, after=None):  # type: ignore[no-untyped-def]
        slices.append(after)
        return 0, ("00000000-0000-0000-0000-000000000002" if after is None else None)

    monkeypatch.setattr(people_tasks, "people_refresh_minor_flags", one_slice)
    for _day in range(2):
        jobs.schedule_periodic()
        while jobs.run_due(5):
            pass
        at_start.shift(dt.timedelta(days=1))
    # Both days read both slices: the second day's continuation is not yesterday's job.
    assert slices == [None, "00000000-0000-0000-0000-000000000002"] * 2
