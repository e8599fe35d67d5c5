"""Who may open which cases page: team members and coordinators in, outsiders get 404."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from refuge.cases.models import CaseType
from tests.conftest import verified_login
from tests.factories import CaseFactory, PersonFactory, TaskFactory, TimelineEntryFactory

pytestmark = pytest.mark.django_db


ALLOWED = ["caseworker", "lawyer", "coordinator"]
RUSSIAN_MONTHS = r"янв\.|февр\.|мар\.|апр\.|мая|июн\.|июл\.|авг\.|сент\.|окт\.|нояб\.|дек\."
SHUT_OUT = ["outsider", "analyst", "operator", "admin"]


def detail_url(case):
    return reverse("cases:detail", args=[case.pk])


def edit_url(case):
    return reverse("cases:edit", args=[case.pk])


# Login ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        reverse("cases:dashboard"),
        reverse("cases:list"),
        reverse("cases:create"),
    ],
)
def test_anonymous_visitors_are_sent_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_anonymous_visitors_cannot_see_a_case(client, cast):
    response = client.get(detail_url(cast.case))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_posts_without_a_csrf_token_are_refused(cast):
    client = Client(enforce_csrf_checks=True)
    verified_login(client, cast.caseworker)
    response = client.post(
        reverse("cases:timeline_add", args=[cast.case.pk]), {"kind": "note", "text": "x"}
    )
    assert response.status_code == 403
    assert not cast.case.timeline.filter(kind="note").exists()


# Dashboard ------------------------------------------------------------------------------------


def test_dashboard_lists_the_cases_of_my_teams(cast, login):
    response = login(cast.caseworker).get(reverse("cases:dashboard"))
    assert response.status_code == 200
    assert cast.case.code in response.content.decode()


def test_dashboard_offers_to_open_a_case(cast, login):
    response = login(cast.caseworker).get(reverse("cases:dashboard"))
    assert reverse("cases:create") in response.content.decode()


def test_dashboard_does_not_offer_to_open_a_case_to_an_analyst(cast, login):
    response = login(cast.analyst).get(reverse("cases:dashboard"))
    assert response.status_code == 200
    assert reverse("cases:create") not in response.content.decode()


def test_dashboard_shows_my_tasks_due_soon(cast, login):
    TaskFactory(case=cast.case, assignee=cast.lawyer, title="Call the police station")
    response = login(cast.lawyer).get(reverse("cases:dashboard"))
    assert "Call the police station" in response.content.decode()


def test_dashboard_does_not_show_tasks_of_others(cast, login):
    TaskFactory(case=cast.case, assignee=cast.lawyer, title="Call the police station")
    response = login(cast.caseworker).get(reverse("cases:dashboard"))
    assert "Call the police station" not in response.content.decode()


def test_dashboard_shows_recent_activity_on_visible_cases(cast, login):
    TimelineEntryFactory(case=cast.case, kind="call", author=cast.lawyer)
    response = login(cast.coordinator).get(reverse("cases:dashboard"))
    page = response.content.decode()
    assert cast.case.code in page
    assert "Call" in page


def test_dashboard_hides_activity_on_other_teams_cases(cast, login):
    TimelineEntryFactory(case=cast.case, kind="call", author=cast.lawyer)
    response = login(cast.outsider).get(reverse("cases:dashboard"))
    assert cast.case.code not in response.content.decode()


def test_dashboard_with_many_cases_tasks_and_entries_takes_a_bounded_number_of_queries(
    cast, login, django_assert_max_num_queries
):
    for _ in range(15):
        case = CaseFactory(team=cast.case.team, people=[PersonFactory(), PersonFactory()])
        TaskFactory(case=case, assignee=cast.caseworker)
        TimelineEntryFactory(case=case, author=cast.lawyer)
    client = login(cast.caseworker)
    client.get(reverse("cases:dashboard"))
    # One of them reads the open emergencies (the navigation badge and the dashboard's card);
    # one asks whether the user is on a team (which cases the card lists).
    with django_assert_max_num_queries(13):
        response = client.get(reverse("cases:dashboard"))
    assert response.content.decode().count("#tasks") == 15


def test_dashboard_sends_an_admin_to_the_staff_list(cast, login):
    response = login(cast.admin).get(reverse("cases:dashboard"))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:user_list")


# List -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ALLOWED)
def test_case_list_shows_the_case_to_those_who_may_see_it(cast, login, role):
    response = login(cast.by_role()[role]).get(reverse("cases:list"))
    assert response.status_code == 200
    assert cast.case.code in response.content.decode()


@pytest.mark.parametrize("role", [role for role in SHUT_OUT if role != "admin"])
def test_case_list_hides_the_case_from_everyone_else(cast, login, role):
    response = login(cast.by_role()[role]).get(reverse("cases:list"))
    assert response.status_code == 200
    assert cast.case.code not in response.content.decode()


def test_case_list_tells_an_admin_that_the_role_sees_no_case(cast, login):
    response = login(cast.admin).get(reverse("cases:list"))
    assert response.status_code == 403
    assert "Administrators manage staff accounts; they see no case." in response.content.decode()


def test_case_list_shows_pseudonyms_and_marks_the_minor(cast, login):
    page = login(cast.caseworker).get(reverse("cases:list")).content.decode()
    assert "FALCON" in page
    assert "BIRCH" in page
    assert 'class="badge minor"' in page


def test_case_list_never_shows_a_legal_name(cast, login):
    page = login(cast.coordinator).get(reverse("cases:list")).content.decode()
    assert "Testaev" not in page
    assert "Demoev" not in page


def test_operator_sees_emergency_cases_in_the_list(cast, login):
    emergency = CaseFactory(case_type=CaseType.EMERGENCY)
    page = login(cast.operator).get(reverse("cases:list")).content.decode()
    assert emergency.code in page


# Detail ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ALLOWED)
def test_case_detail_opens_for_team_members_and_coordinators(cast, login, role):
    response = login(cast.by_role()[role]).get(detail_url(cast.case))
    assert response.status_code == 200
    assert "Evacuation summary" in response.content.decode()


@pytest.mark.parametrize("role", SHUT_OUT)
def test_case_detail_is_404_for_everyone_else(cast, login, role):
    response = login(cast.by_role()[role]).get(detail_url(cast.case))
    assert response.status_code == 404
    assert "Evacuation summary" not in response.content.decode()


def test_case_detail_is_404_for_an_unknown_id(cast, login):
    response = login(cast.coordinator).get(
        reverse("cases:detail", args=["00000000-0000-4000-8000-000000000000"])
    )
    assert response.status_code == 404


def test_case_detail_links_each_person_to_their_page(cast, login):
    page = login(cast.lawyer).get(detail_url(cast.case)).content.decode()
    assert reverse("people:detail", args=[cast.falcon.pk]) in page
    assert reverse("people:detail", args=[cast.birch.pk]) in page


def test_case_detail_shows_no_legal_identity(cast, login):
    page = login(cast.caseworker).get(detail_url(cast.case)).content.decode()
    assert "Testaev" not in page
    assert "+7 900" not in page


def test_case_detail_shows_tasks_with_their_assignee(cast, login):
    TaskFactory(case=cast.case, assignee=cast.lawyer, title="Book the train")
    page = login(cast.caseworker).get(detail_url(cast.case)).content.decode()
    assert "Book the train" in page
    assert "lawyer" in page
    assert reverse("cases:task_create", args=[cast.case.pk]) in page


def test_case_detail_offers_only_the_allowed_transitions(cast, login):
    page = login(cast.caseworker).get(detail_url(cast.case)).content.decode()
    assert '<option value="verification">' in page
    assert '<option value="closed">' in page
    assert '<option value="active">' not in page
    assert '<option value="archived">' not in page


def test_case_detail_shows_times_in_the_active_language(cast, login):
    TimelineEntryFactory(case=cast.case, kind="note", text="Checked in")
    page = (
        login(cast.caseworker)
        .get(detail_url(cast.case), HTTP_ACCEPT_LANGUAGE="ru")
        .content.decode()
    )
    assert '<html lang="ru">' in page
    # Refuge's Russian DATETIME_FORMAT: "7 дек. 2026, 09:15" (refuge/config/formats/ru).
    assert re.search(rf">\d{{1,2}} ({RUSSIAN_MONTHS}) \d{{4}}, \d{{2}}:\d{{2}}<", page)


def test_analyst_reads_a_documentation_case_without_edit_forms(cast, login):
    documentation = CaseFactory(case_type=CaseType.DOCUMENTATION, people=[cast.falcon])
    response = login(cast.analyst).get(detail_url(documentation))
    page = response.content.decode()
    assert response.status_code == 200
    assert reverse("cases:timeline_add", args=[documentation.pk]) not in page
    assert edit_url(documentation) not in page


def test_operator_sees_the_call_form_on_an_emergency_case(cast, login):
    emergency = CaseFactory(case_type=CaseType.EMERGENCY, people=[cast.falcon])
    page = login(cast.operator).get(detail_url(emergency)).content.decode()
    assert reverse("cases:timeline_add", args=[emergency.pk]) in page


# Create and edit ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["caseworker", "lawyer", "coordinator", "operator"])
def test_create_form_opens_for_roles_that_open_cases(cast, login, role):
    response = login(cast.by_role()[role]).get(reverse("cases:create"))
    assert response.status_code == 200
    assert 'name="case_type"' in response.content.decode()


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_create_form_explains_that_the_role_cannot_open_cases(cast, login, role):
    response = login(cast.by_role()[role]).get(reverse("cases:create"))
    assert response.status_code == 403
    assert (
        "Opening cases is for case workers, lawyers and coordinators" in response.content.decode()
    )


@pytest.mark.parametrize("role", ALLOWED)
def test_edit_form_opens_for_team_members_and_coordinators(cast, login, role):
    response = login(cast.by_role()[role]).get(edit_url(cast.case))
    assert response.status_code == 200
    assert "Evacuation summary" in response.content.decode()


@pytest.mark.parametrize("role", SHUT_OUT)
def test_edit_form_is_404_for_everyone_else(cast, login, role):
    response = login(cast.by_role()[role]).get(edit_url(cast.case))
    assert response.status_code == 404


def test_edit_form_is_404_for_an_analyst_who_can_read_the_case(cast, login):
    documentation = CaseFactory(case_type=CaseType.DOCUMENTATION)
    response = login(cast.analyst).get(edit_url(documentation))
    assert response.status_code == 404


# Writes by outsiders --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("cases:timeline_add", {"kind": "note", "text": "Intruder note"}),
        ("cases:status_change", {"status": "verification"}),
        ("cases:task_create", {"title": "Intruder task"}),
        ("cases:edit", {"team": "", "risk_level": "low"}),
    ],
)
def test_outsider_posts_get_404_and_change_nothing(cast, login, name, data):
    before = cast.case.timeline.count()
    response = login(cast.outsider).post(reverse(name, args=[cast.case.pk]), data)
    assert response.status_code == 404
    cast.case.refresh_from_db()
    assert cast.case.status == "intake"
    assert cast.case.risk_level == "high"
    assert cast.case.timeline.count() == before
    assert not cast.case.tasks.exists()


@pytest.mark.parametrize("name", ["cases:task_complete", "cases:task_reopen"])
def test_outsider_cannot_touch_a_task(cast, login, name):
    task = TaskFactory(case=cast.case)
    response = login(cast.outsider).post(reverse(name, args=[task.pk]))
    assert response.status_code == 404


def test_analyst_cannot_write_on_a_documentation_case_off_their_team(cast, login):
    documentation = CaseFactory(case_type=CaseType.DOCUMENTATION)
    response = login(cast.analyst).post(
        reverse("cases:timeline_add", args=[documentation.pk]), {"kind": "note", "text": "x"}
    )
    assert response.status_code == 404
    assert not documentation.timeline.filter(kind="note").exists()


@pytest.mark.parametrize("name", ["cases:timeline_add", "cases:status_change", "cases:task_create"])
def test_state_changes_refuse_get(cast, login, name):
    response = login(cast.caseworker).get(reverse(name, args=[cast.case.pk]))
    assert response.status_code == 405
