"""Idle sessions: the expiry moves on with use, at most once a minute (one write, not one per
page), and a session unused for the idle time is over."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext

from refuge.core import clock
from tests.conftest import verified_login

pytestmark = pytest.mark.django_db
HOME = "/"


def _expiry(client) -> dt.datetime:  # type: ignore[no-untyped-def]
    return Session.objects.get(session_key=client.session.session_key).expire_date


def _session_writes(queries) -> list[str]:  # type: ignore[no-untyped-def]
    return [q["sql"] for q in queries if q["sql"].startswith('UPDATE "django_session"')]


def test_pages_within_a_minute_do_not_rewrite_the_session(cast, client):
    verified_login(client, cast.caseworker)
    start = clock.now()
    with time_machine.travel(start, tick=False):
        client.get(HOME)
    expiry = _expiry(client)
    later = start + dt.timedelta(seconds=59)
    with time_machine.travel(later, tick=False), CaptureQueriesContext(connection) as queries:
        assert client.get(HOME).status_code == 200
    assert _session_writes(queries) == []
    assert _expiry(client) == expiry


def test_a_page_a_minute_later_moves_the_idle_expiry_on(cast, client, settings):
    verified_login(client, cast.caseworker)
    start = clock.now()
    with time_machine.travel(start, tick=False):
        client.get(HOME)
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        client.get(HOME)
    expected = start + dt.timedelta(seconds=61 + settings.SESSION_COOKIE_AGE)
    assert abs(_expiry(client) - expected) < dt.timedelta(seconds=1)


def test_a_session_unused_for_the_idle_time_is_over(cast, client, settings):
    verified_login(client, cast.caseworker)
    start = clock.now()
    with time_machine.travel(start, tick=False):
        client.get(HOME)
    with time_machine.travel(start + dt.timedelta(seconds=30), tick=False):
        client.get(HOME)  # used, but not a minute after the last refresh
    idle_end = start + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE + 1)
    with time_machine.travel(idle_end, tick=False):
        response = client.get(HOME)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
