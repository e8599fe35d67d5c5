"""Cases, their workflow, timeline and tasks over the API."""

from __future__ import annotations

import datetime as dt

from refuge.accounts.models import Team
from refuge.cases.models import Case, CaseStatus, CaseType, Task, TimelineEntry
from refuge.core import clock
from tests.api.conftest import audit_count
from tests.factories import CaseFactory, TaskFactory

# --- Listing --------------------------------------------------------------------------------------


def test_the_list_is_paginated_with_items_count_page_and_pages(cast, api_as):
    body = api_as(cast.lawyer).get("cases").json()
    assert set(body) == {"items", "count", "page", "pages"}


def test_list_items_name_people_by_pseudonym(cast, api_as):
    item = api_as(cast.lawyer).get("cases").json()["items"][0]
    assert (item["code"], sorted(item["people"]), item["team"]["name"]) == (
        cast.case.code,
        ["BIRCH", "FALCON"],
        "Nizhny team",
    )


def test_the_list_filters_by_type(cast, api_as):
    CaseFactory(team=cast.case.team, case_type=CaseType.LEGAL)
    body = api_as(cast.lawyer).get("cases", {"type": "legal"}).json()
    assert [c["case_type"] for c in body["items"]] == ["legal"]


def test_the_list_filters_by_status(cast, api_as):
    CaseFactory(team=cast.case.team, status=CaseStatus.ACTIVE)
    body = api_as(cast.lawyer).get("cases", {"status": "intake"}).json()
    assert [c["code"] for c in body["items"]] == [cast.case.code]


def test_the_list_filters_by_risk(cast, api_as):
    CaseFactory(team=cast.case.team, risk_level="low")
    body = api_as(cast.lawyer).get("cases", {"risk": "low"}).json()
    assert [c["risk_level"] for c in body["items"]] == ["low"]


def test_the_list_filters_by_assignee_of_an_open_task(cast, api_as):
    CaseFactory(team=cast.case.team)
    TaskFactory(case=cast.case, assignee=cast.lawyer)
    body = api_as(cast.lawyer).get("cases", {"assignee": str(cast.lawyer.pk)}).json()
    assert [c["code"] for c in body["items"]] == [cast.case.code]


def test_the_list_searches_pseudonyms(cast, api_as):
    CaseFactory(team=cast.case.team)
    body = api_as(cast.lawyer).get("cases", {"q": "birch"}).json()
    assert [c["code"] for c in body["items"]] == [cast.case.code]


def test_an_unknown_filter_value_is_422_listing_the_choices(cast, api_as):
    response = api_as(cast.lawyer).get("cases", {"status": "open"})
    assert response.status_code == 422
    assert "'intake'" in response.json()["errors"]["status"][0]


# --- Opening --------------------------------------------------------------------------------------


def test_a_team_member_opens_a_case_for_their_team(cast, api_as):
    response = api_as(cast.lawyer).post(
        "cases",
        {"case_type": "legal", "team": str(cast.case.team_id), "people": [str(cast.falcon.pk)]},
    )
    assert response.status_code == 201
    assert [p["pseudonym"] for p in response.json()["people"]] == ["FALCON"]


def test_opening_a_case_puts_it_on_the_timeline(cast, api_as):
    body = (
        api_as(cast.lawyer)
        .post("cases", {"case_type": "legal", "team": str(cast.case.team_id)})
        .json()
    )
    assert TimelineEntry.objects.filter(case_id=body["id"], kind="opened").exists()


def test_a_case_for_a_team_one_is_not_on_is_422(cast, api_as):
    other = Team.objects.get(name="Moscow team")
    response = api_as(cast.lawyer).post("cases", {"case_type": "legal", "team": str(other.pk)})
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["team"]


def test_a_case_for_a_team_that_does_not_exist_is_422(cast, api_as):
    response = api_as(cast.coordinator).post(
        "cases", {"case_type": "legal", "team": "00000000-0000-4000-8000-000000000000"}
    )
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["team"]


def test_a_refused_case_is_not_created(cast, api_as):
    other = Team.objects.get(name="Moscow team")
    api_as(cast.lawyer).post("cases", {"case_type": "legal", "team": str(other.pk)})
    assert Case.objects.count() == 1


