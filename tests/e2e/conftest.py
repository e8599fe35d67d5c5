"""A real Refuge (demo data, gunicorn as `refuge demo` runs it) in a subprocess, and Debian's
Chromium."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from refuge.demo import processes

REFUGE = str(Path(sys.executable).with_name("refuge"))


_LAST_STEP: dict[str, int] = {}


def demo_code(username: str) -> str:
    """A fresh TOTP code of a demo account (its seed is fixed and published in demo mode).

    The server accepts each time step once, and one step ahead of its clock. Login and step-up
    often fall in the same 30-second step (or, on a loaded machine, a step apart), so each call
    takes the current step, or the one after the step used last if that is still current."""
    from django_otp.oath import TOTP

    from refuge.accounts.factors import demo_totp_key

    now_step = int(time.time()) // 30
    step = max(now_step, _LAST_STEP.get(username, -1) + 1)
    _LAST_STEP[username] = step
    totp = TOTP(bytes.fromhex(demo_totp_key(username)))
    totp.time = step * 30 + 1
    return f"{totp.token():06d}"


def log_in(page: Any, base_url: str, username: str) -> None:
    """The two login steps: password, then the demo account's authenticator code."""
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "refuge-demo")
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/second-factor/"))
    page.fill("#totp-code", demo_code(username))
    page.click("form:has(#totp-code) >> button[type=submit]")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _demo_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REFUGE_DATABASE_URL"}}
    env.update(
        {
            "REFUGE_DEMO": "1",
            "REFUGE_VAR_DIR": str(var_dir),
            "DJANGO_SETTINGS_MODULE": "refuge.config.settings",
        }
    )
    env.pop("REFUGE_SECRET_KEY", None)
    return env


@pytest.fixture(scope="session")
def live_refuge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a demo instance on SQLite, whatever database the suite itself uses."""
    var_dir = tmp_path_factory.mktemp("e2e-var")
    env = _demo_env(var_dir)
    port = _free_port()
    # Passkeys are bound to a domain, never an IP address: the passkey journey uses localhost.
    env["REFUGE_WEBAUTHN_ORIGINS"] = f"http://localhost:{port}"
    subprocess.run(
        [REFUGE, "demo", "--no-serve"], env=env, check=True, capture_output=True, timeout=300
    )
    # The demo runs sealed: keyd unseals itself from the demo file and must run beside the server.
    keyd = subprocess.Popen(
        [REFUGE, "keyd"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # The web server `refuge demo` and production run: gunicorn with threaded workers.
    server = subprocess.Popen(
        processes.web_server_command("127.0.0.1", port),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if processes.answers_http("127.0.0.1", port):
                break
            time.sleep(0.2)
        else:
            pytest.fail("the demo server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)
        keyd.terminate()
        keyd.wait(timeout=20)
