"""Crash safety of the notification outbox, with a real worker process and wake-ups in play.

`refuge worker` runs against a fresh instance on the suite's database engine (SQLite or
PostgreSQL: tests.alerts.live), polling only every 30 s, and sends through Apprise to a local
HTTP receiver. The emergencies are raised while it runs, so their commits wake it. The receiver
holds the first requests open (sends in flight), and the test kills the worker with SIGKILL right
then. A second worker, started after, must deliver every notification: none lost, and a duplicate
at most once per channel (the in-flight sends whose result was never recorded are sent again once
their lease runs out; the second worker wakes for that by its timer, not its poll).
"""

from __future__ import annotations

import collections
import signal

import pytest

from tests.alerts import live
from tests.alerts.conftest import HttpSink
from tests.conftest import FALCON_NAME, FALCON_PHONE, FLAT_ADDRESS

STAFF = 6
PEOPLE = ("FALCON", "BIRCH", "HERON")
HELD = 4
POLL_SECONDS = 30  # every send in this test is driven by a wake-up or by the worker's timer

SETUP = f"""
import os
from refuge.accounts.models import Role, User
from refuge.alerts.models import StaffChannel

sink = os.environ["CRASH_TEST_SINK"]
for i in range({STAFF}):
    user = User.objects.create_user(
        f"staff{{i}}", role=Role.COORDINATOR if i % 2 else Role.OPERATOR
    )
    StaffChannel.objects.create(user=user, kind="webhook", target=f"{{sink}}/staff{{i}}")
print("ready")
"""

RAISE = f"""
from refuge.alerts.models import EmergencySource
from refuge.alerts.services import emergencies
from refuge.core import clock
from refuge.people.models import ProtectedPerson

for name in {PEOPLE!r}:
    person = ProtectedPerson(pseudonym=name)
    person.legal_name = {FALCON_NAME!r}
    person.phones = {FALCON_PHONE!r}
    person.address = {FLAT_ADDRESS!r}
    person.save()
    emergencies.raise_alert(
        source=EmergencySource.SOS,
        people=[person],
        reported_at=clock.now(),
        dedupe_key="sos:" + name,
    )
print("raised")
"""


def _states(instance: live.Instance) -> dict[str, str]:
    rows = instance.sql("SELECT id, state FROM alerts_notification")
    return {str(row[0]).replace("-", ""): str(row[1]) for row in rows}


@pytest.mark.slow
def test_a_worker_killed_mid_send_loses_nothing_and_repeats_at_most_once(
    tmp_path, http_sink: HttpSink
):
    settings = {
        "REFUGE_NOTIFIER": "apprise",
        "REFUGE_DELIVERY_LEASE_SECONDS": "3",
        "REFUGE_WORKER_POLL_SECONDS": str(POLL_SECONDS),
    }
    with live.fresh_instance(tmp_path, **settings) as instance:
        log = tmp_path / "worker.log"
        sink = http_sink.url("hook").rsplit("/", 1)[0]
        assert "ready" in instance.shell(SETUP, CRASH_TEST_SINK=sink)
        expected = STAFF * len(PEOPLE)  # no policy: the whole line, for each emergency

        http_sink.hold = HELD
        first = instance.worker(log)
        try:
            live.wait_for(lambda: "started" in log.read_text(), 60, "the first worker")
            assert "raised" in instance.shell(RAISE)  # each commit wakes the worker
            live.wait_for(http_sink.holding.is_set, POLL_SECONDS / 2, "sends in flight")
            live.wait_for(lambda: len(http_sink.received) >= expected, 10, "the other sends")
            first.send_signal(signal.SIGKILL)  # mid-send: HELD sends have no answer yet
            first.wait(10)
        finally:
            live.stop(first, kill=True)
        states = _states(instance)
        assert len(states) == expected
        unrecorded = [pk for pk, state in states.items() if state == "pending"]
        assert len(unrecorded) >= HELD  # sent (the receiver has them) but never recorded

        http_sink.hold = 0
        http_sink.release.set()
        second = instance.worker(log)
        try:
            live.wait_for(
                lambda: set(_states(instance).values()) == {"sent"},
                POLL_SECONDS / 2,
                "every notification sent",
            )
        finally:
            live.stop(second)

        copies: collections.Counter[tuple[str, str]] = collections.Counter()
        for message in http_sink.received:
            title = str(message["title"])
            marker = title.split("#", 1)[1].split("]", 1)[0]
            copies[(str(message["path"]), marker)] += 1
        markers = {marker for _path, marker in copies}
        assert markers == {pk[:8] for pk in _states(instance)}  # every notification arrived
        assert max(copies.values()) == 2  # the in-flight ones came twice ...
        assert sum(1 for count in copies.values() if count == 2) <= len(unrecorded)  # ... only
        assert len(copies) == expected  # each on its recipient's one channel
        texts = " ".join(f"{m['title']} {m['message']}" for m in http_sink.received)
        for secret in (FALCON_NAME, FALCON_PHONE, FLAT_ADDRESS):
            assert secret not in texts
        assert FALCON_NAME not in log.read_text("utf-8")
