"""Debian's Chromium through Playwright, one per test module.

Playwright's sync API refuses to start while another sync Playwright runs in the same thread,
and while one runs, Django refuses database access in that thread (it sees a running event
loop). So every browser test uses this fixture (tests/conftest.py provides it): one Playwright
per module, stopped when the module ends, before any other test module of the process runs.
Never `playwright install`: the browser is Debian's.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

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


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM):
        pytest.fail("Debian's chromium is required for browser tests: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
