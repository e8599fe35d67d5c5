"""The worker is woken by the commit of an SOS, on the suite's database (SQLite: the Unix socket;
PostgreSQL: LISTEN/NOTIFY), and an SOS whose wake-up is lost is still sent, by the poll.

A real `refuge worker` process runs against a fresh instance (tests.alerts.live) and sends
through Apprise to a local webhook receiver. What is observed is when the notification was
sent (its `sent_at`) against when the emergency opened, never how long the test slept.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.alerts import live
from tests.alerts.conftest import HttpSink

pytestmark = pytest.mark.slow

LONG_POLL = 60  # seconds: far longer than any wake-up may take
SHORT_POLL = 2

SETUP = """
import os
from refuge.accounts.models import Role, User
from refuge.alerts.models import StaffChannel

user = User.objects.create_user("operator1", role=Role.OPERATOR)
StaffChannel.objects.create(user=user, kind="webhook", target=os.environ["SINK"])
print("ready")
"""

RAISE_SOS = """
import os
from refuge.alerts.models import EmergencySource
from refuge.alerts.services import emergencies
from refuge.core import clock, wakeup
from refuge.people.models import ProtectedPerson

if os.environ.get("LOSE_WAKEUP"):
    wakeup.wake_worker = lambda: None  # as if the datagram or the NOTIFY never arrived
person = ProtectedPerson.objects.create(pseudonym=os.environ["PSEUDONYM"])
emergencies.raise_alert(
    source=EmergencySource.SOS,
    people=[person],
    reported_at=clock.now(),
    dedupe_key="sos:" + person.pseudonym,
)
print("raised")
"""


def _moment(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    moment = dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _opened_to_sent(instance: live.Instance, pseudonym: str) -> dt.timedelta | None:
    rows = instance.sql(
        "SELECT e.opened_at, n.sent_at FROM alerts_emergency e "
        "JOIN alerts_emergency_people ep ON ep.emergency_id = e.id "
        "JOIN people_protectedperson p ON p.id = ep.protectedperson_id "
        "JOIN alerts_notification n ON n.emergency_id = e.id "
        "WHERE p.pseudonym = ? AND n.state = 'sent'",
        (pseudonym,),
    )
    if not rows:
        return None
    opened, sent = rows[0]
    return _moment(sent) - _moment(opened)


def _started(instance: live.Instance, worker) -> None:  # type: ignore[no-untyped-def]
    beat = "SELECT 1 FROM core_workerheartbeat WHERE pid = ?"
    live.wait_for(
        lambda: bool(instance.sql(beat, (worker.pid,))) or worker.poll() is not None,
        60,
        "the worker's first heartbeat",
    )
    assert worker.poll() is None, "the worker exited"


def test_an_sos_commit_wakes_the_worker_and_a_lost_wake_up_is_caught_by_the_poll(
    tmp_path, http_sink: HttpSink
):
    with live.fresh_instance(tmp_path, REFUGE_NOTIFIER="apprise") as instance:
        assert "ready" in instance.shell(SETUP, SINK=http_sink.url("operator"))
        log = tmp_path / "worker.log"

        worker = instance.worker(log, REFUGE_WORKER_POLL_SECONDS=str(LONG_POLL))
        try:
            _started(instance, worker)
            assert "raised" in instance.shell(RAISE_SOS, PSEUDONYM="WAKE")
            live.wait_for(
                lambda: _opened_to_sent(instance, "WAKE") is not None,
                LONG_POLL / 2,
                "the woken send",
            )
            delay = _opened_to_sent(instance, "WAKE")
            assert delay is not None
            assert delay < dt.timedelta(seconds=LONG_POLL / 2)  # not the poll: the wake-up
        finally:
            live.stop(worker)
        woken_by = "SocketListener" if instance.vendor == "sqlite" else "PostgresListener"
        assert f"woken by {woken_by}" in log.read_text()

        worker = instance.worker(log, REFUGE_WORKER_POLL_SECONDS=str(SHORT_POLL))
        try:
            _started(instance, worker)
            assert "raised" in instance.shell(RAISE_SOS, PSEUDONYM="LOST", LOSE_WAKEUP="1")
            live.wait_for(
                lambda: _opened_to_sent(instance, "LOST") is not None, 30, "the polled send"
            )
        finally:
            live.stop(worker)
        assert ["WAKE" in str(m["message"]) for m in http_sink.received] == [True, False]
