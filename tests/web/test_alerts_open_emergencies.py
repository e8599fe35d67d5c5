"""Open emergencies on every staff page of those who may act on them: the navigation badge (its
count, marked while any is unacknowledged) and the dashboard card; nothing for roles that see no
emergency, and one query whatever the number of emergencies."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from refuge.alerts import selectors_emergencies
from refuge.alerts.services import emergencies, response
from tests.conftest import BIRCH_NAME, FALCON_NAME, FLAT_ADDRESS
from tests.factories import PersonFactory
from tests.web.test_alerts_emergency import HEARD, HINT, open_call

pytestmark = pytest.mark.django_db

BADGE = re.compile(
    r'<span class="badge nav-count( unacknowledged)?"[^>]*><span aria-hidden="true">(\d+)'
)
# Any staff page shows the badge, not only the board or the dashboard.
STAFF_PAGE = "/people/"


def badge(body: str) -> tuple[int, bool] | None:
    """(count, marked as unacknowledged) of the navigation badge, or None without one."""
    found = BADGE.search(body)
    return None if found is None else (int(found.group(2)), bool(found.group(1)))


@pytest.mark.parametrize("role", ["operator", "coordinator", "caseworker", "lawyer"])
def test_those_who_may_act_see_the_count_on_every_staff_page(role, cast, login):
    open_call(cast)
    body = login(cast.by_role()[role]).get(STAFF_PAGE).content.decode()
    assert badge(body) == (1, True)
    assert "1 open emergency, 1 not acknowledged" in body


def test_an_outsider_sees_no_badge_for_another_teams_emergency(cast, login):
    open_call(cast)
    assert badge(login(cast.outsider).get(STAFF_PAGE).content.decode()) is None


@pytest.mark.parametrize("role", ["analyst"])
def test_roles_that_see_no_emergency_get_neither_badge_nor_card(role, cast, login):
    open_call(cast)
    body = login(cast.by_role()[role]).get("/").content.decode()
    assert badge(body) is None
    assert "open-emergencies-heading" not in body


def test_the_badge_is_plain_once_every_emergency_is_acknowledged(cast, login):
    emergency = open_call(cast)
    response.emergency_acknowledge(actor=cast.lawyer, emergency=emergency)
    body = login(cast.operator).get(STAFF_PAGE).content.decode()
    assert badge(body) == (1, False)
    assert "not acknowledged" not in body


def test_the_badge_counts_every_open_emergency(cast, login):
    open_call(cast)
    emergencies.emergency_open_call(
        actor=cast.operator, caller=None, heard="Silence", location_hint="", people=[]
    )
    assert badge(login(cast.coordinator).get(STAFF_PAGE).content.decode()) == (2, True)


def test_resolved_emergencies_leave_the_badge(cast, login):
    emergency = open_call(cast)
    response.emergency_resolve(actor=cast.coordinator, emergency=emergency, outcome="safe")
    assert badge(login(cast.operator).get(STAFF_PAGE).content.decode()) is None


@pytest.mark.parametrize("role", ["operator", "coordinator", "caseworker"])
def test_the_dashboard_card_lists_each_open_emergency(role, cast, login):
    emergency = open_call(cast)
    body = login(cast.by_role()[role]).get("/").content.decode()
    card = body[body.index('id="open-emergencies-heading"') :]
    assert f'href="{reverse("alerts:emergency_detail", args=[emergency.pk])}"' in card
    for text in (emergency.code, "High", "Call to the emergency line", "Open", "0 s"):
        assert text in card
    assert "1 emergency is not acknowledged" in card


def test_the_dashboard_card_says_when_nothing_is_open(cast, login):
    body = login(cast.operator).get("/").content.decode()
    assert "open-emergencies-heading" in body
    assert "No open emergency." in body


def test_the_card_shows_pseudonyms_and_codes_only(cast, login):
    open_call(cast)
    body = login(cast.coordinator).get("/").content.decode()
    for secret in (FALCON_NAME, BIRCH_NAME, FLAT_ADDRESS, HEARD, HINT):
        assert secret not in body


def test_the_open_emergencies_are_read_in_one_query(cast):
    for index in range(5):
        person = PersonFactory(pseudonym=f"OAK{index}")
        emergencies.emergency_open_call(
            actor=cast.operator, caller=None, heard="", location_hint="", people=[person]
        )
    with CaptureQueriesContext(connection) as queries:
        found = selectors_emergencies.open_emergencies(actor=cast.caseworker)
        found_all = selectors_emergencies.open_emergencies(actor=cast.coordinator)
    assert (found.count, found_all.count) == (0, 5)
    assert len(queries) == 2  # one for each reader
