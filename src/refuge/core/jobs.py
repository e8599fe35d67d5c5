"""The background job queue: a transactional outbox on core.models.Job, run by `refuge worker`.

A service that needs work done later calls `enqueue()` inside its own transaction, so the job
exists exactly when the change that needs it was committed. The worker claims due jobs, runs each
handler in a transaction that also marks the job done, and retries failures with exponential
backoff until `max_attempts`, when the job is marked FAILED.

Payloads carry ids only: the queue is plain text in the database and must never hold a name, a
phone number or an address. For the same reason `last_error` keeps the exception's type and where
it was raised, never its message (messages often quote the values that failed).

Core knows no domain: apps register handlers and periodic tasks from their AppConfig.ready().
Work that must run on every tick of the worker (due escalation steps, the notification outbox)
registers a tick hook instead (`register_tick`): a function of the current time that returns how
much it did, and optionally a function that says when its next piece of work falls due, so the
worker can sleep exactly until then. Each hook runs on its own, so one that fails never stops
the others. A job queued to run at once wakes the worker (`core.wakeup`) when its transaction
commits.
On PostgreSQL any number of workers may run (claims use SELECT ... FOR UPDATE SKIP LOCKED); on
SQLite a single worker runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sysconfig
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q

from refuge.core import clock, wakeup
from refuge.core.models import Job

logger = logging.getLogger(__name__)

Payload = Mapping[str, Any]
Handler = Callable[[Payload], None]
H = TypeVar("H", bound=Handler)
TickHook = Callable[[dt.datetime], int]
NextDue = Callable[[], "dt.datetime | None"]

DEFAULT_MAX_ATTEMPTS = 10
BACKOFF_BASE = dt.timedelta(seconds=10)
BACKOFF_MAX = dt.timedelta(hours=1)
# A claimed job is invisible to other workers this long; if its worker dies, it runs again.
LEASE = dt.timedelta(minutes=10)
# Ids, codes and pseudonyms; no blanks, so no name, phone number or address fits.
_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# Idempotency keys are stored in plain text too: ids and timestamps joined by separators.
_KEY_RE = re.compile(r"^[A-Za-z0-9_.:+-]{1,200}$")
FINISHED_JOBS_KEPT = dt.timedelta(days=30)
_ERROR_LIMIT = 500

_handlers: dict[str, Handler] = {}
_periodic: dict[str, PeriodicTask] = {}
_ticks: dict[str, TickHook] = {}
_next_due: dict[str, NextDue] = {}
_stop_hooks: dict[str, Callable[[], object]] = {}


class UnknownJobError(LookupError):
    """No handler is registered under this job name."""


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    every: dt.timedelta


def register(name: str) -> Callable[[H], H]:
    """Register the handler of job `name`. Handlers take the payload and must be idempotent:
    a job whose worker died after the handler committed may not run twice, but one whose worker
    died before it did will."""

    def decorator(handler: H) -> H:
        existing = _handlers.get(name)
        if existing is not None and _qualified(existing) != _qualified(handler):
            raise ValueError(f"job {name!r} is already handled by {_qualified(existing)}")
        _handlers[name] = handler
        return handler

    return decorator


def register_periodic(name: str, *, every: dt.timedelta) -> None:
    """Run job `name` (registered with `register`) once per period of length `every`."""
    if every < dt.timedelta(minutes=1):
        raise ValueError("periodic tasks run at most once a minute")
    _periodic[name] = PeriodicTask(name=name, every=every)


def register_tick(name: str, hook: TickHook, *, next_due: NextDue | None = None) -> None:
    """Run `hook(now)` on every tick of `refuge worker`, in registration order. The hook returns
    how much work it did (0 when nothing was due); it must be quick when nothing is due and safe
    to run on several workers at once. `next_due()`, if given, returns when the hook's next
    piece of work falls due (None: nothing is waiting), read with one indexed query; the worker
    wakes at that moment instead of at its next poll."""
    existing = _ticks.get(name)
    if existing is not None and _qualified(existing) != _qualified(hook):
        raise ValueError(f"tick hook {name!r} is already registered by {_qualified(existing)}")
    _ticks[name] = hook
    if next_due is not None:
        _next_due[name] = next_due


def registered_ticks() -> dict[str, TickHook]:
    return dict(_ticks)


def run_ticks(now: dt.datetime | None = None) -> int:
    """Run every tick hook; return the sum of the work they report. A hook that raises is
    logged (its error's type and place, never its message) and the next one runs. Without
    `now`, each hook gets the time it starts at, so a later hook sees what an earlier one did."""
    done = 0
    for name, hook in list(_ticks.items()):
        try:
            done += int(hook(now or clock.now()))
        except Exception as exc:  # noqa: BLE001 - one failing hook must not stop the others
            logger.error("tick hook %s failed: %s", name, describe_error(exc))  # noqa: TRY400
    return done


def register_stop(name: str, hook: Callable[[], object]) -> None:
    """Run `hook()` once when `refuge worker` stops (a signal, not a crash): finish what the
    worker's threads are doing, close connections. It must return within seconds."""
    _stop_hooks[name] = hook


def run_stop_hooks() -> None:
    for name, hook in list(_stop_hooks.items()):
        try:
            hook()
        except Exception as exc:  # noqa: BLE001 - one failing hook must not stop the others
            logger.error("stop hook %s failed: %s", name, describe_error(exc))  # noqa: TRY400


def next_due() -> dt.datetime | None:
    """The earliest moment a queued job or a tick hook's work falls due (None: nothing waits).
    A hook whose query fails is left out: the worker's poll covers it."""
    times: list[dt.datetime] = []
    queued = (
        Job.objects.filter(state=Job.State.QUEUED)
        .order_by("run_after")
        .values_list("run_after", "locked_until")
        .first()
    )
    if queued is not None:
        run_after, locked_until = queued
        times.append(max(run_after, locked_until) if locked_until else run_after)
    for name, due in list(_next_due.items()):
        try:
            when = due()
        except Exception as exc:  # noqa: BLE001 - a broken estimate must not stop the worker
            logger.error("next-due estimate of %s failed: %s", name, describe_error(exc))  # noqa: TRY400
            continue
        if when is not None:
            times.append(when)
    return min(times) if times else None


def registered_handlers() -> dict[str, Handler]:
    return dict(_handlers)


def periodic_tasks() -> list[PeriodicTask]:
    return list(_periodic.values())


def _qualified(handler: Callable[..., Any]) -> str:
    return f"{handler.__module__}.{getattr(handler, '__qualname__', repr(handler))}"


def _clean_payload(payload: Payload) -> dict[str, Any]:
    """Only ids, numbers and flags: anything else is refused before it is stored."""
    cleaned: dict[str, Any] = {}
    for key, value in payload.items():
        if not isinstance(key, str):
            raise TypeError("job payload keys must be strings")
        cleaned[key] = _clean_value(key, value)
    return cleaned


def _clean_value(key: str, value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_clean_value(key, item) for item in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        if not _ID_RE.match(value):
            raise ValueError(f"job payload value {key!r} does not look like an id")
        return value
    raise TypeError(f"job payload value {key!r} must be an id, a number or a flag")


def enqueue(
    name: str,
    payload: Payload | None = None,
    *,
    run_after: dt.datetime | None = None,
    idempotency_key: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> Job:
    """Queue job `name`. Call it inside the transaction of the change that needs the job: if that
    transaction rolls back, the job is gone with it. With an idempotency key, a job that was
    already queued under the same key is returned instead of a new one. A job due now wakes the
    worker on commit."""
    _check_request(name, max_attempts, idempotency_key)
    if idempotency_key is not None:
        existing = Job.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    job = Job(
        name=name,
        payload=_clean_payload(payload or {}),
        idempotency_key=idempotency_key,
        run_after=run_after or clock.now(),
        max_attempts=max_attempts,
    )
    try:
        with transaction.atomic():
            job.save(force_insert=True)
    except IntegrityError:
        if idempotency_key is None:
            raise
        # Another transaction queued the same key between our check and our insert.
        return Job.objects.get(idempotency_key=idempotency_key)
    if job.run_after <= clock.now():
        wakeup.wake_worker()
    return job


def _check_request(name: str, max_attempts: int, idempotency_key: str | None) -> None:
    if name not in _handlers:
        raise UnknownJobError(f"no handler is registered for job {name!r}")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if idempotency_key is not None and not _KEY_RE.match(idempotency_key):
        raise ValueError("an idempotency key is ids and separators only, without blanks")


def _due(now: dt.datetime) -> Q:
    return Q(state=Job.State.QUEUED, run_after__lte=now) & (
        Q(locked_until__isnull=True) | Q(locked_until__lte=now)
    )


def claim_due(limit: int) -> list[Job]:
    """Lease up to `limit` due jobs to this worker, oldest first.

    The attempt is counted when the job is claimed, so a handler that kills its worker (out of
    memory, a segfault) still uses up its attempts instead of looping forever."""
    now = clock.now()
    if not Job.objects.filter(_due(now)).exists():
        return []  # the common case: no write transaction (on SQLite, no write lock) for nothing
    with transaction.atomic():
        due = Job.objects.filter(_due(now)).order_by("run_after", "created_at")
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True)
        # SQLite: transactions begin IMMEDIATE, so a single polling worker holds the write lock.
        jobs = list(due[:limit])
        # One UPDATE for the batch, not one per job: the worker that claims them also pages
        # people.
        Job.objects.filter(pk__in=[job.pk for job in jobs]).update(
            attempts=F("attempts") + 1, locked_until=now + LEASE
        )
        for job in jobs:
            job.attempts += 1
            job.locked_until = now + LEASE
    return jobs


def backoff(attempts: int) -> dt.timedelta:
    """Delay before the next try after `attempts` failed tries: 10 s, 20 s, 40 s, ... up to 1 h."""
    # The exponent is capped so a large max_attempts cannot overflow timedelta.
    delay = BACKOFF_BASE * (1 << min(max(attempts - 1, 0), 20))
    return min(delay, BACKOFF_MAX)


def describe_error(exc: BaseException) -> str:
    """The exception's type and where it was raised, never its message (it may quote data).

    "Where" is the innermost frame of our own code, not of a library it called into."""
    kind = type(exc)
    text = f"{kind.__module__}.{kind.__qualname__}"
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/refuge/" in f.filename or not _is_library(f.filename)]
    frame = (ours or frames)[-1] if frames else None
    if frame is not None:
        path = "/".join(frame.filename.replace("\\", "/").split("/")[-3:])
        text += f" at {path}:{frame.lineno} in {frame.name}"
    return text[:_ERROR_LIMIT]


_LIBRARY_DIRS = tuple(
    {sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib"), sysconfig.get_path("purelib")}
)


def _is_library(filename: str) -> bool:
    return "site-packages" in filename or filename.startswith(_LIBRARY_DIRS)


def run_one(job: Job) -> bool:
    """Run a job returned by `claim_due`. True if it succeeded.

    The handler's writes and the DONE mark commit together; on failure both roll back and the
    job is rescheduled (or marked FAILED after its last attempt)."""
    handler = _handlers.get(job.name)
    if handler is None:
        # Queued by a version of Refuge that had this job, or its app is not installed.
        _record_failure(job, UnknownJobError(job.name))
        return False
    try:
        with transaction.atomic():
            locked = Job.objects.filter(pk=job.pk, state=Job.State.QUEUED, attempts=job.attempts)
            if connection.vendor == "postgresql":
                # Held until commit: another worker cannot claim it even if our lease runs out.
                locked = locked.select_for_update()
            if not locked.exists():
                return False  # finished or re-claimed by another worker meanwhile
            handler(job.payload)
            job.state = Job.State.DONE
            job.finished_at = clock.now()
            job.locked_until = None
            job.last_error = ""
            job.save(update_fields=["state", "finished_at", "locked_until", "last_error"])
    except Exception as exc:  # noqa: BLE001 - any failure of a handler is recorded and retried
        _record_failure(job, exc)
        return False
    return True


def _record_failure(job: Job, exc: Exception) -> None:
    now = clock.now()
    job.last_error = describe_error(exc)
    job.locked_until = None
    if job.attempts >= job.max_attempts:
        job.state = Job.State.FAILED
        job.finished_at = now
    else:
        job.state = Job.State.QUEUED
        job.finished_at = None
        job.run_after = now + backoff(job.attempts)
    with transaction.atomic():
        job.save(update_fields=["last_error", "locked_until", "state", "finished_at", "run_after"])
    logger.warning(
        "job %s (%s) failed on attempt %d of %d: %s; %s",
        job.pk,
        job.name,
        job.attempts,
        job.max_attempts,
        job.last_error,
        "giving up"
        if job.state == Job.State.FAILED
        else f"next try at {job.run_after.isoformat()}",
    )


def run_due(limit: int = 20) -> int:
    """Claim and run up to `limit` due jobs; return how many were run (succeeded or not)."""
    jobs = claim_due(limit)
    for job in jobs:
        run_one(job)
    return len(jobs)


def period_start(task: PeriodicTask, now: dt.datetime) -> dt.datetime:
    """The start of the period containing `now`, counted in whole periods from the Unix epoch."""
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    periods = (now - epoch) // task.every
    return epoch + periods * task.every


def schedule_periodic(now: dt.datetime | None = None) -> list[Job]:
    """Queue each periodic task once for the current period (the key makes repeats no-ops).

    Periods missed while no worker ran are not caught up: the current one is enough for the
    maintenance work these tasks do."""
    now = now or clock.now()
    queued: list[Job] = []
    for task in _periodic.values():
        start = period_start(task, now)
        key = f"periodic:{task.name}:{start.isoformat()}"
        with transaction.atomic():
            queued.append(enqueue(task.name, {}, run_after=start, idempotency_key=key))
    return queued


@register("core.purge_finished_jobs")
def purge_finished_jobs(payload: Payload) -> None:
    """Finished jobs are history nobody reads; failed ones stay for an operator to inspect."""
    del payload
    cutoff = clock.now() - FINISHED_JOBS_KEPT
    Job.objects.filter(state=Job.State.DONE, finished_at__lt=cutoff).delete()


register_periodic("core.purge_finished_jobs", every=dt.timedelta(days=1))
