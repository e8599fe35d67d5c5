"""A real Refuge (demo data, `refuge runserver`) in a subprocess, and Debian's Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REFUGE = str(Path(sys.executable).with_name("refuge"))


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
    subprocess.run(
        [REFUGE, "demo", "--no-serve"], env=env, check=True, capture_output=True, timeout=300
    )
    port = _free_port()
    server = subprocess.Popen(
        [REFUGE, "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("the demo server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM):
        pytest.fail("Debian's chromium is required for browser tests: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
