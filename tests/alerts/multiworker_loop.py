"""Subprocess side of the multi-worker test (run as `python -m tests.alerts.multiworker_loop`).

seed N       create N protected people, each with a check-in schedule already overdue
work GO_FILE wait for GO_FILE, then detect missed check-ins in small batches until three
             rounds in a row find nothing; print how many schedules this worker fired
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refuge.config.settings")
    import django

    django.setup()


def seed(count: int) -> None:
    from refuge.alerts.models import CheckinSchedule
    from refuge.core import clock
    from refuge.people.models import ProtectedPerson

    now = clock.now()
    people = [ProtectedPerson.objects.create(pseudonym=f"MW-{i:05d}") for i in range(count)]
    deadline = now - dt.timedelta(hours=1)
    CheckinSchedule.objects.bulk_create(
        CheckinSchedule(
            person=person,
            kind="interval",
            interval_hours=24,
            time_zone="UTC",
            grace_minutes=5,
            next_deadline=deadline,
            alert_at=deadline + dt.timedelta(minutes=5),
        )
        for person in people
    )
    print(f"seeded {count}")  # noqa: T201 - read by the test


def work(go_file: Path) -> None:
    from refuge.alerts.services import checkins
    from refuge.core import clock

    while not go_file.exists():
        time.sleep(0.01)
    fired = 0
    idle = 0
    while idle < 3:
        done = checkins.checkins_detect_missed(clock.now(), limit=10)
        fired += done
        idle = 0 if done else idle + 1
        if not done:
            time.sleep(0.05)
    print(f"fired {fired}")  # noqa: T201 - read by the test


if __name__ == "__main__":
    _setup()
    if sys.argv[1] == "seed":
        seed(int(sys.argv[2]))
    else:
        work(Path(sys.argv[2]))
