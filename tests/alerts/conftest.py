"""Shared fixtures of the emergency-line tests (append only: several test modules use them)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

import pytest

from refuge.alerts.models import EscalationPolicy, EscalationStep, OnCallRota, RotaMember
from refuge.alerts.notifier import RecordingNotifier, recording_notifier
from tests.conftest import Cast

# A Tuesday afternoon in Moscow (12:00 UTC = 15:00 MSK): the time of the scenario's call.
CALL_TIME = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def recorder(settings) -> Iterator[RecordingNotifier]:  # type: ignore[no-untyped-def]
    """Notifications go to memory instead of the network."""
    settings.NOTIFIER = "record"
    notifier = recording_notifier()
    notifier.reset()
    yield notifier
    notifier.reset()


@pytest.fixture
def at_call_time(time_machine):  # type: ignore[no-untyped-def]
    """The clock stands still at CALL_TIME; tests move it with time_machine.shift()."""
    time_machine.move_to(CALL_TIME, tick=False)
    return time_machine


@pytest.fixture
def default_policy(cast: Cast) -> EscalationPolicy:
    """The scenario's policy: the on-call operator at once, the case's lawyer after 5 minutes,
    the coordinators after 10 more, then the whole case team; repeated once."""
    rota = OnCallRota.objects.create(name="Line", starts_on=CALL_TIME - dt.timedelta(days=1))
    RotaMember.objects.create(rota=rota, user=cast.operator, position=0)
    policy = EscalationPolicy.objects.create(
        name="Default", is_default=True, repeat=1, en_route_within_minutes=10
    )
    targets = [
        (0, EscalationStep.Target.ON_CALL),
        (5, EscalationStep.Target.CASE_LAWYER),
        (10, EscalationStep.Target.COORDINATORS),
        (5, EscalationStep.Target.CASE_TEAM),
    ]
    for position, (delay, target) in enumerate(targets):
        EscalationStep.objects.create(
            policy=policy,
            position=position,
            delay_minutes=delay,
            target=target,
            rota=rota if target == EscalationStep.Target.ON_CALL else None,
        )
    return policy


# --- check-ins (helper A) -------------------------------------------------------------------------

NORMAL_PIN = "2468"
DURESS_PIN = "1357"


@pytest.fixture
def falcon_schedule(cast: Cast):  # type: ignore[no-untyped-def]
    """FALCON checks in every 24 hours with 2 hours' grace; normal PIN 2468, duress PIN 1357."""
    from refuge.alerts.services import checkins

    schedule = checkins.schedule_set(
        actor=None,
        person=cast.falcon,
        kind="interval",
        interval_hours=24,
        time_zone="Europe/Moscow",
        grace_minutes=120,
    )
    return checkins.pins_set(actor=None, schedule=schedule, pin=NORMAL_PIN, duress_pin=DURESS_PIN)


# --- real notification sinks on 127.0.0.1 (helper B: delivery and crash tests) ----------------


class HttpSink:
    """A local HTTP receiver for Apprise json:// webhooks. `status` is what it answers. The first
    `hold` requests are received and then held open without an answer until `release` is set:
    sends in flight when a worker is killed (`holding` is set once `hold` are held)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.received: list[dict[str, object]] = []
        self.refused = 0
        self.status = 200
        self.hold = 0
        self.held = 0
        self.holding = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                import json

                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with sink._lock:
                    hold = sink.held < sink.hold
                    if hold:
                        sink.held += 1
                        sink.received.append({"path": self.path, "held": True, **json.loads(body)})
                        if sink.held == sink.hold:
                            sink.holding.set()
                if hold:
                    sink.release.wait(120)
                    return  # the connection just closes: the sender never hears back
                with sink._lock:
                    if sink.status >= 400:
                        sink.refused += 1
                    else:
                        sink.received.append({"path": self.path, **json.loads(body)})
                    status = sink.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                del format, args

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.server.server_port}/{path}"

    def texts(self) -> list[str]:
        with self._lock:
            return [f"{m.get('title', '')}\n{m.get('message', '')}" for m in self.received]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class SmtpSink:
    """A local SMTP server (aiosmtpd). With `refuse` set it answers every message with 554."""

    def __init__(self) -> None:
        import socket

        from aiosmtpd.controller import Controller

        # aiosmtpd logs every connection at INFO from its own thread, also after the test that
        # opened it has ended and pytest has closed the stream it was capturing.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.messages: list[tuple[str, list[str], str]] = []
        self.peers: list[tuple[str, int]] = []  # the client end of each message's connection
        self.refuse = False
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
                sink.peers.append(tuple(session.peer))
                if sink.refuse:
                    return "554 Transaction failed"
                content = envelope.content
                text = content.decode("utf-8") if isinstance(content, bytes) else content
                sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos), text))
                return "250 OK"

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._handler = Handler()
        self.controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def restart(self) -> None:
        """Stop and start again on the same port: every open connection is dropped."""
        from aiosmtpd.controller import Controller

        self.controller.stop()
        self.controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def texts(self) -> list[str]:
        import email
        import email.policy

        texts = []
        for _sender, _recipients, raw in self.messages:
            message = email.message_from_string(raw, policy=email.policy.default)
            parts = [str(message["Subject"])]
            parts += [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"]
            texts.append(raw + "\n" + "\n".join(parts))
        return texts

    def close(self) -> None:
        self.controller.stop()


@pytest.fixture
def http_sink() -> Iterator[HttpSink]:
    sink = HttpSink()
    yield sink
    sink.close()


@pytest.fixture
def smtp_sink(settings) -> Iterator[SmtpSink]:  # type: ignore[no-untyped-def]
    """The SMTP sink, configured as Refuge's SMTP server (plain, no login)."""
    sink = SmtpSink()
    settings.SMTP_HOST = "127.0.0.1"
    settings.SMTP_PORT = sink.port
    settings.SMTP_TLS = False
    settings.SMTP_USER = ""
    settings.SMTP_FROM = "refuge@example.org"
    yield sink
    from refuge.alerts import smtp

    smtp.close_connections()  # pooled connections to this sink end with it
    sink.close()
