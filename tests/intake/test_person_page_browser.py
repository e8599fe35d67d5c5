"""The protected person's page in a real browser with JavaScript off (Tor Browser "Safest"), on
a real `refuge runserver`: SOS and check-in work, the page weighs at most 15 KB, fits a 320 px
screen, asks nothing of any other origin, and the server's log never shows the link."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REFUGE = str(Path(sys.executable).with_name("refuge"))
PAGE_BUDGET = 15 * 1024
PIN = "2468"
DURESS = "1357"
COUNT_ALERTS = (
    "from refuge.alerts.models import Alert; "
    "print('alerts:', sorted(Alert.objects.values_list('source', flat=True)))"
)


@dataclass
class Live:
    url: str
    link: str
    env: dict[str, str]
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def refuge(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [REFUGE, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"refuge {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    var_dir = tmp_path_factory.mktemp("person-page-var")
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("REFUGE_") and k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        REFUGE_DEBUG="1",
        REFUGE_VAR_DIR=str(var_dir),
        REFUGE_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        DJANGO_SETTINGS_MODULE="refuge.config.settings",
    )
    refuge(env, "migrate", "--verbosity", "0")
    refuge(
        env,
        "shell",
        "-c",
        "from refuge.people.models import ProtectedPerson; "
        "ProtectedPerson.objects.create(pseudonym='FALCON', languages='en')",
    )
    refuge(env, "checkin", "schedule", "set", "FALCON", "--every", "24", "--tz", "Europe/Moscow")
    refuge(env, "checkin", "pins", "FALCON", "--stdin", stdin=f"{PIN}\n{PIN}\n{DURESS}\n{DURESS}\n")
    link = refuge(env, "checkin", "link", "FALCON").strip()
    log = var_dir / "server.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [REFUGE, "runserver", "--noreload", f"127.0.0.1:{port}"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.2)
            else:
                pytest.fail("the server did not start")
            yield Live(url=f"http://127.0.0.1:{port}", link=link, env=env, log=log)
        finally:
            server.terminate()
            server.wait(timeout=20)


def _no_js_page(browser, width: int = 320):  # type: ignore[no-untyped-def]
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": width, "height": 640}, locale="ru-RU"
    )
    return context, context.new_page()


def test_check_in_and_sos_work_without_javascript(live: Live, browser, tmp_path):
    context, page = _no_js_page(browser)
    requests: list[str] = []
    sizes: dict[str, int] = {}
    page.on("request", lambda request: requests.append(request.url))
    page.on("response", lambda response: sizes.__setitem__(response.url, len(response.body())))
    page.goto(live.link)
    page.wait_for_load_state("load")
    assert page.locator("form").count() == 2
    weight = sum(sizes.values())
    print(f"page weight in the browser: {weight} B in {len(sizes)} responses")  # noqa: T201
    assert weight <= PAGE_BUDGET
    assert set(sizes) == {live.link, f"{live.url}/static/intake/page.css"}
    page.screenshot(path=str(tmp_path / "person-page-320.png"), full_page=True)

    page.fill("input[name=pin]", PIN)
    page.click("form:has(input[value=checkin]) button")
    page.wait_for_load_state("load")
    assert "Thank you. Next check-in:" in page.inner_text("main")

    page.goto(live.link)
    page.click("button.sos")
    page.wait_for_load_state("load")
    assert "Received" in page.inner_text("main")
    assert page.locator("input[value=cancel]").count() == 1

    origins = {urllib.parse.urlsplit(url).netloc for url in requests}
    assert origins == {urllib.parse.urlsplit(live.url).netloc}, requests
    assert context.cookies() == []
    context.close()
    assert "alerts: ['sos']" in refuge(live.env, "shell", "-c", COUNT_ALERTS)


def test_the_page_fits_a_320_px_screen(live: Live, browser):
    # Measured with scripts on (the measuring needs them); the page itself has none.
    context = browser.new_context(viewport={"width": 320, "height": 640})
    page = context.new_page()
    page.goto(live.link)
    scroll_width, client_width = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert scroll_width <= client_width == 320
    button = page.locator("button.sos").bounding_box()
    assert button is not None
    assert button["width"] >= 250  # a big target for a thumb
    context.close()


def test_the_server_log_never_shows_the_link(live: Live, browser):
    context, page = _no_js_page(browser)
    page.goto(live.link)
    page.goto(f"{live.url}/c/not-a-real-token/")
    page.goto(f"{live.url}/accounts/login/")  # the control: staff pages are logged
    context.close()
    token = live.link.rstrip("/").rsplit("/", 1)[-1]
    deadline = time.monotonic() + 10
    while "GET /accounts/login/" not in live.log.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the server logs no requests at all"
        time.sleep(0.1)
    log = live.log.read_text(errors="replace")
    assert token not in log
    assert "/c/" not in log
