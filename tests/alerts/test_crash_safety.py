"""Crash safety of the notification outbox, with a real worker process.

`refuge worker` runs against a fresh SQLite database in a temporary REFUGE_VAR_DIR and sends
through Apprise to a local HTTP receiver. The receiver holds the first requests open (sends in
flight), and the test kills the worker with SIGKILL right then. A second worker, started after,
must deliver every notification: none lost, and a duplicate at most once per channel (the
in-flight sends whose result was never recorded are sent again once their lease runs out).
"""

from __future__ import annotations

import collections
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.alerts.conftest import HttpSink
from tests.conftest import FALCON_NAME, FALCON_PHONE, FLAT_ADDRESS

REPO = Path(__file__).resolve().parents[2]
STAFF = 6
PEOPLE = ("FALCON", "BIRCH", "HERON")
HELD = 4

SETUP = f"""
import os
from refuge.accounts.models import Role, User
from refuge.alerts.models import EmergencySource, StaffChannel
from refuge.alerts.services import emergencies
from refuge.core import clock
from refuge.people.models import ProtectedPerson

sink = os.environ["CRASH_TEST_SINK"]
for i in range({STAFF}):
    user = User.objects.create_user(
        f"staff{{i}}", role=Role.COORDINATOR if i % 2 else Role.OPERATOR
    )
    StaffChannel.objects.create(user=user, kind="webhook", target=f"{{sink}}/staff{{i}}")
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
print("ready")
"""


def _env(var_dir: Path, sink: HttpSink) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("REFUGE_") and key not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="refuge.config.settings",
        REFUGE_VAR_DIR=str(var_dir),
        REFUGE_SECRET_KEY="crash-test-secret-key-" + "x" * 40,
        # What is tested is the outbox, not sealing: keep the key in a file, no keyd to run.
        REFUGE_KEY_MODE="keyfile",
        REFUGE_NOTIFIER="apprise",
        REFUGE_DELIVERY_LEASE_SECONDS="3",
        REFUGE_WORKER_POLL_SECONDS="1",
        CRASH_TEST_SINK=sink.url("hook").rsplit("/", 1)[0],
    )
    return env


def _refuge(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "refuge.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"refuge {args[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "refuge.cli", "worker"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _states(database: Path) -> dict[str, str]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as db:
        rows = db.execute("SELECT id, state FROM alerts_notification").fetchall()
    return {str(row[0]).replace("-", ""): str(row[1]) for row in rows}


def _wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.slow
def test_a_worker_killed_mid_send_loses_nothing_and_repeats_at_most_once(tmp_path, http_sink):
    var_dir = tmp_path / "var"
    var_dir.mkdir(mode=0o700)
    env = _env(var_dir, http_sink)
    database = var_dir / "refuge.sqlite3"
    log = tmp_path / "worker.log"
    _refuge(env, "migrate", "--verbosity", "0")
    assert "ready" in _refuge(env, "shell", "-c", SETUP)
    expected = STAFF * len(PEOPLE)  # no policy: the whole line, for each emergency

    http_sink.hold = HELD
    first = _worker(env, log)
    try:
        _wait_for(http_sink.holding.is_set, 60, "sends in flight")
        _wait_for(lambda: len(http_sink.received) >= expected, 10, "the other sends")
        first.send_signal(signal.SIGKILL)  # mid-send: HELD sends have no answer yet
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    states = _states(database)
    assert len(states) == expected
    unrecorded = [pk for pk, state in states.items() if state == "pending"]
    assert len(unrecorded) >= HELD  # sent (the receiver has them) but never recorded

    http_sink.hold = 0
    http_sink.release.set()
    second = _worker(env, log)
    try:
        _wait_for(
            lambda: set(_states(database).values()) == {"sent"}, 60, "every notification sent"
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)

    copies: collections.Counter[tuple[str, str]] = collections.Counter()
    for message in http_sink.received:
        title = str(message["title"])
        marker = title.split("#", 1)[1].split("]", 1)[0]
        copies[(str(message["path"]), marker)] += 1
    markers = {marker for _path, marker in copies}
    assert markers == {pk[:8] for pk in _states(database)}  # every notification arrived
    assert max(copies.values()) == 2  # the in-flight ones came twice ...
    assert sum(1 for count in copies.values() if count == 2) <= len(unrecorded)  # ... only those
    assert len(copies) == expected  # each on its recipient's one channel
    texts = " ".join(f"{m['title']} {m['message']}" for m in http_sink.received)
    for secret in (FALCON_NAME, FALCON_PHONE, FLAT_ADDRESS):
        assert secret not in texts
    assert FALCON_NAME not in log.read_text("utf-8")
