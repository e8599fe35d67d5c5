"""The worker runs the emergency line: tick hooks (escalation, acknowledgement expiry, the
outbox) on every tick, each on its own; and the dead-man's switch."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command

from refuge.alerts.models import EmergencySource, Notification, StaffChannel
from refuge.alerts.services import emergencies
from refuge.core import clock, jobs
from refuge.core.management.commands.worker import Command
from tests.conftest import Cast


@pytest.fixture
def scratch_hooks() -> Iterator[None]:
    """Hooks registered by a test are removed afterwards."""
    saved = jobs.registered_ticks()
    yield
    jobs._ticks.clear()
    jobs._ticks.update(saved)


def test_the_alerts_app_registers_its_hooks_in_order():
    names = list(jobs.registered_ticks())
    assert names.index("alerts.checkins_missed") < names.index("alerts.ack_expiry")
    assert names.index("alerts.ack_expiry") < names.index("alerts.escalation")
    assert names.index("alerts.escalation") < names.index("alerts.delivery")


def _counts_two(now: dt.datetime) -> int:
    del now
    return 2


def _also_counts_two(now: dt.datetime) -> int:
    del now
    return 2


def test_a_failing_hook_does_not_stop_the_others(scratch_hooks, caplog):
    seen: list[dt.datetime] = []

    def fails(now: dt.datetime) -> int:
        raise RuntimeError("could not reach +7 900 555-01-23")

    def records(now: dt.datetime) -> int:
        seen.append(now)
        return 1

    jobs._ticks.clear()
    jobs.register_tick("tests.fails", fails)
    jobs.register_tick("tests.records", records)
    jobs.register_tick("tests.two", _counts_two)
    moment = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)

    with caplog.at_level(logging.ERROR, logger="refuge.core.jobs"):
        assert jobs.run_ticks(moment) == 3

    assert seen == [moment]
    assert "tests.fails" in caplog.text
    assert "RuntimeError" in caplog.text
    assert "555" not in caplog.text  # the message is never logged


def test_a_hook_name_cannot_be_taken_by_another_function(scratch_hooks):
    jobs.register_tick("tests.two", _counts_two)
    jobs.register_tick("tests.two", _counts_two)  # the same function again: fine
    with pytest.raises(ValueError):
        jobs.register_tick("tests.two", _also_counts_two)


@pytest.mark.django_db
def test_a_worker_tick_escalates_and_delivers(cast: Cast, recorder, at_call_time):
    StaffChannel.objects.create(user=cast.coordinator, kind="webhook", target="json://x/c")
    StaffChannel.objects.create(user=cast.operator, kind="webhook", target="json://x/o")
    emergencies.raise_alert(
        source=EmergencySource.SOS,
        people=[cast.falcon],
        reported_at=clock.now(),
        dedupe_key="sos",
    )

    call_command("worker", "--once")

    assert sorted(m.target for m in recorder.sent) == ["json://x/c", "json://x/o"]
    assert set(Notification.objects.values_list("state", flat=True)) == {"sent"}


# --- the dead-man's switch ------------------------------------------------------------------


class PingSink:
    def __init__(self) -> None:
        self.paths: list[str] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                sink.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                del format, args

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/ping/abc?token=s3cret"


@pytest.fixture
def ping_sink() -> Iterator[PingSink]:
    sink = PingSink()
    yield sink
    sink.server.shutdown()
    sink.server.server_close()


@pytest.mark.django_db
def test_the_worker_pings_the_dead_mans_switch_at_most_once_a_minute(ping_sink, settings, recorder):
    settings.DEADMAN_URL = ping_sink.url()
    call_command("worker", "--once")
    assert ping_sink.paths == ["/ping/abc?token=s3cret"]

    command = Command()
    command.handle(once=True, batch=20)
    command.tick(20)  # a second tick within the minute: no ping
    command._wait_for_ping()
    assert len(ping_sink.paths) == 2
    assert command._last_ping is not None
    command._last_ping -= 61
    command.tick(20)
    command._wait_for_ping()
    assert len(ping_sink.paths) == 3


@pytest.mark.django_db
def test_a_failed_ping_is_logged_without_its_secrets(settings, caplog, recorder):
    settings.DEADMAN_URL = "http://user:pw@127.0.0.1:9/ping/abc?token=s3cret"
    with caplog.at_level(logging.WARNING, logger="refuge.worker"):
        call_command("worker", "--once")
    assert "dead-man's switch ping to http://127.0.0.1:9/ping/abc failed" in caplog.text
    assert "s3cret" not in caplog.text
    assert "pw" not in caplog.text


@pytest.mark.django_db
def test_only_http_urls_are_pinged(settings, caplog, recorder):
    settings.DEADMAN_URL = "file:///etc/passwd"
    with caplog.at_level(logging.WARNING, logger="refuge.worker"):
        call_command("worker", "--once")
    assert "only http and https" in caplog.text


@pytest.mark.django_db
def test_no_url_no_ping(settings, recorder):
    settings.DEADMAN_URL = ""
    command = Command()
    command.handle(once=True, batch=20)
    assert command._ping_thread is None
