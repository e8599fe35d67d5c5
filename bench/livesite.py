"""A real Refuge on loopback for the emergency-line benchmarks: gunicorn, `refuge worker` (two on
PostgreSQL, one per core as deploy/systemd/refuge-worker.service advises; one on SQLite) and a
local SMTP server that stands in for the mail relay.

The subprocesses inherit the benchmark's environment (bench.environment: the same database, key
files and generated secret key), plus:

- REFUGE_ALLOWED_HOSTS with 127.0.0.1 added (the requests' Host);
- REFUGE_NOTIFIER=apprise and REFUGE_SMTP_HOST/PORT (plain SMTP, no login) aimed at the sink;
- REFUGE_WORKER_POLL_SECONDS=2, the default: the worker is woken by commits and by its own
  timer (core.wakeup), the poll is only the fallback;
- REFUGE_BEHIND_TLS_PROXY=1: requests carry the client's address in X-Forwarded-For.

gunicorn runs `refuge.config.wsgi:application` as deploy/systemd/refuge-web.service does: 3
gthread workers with 4 threads each. Their output and the worker's go to log files in the
benchmark's temporary directory; a process that dies early ends the run with its log's tail.
"""

from __future__ import annotations

import email
import email.policy
import http.client
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench import sink_process
from bench.caselist import BenchmarkError

GUNICORN_WORKERS = 3
GUNICORN_THREADS = 4
SERVER = f"gunicorn, {GUNICORN_WORKERS} gthread workers x {GUNICORN_THREADS} threads, 127.0.0.1"
WORKER_POLL_SECONDS = 2
WORKERS_POSTGRESQL = 2
WEB_NICE = 5
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
SMTP_FROM = "refuge@bench.example.org"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    at: float  # time.monotonic() when the sink accepted the message
    wall: float  # time.time() then: comparable with the server's timestamps
    raw: str


@dataclass
class SmtpSink:
    """aiosmtpd on 127.0.0.1: accepts every message and notes when (time.monotonic())."""

    port: int = 0
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.messages)

    def wait_quiet(self, *, seconds: float, timeout: float) -> None:
        """Until no message has arrived for `seconds` (or `timeout` passed)."""
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            with self.lock:
                last = self.messages[-1].at if self.messages else 0.0
            if time.monotonic() - last >= seconds:
                return
            time.sleep(0.1)


def text_of(raw: str) -> str:
    """The subject and every text part of a message, decoded."""
    message = email.message_from_string(raw, policy=email.policy.default)
    parts = [str(message["Subject"] or "")]
    parts += [str(p.get_content()) for p in message.walk() if p.get_content_maintype() == "text"]
    return "\n".join(parts)


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port())
    receive, send = multiprocessing.get_context("spawn").Pipe(duplex=False)
    process = multiprocessing.get_context("spawn").Process(
        target=sink_process.serve, args=(sink.port, send), daemon=True
    )
    process.start()
    send.close()
    if not receive.poll(START_TIMEOUT_S) or receive.recv() is not None:
        process.kill()
        raise BenchmarkError("the SMTP sink did not start")

    def collect() -> None:
        while True:
            try:
                at, wall, raw = receive.recv()
            except (EOFError, OSError):
                return
            with sink.lock:
                sink.messages.append(Received(at, wall, raw))

    reader = threading.Thread(target=collect, name="smtp-sink-reader", daemon=True)
    reader.start()
    try:
        yield sink
    finally:
        process.terminate()
        process.join(STOP_TIMEOUT_S)
        reader.join(STOP_TIMEOUT_S)