def test_a_person_one_cannot_see_cannot_be_put_on_a_case(cast, api_as):
    outsider_team = Team.objects.get(name="Moscow team")
    response = api_as(cast.outsider).post(
        "cases",
        {"case_type": "legal", "team": str(outsider_team.pk), "people": [str(cast.falcon.pk)]},
    )
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["people"]


def test_operators_open_emergency_cases_only(cast, api_as):
    response = api_as(cast.operator).post(
        "cases", {"case_type": "legal", "team": str(cast.case.team_id)}
    )
    assert response.status_code == 422


# --- Reading and changing -------------------------------------------------------------------------


def test_the_detail_has_summary_people_team_and_allowed_transitions(cast, api_as):
    body = api_as(cast.lawyer).get(f"cases/{cast.case.pk}").json()
    assert body["summary"] == "Evacuation summary"
    assert [p["pseudonym"] for p in body["people"]] == ["BIRCH", "FALCON"]
    assert [u["username"] for u in body["team"]["assignable"]] == ["caseworker", "lawyer"]
    assert body["allowed_transitions"] == ["verification", "closed"]


def test_the_summary_can_be_cleared(cast, api_as):
    api_as(cast.lawyer).patch(f"cases/{cast.case.pk}", {"summary": None})
    assert Case.objects.get(pk=cast.case.pk).summary is None


def test_a_patch_changes_only_what_is_sent(cast, api_as):
    api_as(cast.lawyer).patch(f"cases/{cast.case.pk}", {"risk_level": "critical"})
    case = Case.objects.get(pk=cast.case.pk)
    assert (case.risk_level, case.summary) == ("critical", "Evacuation summary")


def test_people_on_a_case_can_be_replaced(cast, api_as):
    body = (
        api_as(cast.lawyer).patch(f"cases/{cast.case.pk}", {"people": [str(cast.falcon.pk)]}).json()
    )
    assert [p["pseudonym"] for p in body["people"]] == ["FALCON"]


def test_a_case_cannot_be_moved_to_a_team_one_is_not_on(cast, api_as):
    other = Team.objects.get(name="Moscow team")
    response = api_as(cast.lawyer).patch(f"cases/{cast.case.pk}", {"team": str(other.pk)})
    assert response.status_code == 422


# --- Workflow -------------------------------------------------------------------------------------


def test_a_legal_transition_moves_the_case(cast, api_as):
    body = (
        api_as(cast.lawyer)
        .post(
            f"cases/{cast.case.pk}/transition", {"status": "verification", "note": "Documents seen"}
        )
        .json()
    )
    assert (body["status"], body["allowed_transitions"]) == ("verification", ["active", "closed"])


def test_an_illegal_transition_is_422_listing_the_allowed_statuses(cast, api_as):
    response = api_as(cast.lawyer).post(f"cases/{cast.case.pk}/transition", {"status": "archived"})
    assert response.status_code == 422
    assert response.json()["errors"] == {"status": ["Allowed: Verification, Closed."]}


def test_an_illegal_transition_changes_nothing(cast, api_as):
    api = api_as(cast.lawyer)
    before = audit_count()
    api.post(f"cases/{cast.case.pk}/transition", {"status": "archived"})
    assert (Case.objects.get(pk=cast.case.pk).status, audit_count()) == ("intake", before)


def test_an_unknown_status_is_422(cast, api_as):
    response = api_as(cast.lawyer).post(f"cases/{cast.case.pk}/transition", {"status": "done"})
    assert response.status_code == 422
    assert "status" in response.json()["errors"]


# --- Timeline -------------------------------------------------------------------------------------


def test_a_note_appears_on_the_timeline_with_its_author(cast, api_as):
    api = api_as(cast.lawyer)
    api.post(f"cases/{cast.case.pk}/timeline", {"kind": "note", "text": "Spoke to FALCON"})
    entry = api.get(f"cases/{cast.case.pk}/timeline").json()[0]
    assert (entry["kind"], entry["author"], entry["text"]) == ("note", "lawyer", "Spoke to FALCON")


def test_a_call_can_be_logged_at_an_earlier_time(cast, api_as):
    when = (clock.now() - dt.timedelta(hours=2)).replace(microsecond=0)
    body = (
        api_as(cast.lawyer)
        .post(
            f"cases/{cast.case.pk}/timeline",
            {"kind": "call", "text": "Hotline call", "occurred_at": when.isoformat()},
        )
        .json()
    )
    assert dt.datetime.fromisoformat(body["occurred_at"]) == when


