"""What every staff page carries: security headers, the worker banner, the session limits."""

import datetime as dt

import pytest
import time_machine

from refuge.core import clock
from refuge.core.models import WorkerHeartbeat
from tests.conftest import verified_login

pytestmark = pytest.mark.django_db


def _beat(seconds_ago: int) -> None:
    now = clock.now()
    WorkerHeartbeat.objects.update_or_create(
        worker_id="w1",
        defaults={
            "hostname": "h",
            "pid": 1,
            "started_at": now,
            "last_tick_at": now - dt.timedelta(seconds=seconds_ago),
        },
    )


def test_staff_pages_carry_a_strict_content_security_policy(cast, login):
    response = login(cast.caseworker).get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy


def test_staff_pages_are_never_cached(cast, login):
    response = login(cast.caseworker).get(f"/people/{cast.falcon.pk}/")
    assert response.headers["Cache-Control"] == "no-store"


def test_staff_pages_deny_framing_sniffing_and_device_access(cast, login):
    response = login(cast.caseworker).get("/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "geolocation=()" in response.headers["Permissions-Policy"]


def test_a_red_banner_shows_when_no_worker_has_ticked(cast, login):
    _beat(seconds_ago=31)
    assert b"background worker is not running" in login(cast.caseworker).get("/").content


def test_no_banner_while_the_worker_ticks(cast, login):
    _beat(seconds_ago=5)
    assert b"background worker is not running" not in login(cast.caseworker).get("/").content


def test_a_banner_shows_when_no_worker_ever_ran(cast, login):
    assert b"background worker is not running" in login(cast.caseworker).get("/").content


def test_a_session_ends_after_the_absolute_limit_even_when_active(cast, client, settings):
    settings.SESSION_ABSOLUTE_SECONDS = 3600
    settings.SESSION_COOKIE_AGE = 7200  # the idle limit must not be what ends it
    verified_login(client, cast.caseworker)
    assert client.get("/").status_code == 200
    with time_machine.travel(clock.now() + dt.timedelta(seconds=3601)):
        response = client.get("/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_session_cookie_expires_after_the_idle_time(cast, client, settings):
    verified_login(client, cast.caseworker)
    client.get("/")
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert settings.SESSION_COOKIE_AGE == settings.SESSION_IDLE_SECONDS == 900
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"