def child_environment(smtp_port: int) -> dict[str, str]:
    env = dict(os.environ)
    hosts = [h for h in env.get("REFUGE_ALLOWED_HOSTS", "").split(",") if h.strip()]
    env.update(
        REFUGE_ALLOWED_HOSTS=",".join([*hosts, "127.0.0.1", "localhost"]),
        REFUGE_NOTIFIER="apprise",
        REFUGE_SMTP_HOST="127.0.0.1",
        REFUGE_SMTP_PORT=str(smtp_port),
        REFUGE_SMTP_TLS="0",
        REFUGE_SMTP_USER="",
        REFUGE_SMTP_PASSWORD="",
        REFUGE_SMTP_FROM=SMTP_FROM,
        REFUGE_WORKER_POLL_SECONDS=str(WORKER_POLL_SECONDS),
        # As behind nginx in production: the client's address arrives in X-Forwarded-For, and
        # the requests of different people come from different addresses (the protected
        # people's pages limit floods per address).
        REFUGE_BEHIND_TLS_PROXY="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        # Our own interpreter and fixed arguments.
        process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()  # SIGTERM: gunicorn and the worker both stop gracefully
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT_S)


@dataclass(frozen=True)
class Site:
    port: int
    sink: SmtpSink
    workers: tuple[subprocess.Popen[bytes], ...]
    logs: Path

    def check_alive(self) -> None:
        for number, worker in enumerate(self.workers, start=1):
            if worker.poll() is not None:
                log = _tail(self.logs / f"worker-{number}.log")
                raise BenchmarkError(f"refuge worker exited ({worker.returncode}):\n{log}")


def _wait_until_serving(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchmarkError(f"gunicorn exited ({server.returncode}):\n{_tail(log)}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/c/bench-not-a-token/")
            status = conn.getresponse().status
            conn.close()
        except OSError:
            time.sleep(0.2)
            continue
        if status == 404:
            return
        raise BenchmarkError(f"gunicorn answered {status} instead of 404:\n{_tail(log)}")
    raise BenchmarkError(f"gunicorn did not start within {START_TIMEOUT_S:.0f} s:\n{_tail(log)}")


@contextmanager
def live_site() -> Iterator[Site]:
    """gunicorn (as deployed) on a free port, `refuge worker`, and the SMTP sink they send to."""
    base = Path(os.environ.get("REFUGE_VAR_DIR") or tempfile.gettempdir())
    logs = Path(tempfile.mkdtemp(prefix="bench-logs-", dir=base))
    with ExitStack() as stack:
        sink = stack.enter_context(smtp_sink())
        env = child_environment(sink.port)
        port = free_port()
        gunicorn = [
            # As deploy/systemd/refuge-web.service runs it (Nice=5): a surge of requests must
            # not take the CPU from the worker that pages people.
            "nice",
            "-n",
            str(WEB_NICE),
            sys.executable,
            "-m",
            "gunicorn",
            "refuge.config.wsgi:application",
            "--workers",
            str(GUNICORN_WORKERS),
            "--worker-class",
            "gthread",
            "--threads",
            str(GUNICORN_THREADS),
            "--bind",
            f"127.0.0.1:{port}",
            "--backlog",
            "512",
            "--graceful-timeout",
            "5",
        ]
        server = stack.enter_context(_process(gunicorn, env, logs / "gunicorn.log"))
        _wait_until_serving(port, server, logs / "gunicorn.log")
        worker_args = [sys.executable, "-m", "refuge.cli", "worker"]
        workers = tuple(
            stack.enter_context(_process(worker_args, env, logs / f"worker-{number}.log"))
            for number in range(1, worker_count() + 1)
        )
        site = Site(port=port, sink=sink, workers=workers, logs=logs)
        _wait_for_workers(site)
        yield site


def worker_count() -> int:
    """`refuge worker` processes: one per core on PostgreSQL (they share the work with SKIP
    LOCKED; in a surge one pages while another raises), one on SQLite, which has one writer."""
    from django.db import connection

    return WORKERS_POSTGRESQL if connection.vendor == "postgresql" else 1


def _wait_for_workers(site: Site) -> None:
    """Until every worker's first heartbeat: their start-up is not part of any latency."""
    from refuge.core.models import WorkerHeartbeat

    pids = {worker.pid for worker in site.workers}
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        site.check_alive()
        if WorkerHeartbeat.objects.filter(pid__in=pids).count() == len(pids):
            return
        time.sleep(0.2)
    raise BenchmarkError(f"refuge worker did not start within {START_TIMEOUT_S:.0f} s")
