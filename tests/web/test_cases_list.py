"""The case list: filters through a plain GET form, pagination that keeps them, htmx partials and
a bounded number of queries."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from refuge.cases.models import CaseStatus, CaseType
from refuge.people.models import RiskLevel
from tests.factories import CaseFactory, PersonFactory, TaskFactory

pytestmark = pytest.mark.django_db

LIST = reverse("cases:list")
CASE_LINK = re.compile(r'href="/cases/([0-9a-f-]{36})/"')


def listed(response) -> set[str]:
    return set(CASE_LINK.findall(response.content.decode()))


def test_filtering_by_type_keeps_only_that_type(cast, login):
    emergency = CaseFactory(team=cast.case.team, case_type=CaseType.EMERGENCY)
    response = login(cast.caseworker).get(LIST, {"case_type": "emergency"})
    assert listed(response) == {str(emergency.pk)}


def test_filtering_by_status_keeps_only_that_status(cast, login):
    active = CaseFactory(team=cast.case.team, status=CaseStatus.ACTIVE)
    response = login(cast.caseworker).get(LIST, {"status": "active"})
    assert listed(response) == {str(active.pk)}


def test_filtering_by_risk_keeps_only_that_risk(cast, login):
    critical = CaseFactory(team=cast.case.team, risk_level=RiskLevel.CRITICAL)
    response = login(cast.caseworker).get(LIST, {"risk_level": "critical"})
    assert listed(response) == {str(critical.pk)}


def test_filtering_by_assignee_keeps_cases_where_they_have_an_open_task(cast, login):
    other = CaseFactory(team=cast.case.team)
    TaskFactory(case=cast.case, assignee=cast.lawyer)
    response = login(cast.caseworker).get(LIST, {"assignee": str(cast.lawyer.pk)})
    assert listed(response) == {str(cast.case.pk)}
    assert str(other.pk) not in listed(response)


def test_assignee_filter_offers_only_staff_with_open_tasks(cast, login):
    TaskFactory(case=cast.case, assignee=cast.lawyer)
    page = login(cast.caseworker).get(LIST).content.decode()
    assert f'<option value="{cast.lawyer.pk}">lawyer</option>' in page
    assert f'value="{cast.caseworker.pk}"' not in page


def test_assignee_filter_does_not_reveal_staff_working_on_cases_i_cannot_see(cast, login):
    TaskFactory(case=cast.case, assignee=cast.lawyer)
    page = login(cast.outsider).get(LIST).content.decode()
    assert str(cast.lawyer.pk) not in page


def test_searching_by_pseudonym_finds_the_case(cast, login):
    CaseFactory(team=cast.case.team)
    response = login(cast.caseworker).get(LIST, {"q": "falc"})
    assert listed(response) == {str(cast.case.pk)}


def test_searching_by_case_code_finds_the_case(cast, login):
    CaseFactory(team=cast.case.team)
    response = login(cast.caseworker).get(LIST, {"q": cast.case.code.lower()})
    assert listed(response) == {str(cast.case.pk)}


def test_search_does_not_find_cases_outside_my_need_to_know(cast, login):
    response = login(cast.outsider).get(LIST, {"q": "FALCON"})
    assert listed(response) == set()
    assert "No case matches these filters." in response.content.decode()


def test_an_unknown_filter_value_is_reported_and_left_out(cast, login):
    response = login(cast.caseworker).get(LIST, {"status": "deleted"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Select a valid choice" in page
    assert listed(response) == {str(cast.case.pk)}


def test_an_assignee_without_open_tasks_is_reported_and_left_out(cast, login):
    response = login(cast.caseworker).get(LIST, {"assignee": str(cast.outsider.pk)})
    assert "Select a valid choice" in response.content.decode()
    assert listed(response) == {str(cast.case.pk)}


def test_a_malformed_assignee_is_reported_and_left_out(cast, login):
    response = login(cast.caseworker).get(LIST, {"assignee": "not-a-uuid"})
    assert "is not a valid UUID" in response.content.decode()
    assert listed(response) == {str(cast.case.pk)}


def test_filters_stay_selected_in_the_form(cast, login):
    page = login(cast.caseworker).get(LIST, {"case_type": "legal"}).content.decode()
    assert '<option value="legal" selected>' in page


def test_pages_split_the_list_without_overlap(cast, login, settings):
    settings.PAGE_SIZE = 5
    for _ in range(7):
        CaseFactory(team=cast.case.team)
    client = login(cast.caseworker)
    first = listed(client.get(LIST))
    second = listed(client.get(LIST, {"page": "2"}))
    assert len(first) == 5
    assert len(second) == 3
    assert not first & second


def test_page_links_keep_the_filters(cast, login, settings):
    settings.PAGE_SIZE = 5
    for _ in range(6):
        CaseFactory(team=cast.case.team, case_type=CaseType.LEGAL)
    page = login(cast.caseworker).get(LIST, {"case_type": "legal"}).content.decode()
    assert 'href="?case_type=legal&amp;page=2"' in page


def test_the_second_page_of_a_filtered_list_stays_filtered(cast, login, settings):
    settings.PAGE_SIZE = 5
    legal = {str(CaseFactory(team=cast.case.team, case_type=CaseType.LEGAL).pk) for _ in range(6)}
    client = login(cast.caseworker)
    both_pages = listed(client.get(LIST, {"case_type": "legal"})) | listed(
        client.get(LIST, {"case_type": "legal", "page": "2"})
    )
    assert both_pages == legal


def test_a_page_number_out_of_range_shows_the_last_page(cast, login):
    response = login(cast.caseworker).get(LIST, {"page": "99"})
    assert response.status_code == 200
    assert listed(response) == {str(cast.case.pk)}


def test_htmx_gets_only_the_results_fragment(cast, login):
    response = login(cast.caseworker).get(LIST, {"q": "FALCON"}, headers={"HX-Request": "true"})
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="case-results"')
    assert "<html" not in page
    assert listed(response) == {str(cast.case.pk)}
    assert "HX-Request" in response["Vary"]


def test_htmx_history_restore_gets_the_whole_page(cast, login):
    response = login(cast.caseworker).get(
        LIST, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in response.content.decode()


def test_the_filter_form_works_without_javascript(cast, login):
    page = login(cast.caseworker).get(LIST).content.decode()
    assert re.search(r'<form method="get" action="/cases/"', page)
    assert '<button type="submit">Filter</button>' in page


def test_the_list_shows_type_status_team_and_opening_date(cast, login):
    page = login(cast.caseworker).get(LIST).content.decode()
    assert "Evacuation &amp; relocation" in page
    assert "Intake" in page
    assert "Nizhny team" in page
    assert f'datetime="{timezone.localtime(cast.case.created_at):%Y-%m-%dT%H:%M}' in page


def test_the_list_of_twenty_cases_takes_a_bounded_number_of_queries(
    cast, login, django_assert_max_num_queries
):
    for _ in range(20):
        people = [PersonFactory(), PersonFactory(is_minor=True)]
        case = CaseFactory(team=cast.case.team, people=people)
        TaskFactory(case=case, assignee=cast.lawyer)
    client = login(cast.caseworker)
    client.get(LIST)  # warm the session and the content-type caches
    with django_assert_max_num_queries(12):
        response = client.get(LIST)
    assert len(listed(response)) == 21
