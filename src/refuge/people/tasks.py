"""Job entry points of the people app: load ids, call one service, return."""

from __future__ import annotations

import datetime as dt

from refuge.core import jobs
from refuge.people.services import people_refresh_minor_flags

REFRESH_MINOR_FLAGS = "people.refresh_minor_flags"


@jobs.register(REFRESH_MINOR_FLAGS)
def refresh_minor_flags(payload: jobs.Payload) -> None:
    """One slice of minors (people.services.MINOR_FLAGS_PER_RUN); the next slice is queued as a
    job of its own, so the worker's ticks (the emergency line's pages) run between slices. A
    hundred thousand minors decrypted in one job held back the first page by 11 s
    (bench/README.md)."""
    _cleared, last = people_refresh_minor_flags(after=payload.get("after"))
    if last is not None:
        # No idempotency key: the next slice is queued in the transaction that marks this one
        # done, so it exists exactly once; a key naming the id would match yesterday's job.
        jobs.enqueue(REFRESH_MINOR_FLAGS, {"after": last})


# Daily: a person's eighteenth birthday must lift the minors' rules within a day.
jobs.register_periodic(REFRESH_MINOR_FLAGS, every=dt.timedelta(days=1))