def test_a_time_without_offset_is_refused(cast, api_as):
    response = api_as(cast.lawyer).post(
        f"cases/{cast.case.pk}/timeline",
        {"kind": "call", "text": "x", "occurred_at": "2030-01-01T10:00:00"},
    )
    assert response.status_code == 422
    assert "occurred_at" in response.json()["errors"]


def test_a_time_with_no_utc_equivalent_is_refused(cast, api_as):
    response = api_as(cast.lawyer).post(
        f"cases/{cast.case.pk}/timeline",
        {"kind": "call", "text": "x", "occurred_at": "0001-01-01T00:00:00+14:00"},
    )
    assert response.status_code == 422
    assert "occurred_at" in response.json()["errors"]


def test_a_future_time_is_refused(cast, api_as):
    when = clock.now() + dt.timedelta(days=1)
    response = api_as(cast.lawyer).post(
        f"cases/{cast.case.pk}/timeline",
        {"kind": "call", "text": "x", "occurred_at": when.isoformat()},
    )
    assert response.json()["errors"] == {"occurred_at": ["This time is in the future."]}


def test_only_notes_and_calls_can_be_added(cast, api_as):
    response = api_as(cast.lawyer).post(
        f"cases/{cast.case.pk}/timeline", {"kind": "status", "text": "x"}
    )
    assert response.status_code == 422


def test_an_empty_note_is_refused(cast, api_as):
    response = api_as(cast.lawyer).post(
        f"cases/{cast.case.pk}/timeline", {"kind": "note", "text": " "}
    )
    assert response.json()["errors"] == {"text": ["Write something first."]}


def test_operators_cannot_change_an_emergency_case_of_another_team(cast, api_as):
    emergency = CaseFactory(case_type=CaseType.EMERGENCY)
    response = api_as(cast.operator).patch(f"cases/{emergency.pk}", {"risk_level": "low"})
    assert response.status_code == 404


def test_operators_log_calls_on_any_emergency_case(cast, api_as):
    emergency = CaseFactory(case_type=CaseType.EMERGENCY)
    response = api_as(cast.operator).post(
        f"cases/{emergency.pk}/timeline", {"kind": "call", "text": "Caller safe"}
    )
    assert response.status_code == 201


# --- Tasks ----------------------------------------------------------------------------------------


def test_a_task_is_created_for_a_team_member(cast, api_as):
    body = (
        api_as(cast.caseworker)
        .post(
            f"cases/{cast.case.pk}/tasks",
            {"title": "Buy tickets", "due_date": "2030-01-02", "assignee": str(cast.lawyer.pk)},
        )
        .json()
    )
    assert (body["title"], body["assignee"]["username"], body["due_date"]) == (
        "Buy tickets",
        "lawyer",
        "2030-01-02",
    )


def test_a_task_cannot_go_to_someone_off_the_team(cast, api_as):
    response = api_as(cast.caseworker).post(
        f"cases/{cast.case.pk}/tasks", {"title": "x", "assignee": str(cast.outsider.pk)}
    )
    assert response.json()["errors"] == {
        "assignee": ["Assign the task to someone on the case team."]
    }


def test_the_task_list_shows_the_cases_tasks(cast, api_as):
    TaskFactory(case=cast.case, title="Call the consulate")
    body = api_as(cast.lawyer).get(f"cases/{cast.case.pk}/tasks").json()
    assert [t["title"] for t in body] == ["Call the consulate"]


def test_completing_a_task_marks_it_done(cast, api_as):
    task = TaskFactory(case=cast.case)
    body = api_as(cast.lawyer).post(f"tasks/{task.pk}/complete").json()
    assert body["done_at"] is not None


def test_a_done_task_cannot_be_completed_again(cast, api_as):
    task = TaskFactory(case=cast.case, done_at=clock.now())
    response = api_as(cast.lawyer).post(f"tasks/{task.pk}/complete")
    assert response.json() == {"detail": "This task is already done."}


def test_reopening_a_task_clears_done(cast, api_as):
    task = TaskFactory(case=cast.case, done_at=clock.now())
    api_as(cast.lawyer).post(f"tasks/{task.pk}/reopen")
    assert Task.objects.get(pk=task.pk).done_at is None
