"""The dashboard's case card says whose open cases it lists, per role: a coordinator sees every
team's, staff on a team their teams', others (an operator, an analyst) what their role shows."""

from __future__ import annotations

import pytest
from django.urls import reverse

from refuge.cases.models import CaseStatus, CaseType
from tests.factories import CaseFactory, TeamFactory

pytestmark = pytest.mark.django_db


def dashboard(login, user) -> str:
    return login(user).get(reverse("cases:dashboard")).content.decode()


def test_a_coordinator_sees_the_open_cases_of_all_teams(cast, login):
    other = CaseFactory(team=TeamFactory(name="Kazan team"))
    page = dashboard(login, cast.coordinator)
    assert "Open cases of all teams" in page
    assert cast.case.code in page
    assert other.code in page
    assert "No open case on your teams" not in page


def test_a_coordinator_with_nothing_open_is_told_so_without_mentioning_teams(cast, login):
    cast.case.status = CaseStatus.CLOSED
    cast.case.save()
    page = dashboard(login, cast.coordinator)
    assert "No case is open on any team." in page
    assert "No open case on your teams" not in page


def test_a_team_member_sees_the_open_cases_of_their_teams(cast, login):
    other = CaseFactory(team=TeamFactory(name="Kazan team"))
    page = dashboard(login, cast.lawyer)
    assert "Open cases of my teams" in page
    assert cast.case.code in page
    assert other.code not in page


def test_a_closed_case_is_not_listed_as_open(cast, login):
    cast.case.status = CaseStatus.CLOSED
    cast.case.save()
    page = dashboard(login, cast.caseworker)
    assert cast.case.code not in page
    assert "No open case on your teams." in page


def test_an_operator_on_no_team_sees_the_open_emergency_cases(cast, login):
    emergency = CaseFactory(team=cast.case.team, case_type=CaseType.EMERGENCY)
    page = dashboard(login, cast.operator)
    assert "Open cases you can see" in page
    assert emergency.code in page
    assert cast.case.code not in page


def test_an_analyst_on_no_team_is_not_told_about_teams(cast, login):
    page = dashboard(login, cast.analyst)
    assert "No open case you can see." in page
    assert "your teams" not in page
