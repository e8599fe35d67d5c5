"""Job entry points of the exports app: call one service, return."""

from __future__ import annotations

import datetime as dt

from refuge.core import jobs
from refuge.exports.services import export_requests_expire

EXPIRE_REQUESTS = "exports.expire_requests"


@jobs.register(EXPIRE_REQUESTS)
def expire_requests(payload: jobs.Payload) -> None:
    del payload  # works on every overdue request; the job carries no ids
    export_requests_expire()


# Hourly: the services also expire an overdue request the moment anyone acts on it, so this
# only keeps the lists and the audit trail timely.
jobs.register_periodic(EXPIRE_REQUESTS, every=dt.timedelta(hours=1))
