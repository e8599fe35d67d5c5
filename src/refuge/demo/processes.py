"""Runs the demo's web server and worker as child processes and stops both together.

The web server is gunicorn with threaded workers, as in production (deploy/systemd/
refuge-web.service), sized for one machine's demo; WhiteNoise serves the static files.

Ctrl-C (SIGINT) or SIGTERM stops both children and returns normally. If one child dies on its
own, the other is stopped too and the failure is reported: a demo with a silently dead worker
would show alerts that never fire.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

STOP_TIMEOUT_SECONDS = 10.0
START_TIMEOUT_SECONDS = 60.0
_POLL_SECONDS = 0.2
# Production runs more workers (deploy/systemd/refuge-web.service); two suffice for a demo.
WEB_WORKERS = 2
WEB_THREADS = 4
# A stopping worker finishes its requests within this time, inside STOP_TIMEOUT_SECONDS.
WEB_GRACEFUL_SECONDS = 5


class ChildFailedError(RuntimeError):
    """A child process exited although nobody asked it to."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]


def refuge_command(*args: str) -> list[str]:
    """`refuge <args>` run by this interpreter, independent of PATH."""
    return [sys.executable, "-m", "refuge.cli", *args]


def web_server_command(host: str, port: int) -> list[str]:
    """gunicorn serving Refuge on host:port with the worker class production uses.

    No access log (it would hold the protected person's secret links, like production), no
    control socket (a per-user path that a second instance would collide on), and only
    warnings on the console so the demo's banner stays readable."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "refuge.config.wsgi:application",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(WEB_WORKERS),
        "--worker-class",
        "gthread",
        "--threads",
        str(WEB_THREADS),
        "--timeout",
        "60",
        "--graceful-timeout",
        str(WEB_GRACEFUL_SECONDS),
        "--no-control-socket",
        "--log-level",
        "warning",
    ]


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def port_is_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def answers_http(host: str, port: int, path: str = "/accounts/login/") -> bool:
    """Does a web worker answer? gunicorn's master listens before its workers have loaded
    Refuge, so an open port alone does not mean the demo is ready."""
    if not port_is_open(host, port):
        return False
    connection = http.client.HTTPConnection(host, port, timeout=2)
    try:
        connection.request("GET", path)
        connection.getresponse().read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return True


class Supervisor:
    def __init__(self, commands: dict[str, list[str]]) -> None:
        self.commands = commands
        self.children: list[Child] = []
        self.stop_requested = threading.Event()

    def start(self, name: str, command: list[str]) -> None:
        """Start one child now (keyd must run before the scenario loads); stopped with the rest."""
        process = subprocess.Popen(command, env=dict(os.environ))  # noqa: S603
        self.children.append(Child(name, process))

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        del signum, frame
        self.stop_requested.set()

    def run(self, *, ready: Callable[[], bool], on_ready: Callable[[], None]) -> None:
        """Start the children, call `on_ready` once `ready()` holds, then wait for a signal."""
        previous = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            for name, command in self.commands.items():
                self.start(name, command)
            self._wait_until_ready(ready)
            if not self.stop_requested.is_set():
                on_ready()
            while not self.stop_requested.wait(_POLL_SECONDS):
                self._check_children()
        finally:
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _wait_until_ready(self, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self.stop_requested.is_set():
            self._check_children()
            if ready():
                return
            if time.monotonic() > deadline:
                raise ChildFailedError("the web server did not answer within 60 seconds")
            self.stop_requested.wait(_POLL_SECONDS)

    def _check_children(self) -> None:
        for child in self.children:
            code = child.process.poll()
            if code is None:
                continue
            # A Ctrl-C in the terminal reaches the children too; give our own handler a moment
            # to see it before calling their exit a failure.
            if self.stop_requested.wait(1.0):
                return
            raise ChildFailedError(f"the {child.name} stopped unexpectedly (exit code {code})")

    def stop(self) -> dict[str, Any]:
        """Stop every child (SIGTERM, then SIGKILL after a timeout); return their exit codes."""
        for child in self.children:
            if child.process.poll() is None:
                child.process.terminate()
        codes: dict[str, Any] = {}
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for child in self.children:
            try:
                codes[child.name] = child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                codes[child.name] = child.process.wait()
        return codes
