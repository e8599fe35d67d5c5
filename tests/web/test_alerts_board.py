"""The live board of open emergencies, and the way to it from the dashboard."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from refuge.alerts.models import Emergency, Priority
from refuge.alerts.services import emergencies, response
from refuge.core import clock
from tests.conftest import BIRCH_NAME, FALCON_NAME
from tests.factories import CaseFactory, PersonFactory
from tests.web.test_alerts_emergency import HEARD, HINT, open_call

pytestmark = pytest.mark.django_db

BOARD = "/alerts/"
PARTIAL = "/alerts/board/"


def test_the_board_and_its_partial_have_the_expected_addresses():
    assert reverse("alerts:board") == BOARD
    assert reverse("alerts:board_partial") == PARTIAL


@pytest.mark.parametrize("role", ["operator", "coordinator", "caseworker", "lawyer"])
def test_the_board_lists_open_emergencies_by_pseudonym(role, cast, login):
    emergency = open_call(cast)
    body = login(cast.by_role()[role]).get(BOARD).content.decode()
    assert emergency.code in body
    assert "FALCON" in body
    assert "BIRCH" in body
    for secret in (FALCON_NAME, BIRCH_NAME, HEARD, HINT):
        assert secret not in body


def test_an_outsider_sees_an_empty_board(cast, login):
    emergency = open_call(cast)
    response = login(cast.outsider).get(BOARD)
    assert response.status_code == 200
    assert emergency.code not in response.content.decode()


@pytest.mark.parametrize("role", ["admin", "analyst"])
def test_roles_without_emergencies_get_403_saying_who_uses_the_board(role, cast, login):
    client = login(cast.by_role()[role])
    page = client.get(BOARD)
    assert page.status_code == 403
    assert "Emergencies are handled by hotline operators and coordinators" in page.content.decode()
    assert client.get(PARTIAL).status_code == 403


def test_the_refusal_is_translated(cast, login):
    body = login(cast.analyst).get(BOARD, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Экстренная линия" in body


def test_resolved_emergencies_leave_the_board(cast, login):
    emergency = open_call(cast)
    response.emergency_resolve(actor=cast.coordinator, emergency=emergency, outcome="safe")
    assert emergency.code not in login(cast.operator).get(BOARD).content.decode()


def test_the_most_urgent_come_first_then_the_longest_waiting(cast, login):
    start = clock.now()
    other = PersonFactory(pseudonym="OAK")
    third = PersonFactory(pseudonym="ELM")
    CaseFactory(team=cast.case.team, people=[other])
    with time_machine.travel(start - dt.timedelta(minutes=10), tick=False):
        older = emergencies.emergency_open_call(
            actor=cast.operator, caller=None, heard="x", location_hint="", people=[other]
        )
    with time_machine.travel(start - dt.timedelta(minutes=5), tick=False):
        newer = emergencies.emergency_open_call(
            actor=cast.operator, caller=None, heard="y", location_hint="", people=[third]
        )
    top = open_call(cast)
    Emergency.objects.filter(pk=top.pk).update(priority=Priority.TOP)
    body = login(cast.operator).get(BOARD).content.decode()
    assert body.index(top.code) < body.index(older.code) < body.index(newer.code)


def test_the_board_shows_elapsed_times_and_who_acknowledged(cast, login):
    start = clock.now()
    with time_machine.travel(start, tick=False):
        emergency = open_call(cast)
    with time_machine.travel(start + dt.timedelta(minutes=2), tick=False):
        response.emergency_acknowledge(actor=cast.lawyer, emergency=emergency)
    with time_machine.travel(start + dt.timedelta(minutes=4, seconds=7), tick=False):
        body = login(cast.operator).get(BOARD).content.decode()
    assert "4 min 07 s" in body
    assert "lawyer" in body
    assert "+2 min 00 s" in body
    assert "Acknowledged" in body


def test_an_unacknowledged_emergency_is_marked(cast, login):
    open_call(cast)
    assert "not yet" in login(cast.operator).get(BOARD).content.decode()


def test_the_board_refreshes_itself_by_polling_its_partial(cast, login):
    open_call(cast)
    body = login(cast.operator).get(BOARD).content.decode()
    assert f'hx-get="{PARTIAL}?loaded=' in body
    assert 'hx-trigger="every 5s"' in body
    assert 'hx-swap="outerHTML"' in body


def test_polling_stops_after_the_idle_limit_so_an_unattended_screen_signs_out(
    cast, login, settings
):
    emergency = open_call(cast)
    client = login(cast.operator)
    loaded = int(clock.now().timestamp())
    fresh = client.get(PARTIAL, {"loaded": loaded}).content.decode()
    assert 'hx-trigger="every 5s"' in fresh
    stale = client.get(PARTIAL, {"loaded": loaded - settings.SESSION_IDLE_SECONDS}).content.decode()
    assert "hx-trigger" not in stale
    assert "stopped refreshing after 15 minutes" in stale
    assert emergency.code in stale  # the last state is still shown


def test_the_board_works_without_javascript(cast, login):
    body = login(cast.operator).get(BOARD).content.decode()
    assert f'href="{BOARD}"' in body  # the plain reload link
    assert "<script>" not in body
    assert " style=" not in body
    assert " onclick=" not in body


def test_the_partial_is_the_table_alone(cast, login):
    emergency = open_call(cast)
    response = login(cast.operator).get(PARTIAL)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="board"')
    assert "<html" not in body
    assert emergency.code in body
    assert 'hx-trigger="every 5s"' in body  # the swapped-in element keeps polling


def test_the_partial_sends_an_ended_session_to_the_login_page(cast, client):
    response = client.get(PARTIAL, headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response["HX-Redirect"].startswith("/accounts/login/?next=")


# --- From the dashboard ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["operator", "coordinator"])
def test_a_call_is_logged_from_the_dashboard_in_two_clicks(role, cast, login):
    client = login(cast.by_role()[role])
    call_url = reverse("alerts:emergency_call")
    dashboard = client.get("/").content.decode()
    assert f'href="{call_url}"' in dashboard  # click 1: "Log a call"
    form = client.get(call_url)
    assert form.status_code == 200
    response = client.post(  # click 2: submit
        call_url,
        {
            "caller": str(cast.birch.pk),
            "heard": HEARD,
            "location_hint": HINT,
            "people": [str(cast.falcon.pk)],
        },
    )
    emergency = Emergency.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("alerts:emergency_detail", args=[emergency.pk])
    assert client.get(response["Location"]).status_code == 200
    assert sorted(p.pseudonym for p in emergency.people.all()) == ["BIRCH", "FALCON"]
    assert list(emergency.cases.all()) == [cast.case]  # linked automatically
    assert emergency.caller == cast.birch
    assert emergency.opened_by == cast.by_role()[role]
    assert emergency.heard == HEARD
    assert emergency.notifications.exists()  # escalation started at once
    assert emergency.events.filter(kind="escalated").count() == 1


def test_the_emergencies_link_is_in_the_navigation(cast, login):
    assert f'href="{BOARD}"' in login(cast.caseworker).get("/").content.decode()


def test_analysts_have_neither_the_button_nor_the_link(cast, login):
    body = login(cast.analyst).get("/").content.decode()
    assert reverse("alerts:emergency_call") not in body
    assert f'href="{BOARD}"' not in body
