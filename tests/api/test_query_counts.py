"""Listing endpoints cost the same number of queries for one item as for many (no N+1)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import (
    CaseFactory,
    PersonFactory,
    RelativeFactory,
    TaskFactory,
    TimelineEntryFactory,
    UserFactory,
)


def _queries(api, path):
    with CaptureQueriesContext(connection) as captured:
        response = api.get(path)
    assert response.status_code == 200
    return len(captured)


def _more_cases(cast):
    for _ in range(4):
        CaseFactory(team=cast.case.team, people=[PersonFactory(), PersonFactory()])


def _more_people(cast):
    for _ in range(4):
        cast.case.people.add(PersonFactory())


def _more_entries(cast):
    for _ in range(4):
        TimelineEntryFactory(case=cast.case, author=UserFactory())


def _more_tasks(cast):
    for _ in range(4):
        TaskFactory(case=cast.case, assignee=cast.lawyer)


def _more_relatives(cast):
    for _ in range(4):
        RelativeFactory(person=cast.falcon)


@pytest.mark.parametrize(
    ("path", "grow"),
    [
        ("cases", _more_cases),
        ("people", _more_people),
        ("cases/{case}/timeline", _more_entries),
        ("cases/{case}/tasks", _more_tasks),
        ("people/{falcon}/relatives", _more_relatives),
        ("cases/{case}", _more_people),
    ],
)
def test_the_query_count_does_not_grow_with_the_items(cast, api_as, path, grow):
    api = api_as(cast.caseworker)
    path = path.format(case=cast.case.pk, falcon=cast.falcon.pk)
    TimelineEntryFactory(case=cast.case, author=cast.lawyer)
    TaskFactory(case=cast.case, assignee=cast.lawyer)
    api.get(path)  # warm up: the token's last_used_at is written on the first request only
    baseline = _queries(api, path)
    grow(cast)
    assert _queries(api, path) == baseline


def test_a_page_of_cases_costs_four_queries(cast, api_as):
    api = api_as(cast.caseworker)
    _more_cases(cast)
    api.get("cases")
    # The token (with its user), the count, the page, and the people of every case on it.
    assert _queries(api, "cases") == 4
