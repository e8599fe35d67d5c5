"""Job entry points of the people app: load ids, call one service, return."""

from __future__ import annotations

import datetime as dt

from refuge.core import jobs
from refuge.people.services import people_refresh_minor_flags

REFRESH_MINOR_FLAGS = "people.refresh_minor_flags"


@jobs.register(REFRESH_MINOR_FLAGS)
def refresh_minor_flags(payload: jobs.Payload) -> None:
    del payload  # works on every person; the job carries no ids
    people_refresh_minor_flags()


# Daily: a person's eighteenth birthday must lift the minors' rules within a day.
jobs.register_periodic(REFRESH_MINOR_FLAGS, every=dt.timedelta(days=1))
