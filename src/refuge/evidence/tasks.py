"""Job entry points of the evidence app: the janitor of orphaned upload and storage files."""

from __future__ import annotations

import datetime as dt

from refuge.core import jobs
from refuge.evidence.services import evidence_clean_orphans

CLEAN_ORPHANS = "evidence.clean_orphans"


@jobs.register(CLEAN_ORPHANS)
def clean_orphans(payload: jobs.Payload) -> None:
    del payload  # looks at the whole evidence directory; the job carries no ids
    evidence_clean_orphans()


# Hourly: orphans only come from crashed uploads and crashes between rename and commit, and
# they are encrypted; removing them is housekeeping, not protection.
jobs.register_periodic(CLEAN_ORPHANS, every=dt.timedelta(hours=1))
