"""Opening and editing cases, changing status and managing tasks through the HTML forms: the
service decides, the form shows its reasons inline, and a refusal changes nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from refuge.cases.models import Case, CaseStatus, CaseType, Task, TimelineEntry
from refuge.people.models import RiskLevel
from refuge.security.models import AuditEntry
from tests.factories import CaseFactory, MembershipFactory, PersonFactory, TaskFactory, TeamFactory

pytestmark = pytest.mark.django_db

CREATE = reverse("cases:create")


def opening(cast, **overrides):
    data = {
        "case_type": CaseType.LEGAL,
        "team": str(cast.case.team_id),
        "people": [str(cast.falcon.pk)],
        "risk_level": RiskLevel.HIGH,
        "summary": "Missing-person claim",
    }
    data.update(overrides)
    return data


def status_url(case):
    return reverse("cases:status_change", args=[case.pk])


def task_url(case):
    return reverse("cases:task_create", args=[case.pk])


def detail(case):
    return reverse("cases:detail", args=[case.pk])


# Create ---------------------------------------------------------------------------------------


def test_opening_a_case_redirects_to_it(cast, login):
    response = login(cast.lawyer).post(CREATE, opening(cast))
    case = Case.objects.exclude(pk=cast.case.pk).get()
    assert response.status_code == 302
    assert response["Location"] == detail(case)


def test_opening_a_case_stores_what_was_entered(cast, login):
    login(cast.lawyer).post(CREATE, opening(cast))
    case = Case.objects.exclude(pk=cast.case.pk).get()
    assert case.case_type == CaseType.LEGAL
    assert case.team_id == cast.case.team_id
    assert list(case.people.all()) == [cast.falcon]
    assert case.summary == "Missing-person claim"
    assert AuditEntry.objects.filter(action="refuge.cases.case.opened").count() == 1


def test_the_create_form_offers_only_people_i_may_see_by_pseudonym(cast, login):
    stranger = PersonFactory(pseudonym="STRANGER")
    page = login(cast.lawyer).get(CREATE).content.decode()
    assert "FALCON" in page
    assert "BIRCH (minor)" in page
    assert stranger.pseudonym not in page
    assert "Testaev" not in page


def test_the_create_form_offers_only_my_teams(cast, login):
    page = login(cast.lawyer).get(CREATE).content.decode()
    assert "Nizhny team" in page
    assert "Moscow team" not in page


def test_the_create_form_offers_a_coordinator_every_team(cast, login):
    page = login(cast.coordinator).get(CREATE).content.decode()
    assert "Nizhny team" in page
    assert "Moscow team" in page


def test_the_create_form_preselects_my_only_team(cast, login):
    page = login(cast.lawyer).get(CREATE).content.decode()
    assert f'<option value="{cast.case.team_id}" selected>Nizhny team</option>' in page


def test_the_create_form_preselects_a_person_passed_in_the_url(cast, login):
    page = login(cast.lawyer).get(CREATE, {"person": str(cast.falcon.pk)}).content.decode()
    assert f'<option value="{cast.falcon.pk}" selected>FALCON</option>' in page


def test_the_create_form_offers_an_operator_only_emergency_cases(cast, login):
    page = login(cast.operator).get(CREATE).content.decode()
    assert '<option value="emergency" selected>' in page
    assert 'value="evacuation"' not in page


def test_an_operator_opens_an_emergency_case_for_both_men(cast, login):
    team = TeamFactory(name="Hotline team")
    MembershipFactory(team=team, user=cast.operator)
    data = opening(
        cast,
        case_type=CaseType.EMERGENCY,
        team=str(team.pk),
        people=[str(cast.falcon.pk), str(cast.birch.pk)],
    )
    response = login(cast.operator).post(CREATE, data)
    case = Case.objects.get(case_type=CaseType.EMERGENCY)
    assert response.status_code == 302
    assert set(case.people.all()) == {cast.falcon, cast.birch}


def test_an_operator_submitting_another_case_type_is_refused(cast, login):
    response = login(cast.operator).post(CREATE, opening(cast, case_type=CaseType.EVACUATION))
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert Case.objects.count() == 1


def test_an_invalid_create_form_shows_inline_errors_and_creates_nothing(cast, login):
    response = login(cast.lawyer).post(CREATE, opening(cast, case_type="", team=""))
    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_case_type_error"' in page
    assert 'id="id_team_error"' in page
    assert "Missing-person claim</textarea>" in page
    assert Case.objects.count() == 1
    assert not AuditEntry.objects.filter(action="refuge.cases.case.opened").exists()


def test_a_team_i_am_not_on_is_refused(cast, login):
    moscow = TeamFactory(name="Moscow team")
    response = login(cast.lawyer).post(CREATE, opening(cast, team=str(moscow.pk)))
    assert response.status_code == 400
    assert 'id="id_team_error"' in response.content.decode()
    assert Case.objects.count() == 1


def test_a_person_i_may_not_see_is_refused(cast, login):
    stranger = PersonFactory()
    response = login(cast.lawyer).post(CREATE, opening(cast, people=[str(stranger.pk)]))
    assert response.status_code == 400
    assert 'id="id_people_error"' in response.content.decode()
    assert Case.objects.count() == 1


def test_a_summary_over_the_limit_is_refused_by_the_service_with_its_message(cast, login):
    response = login(cast.lawyer).post(CREATE, opening(cast, summary="x" * 20_001))
    page = response.content.decode()
    assert response.status_code == 400
    assert "Keep this under 20000 characters" in page
    assert "Please correct the errors below." in page
    assert Case.objects.count() == 1


def test_an_analyst_cannot_open_a_case_by_posting(cast, login):
    response = login(cast.analyst).post(CREATE, opening(cast, case_type=CaseType.DOCUMENTATION))
    assert response.status_code == 403
    assert Case.objects.count() == 1


# Edit -----------------------------------------------------------------------------------------


def edit(cast, **overrides):
    data = {
        "team": str(cast.case.team_id),
        "people": [str(cast.falcon.pk), str(cast.birch.pk)],
        "risk_level": RiskLevel.CRITICAL,
        "summary": "Updated summary",
    }
    data.update(overrides)
    return data


def test_editing_a_case_saves_the_changes(cast, login):
    response = login(cast.caseworker).post(reverse("cases:edit", args=[cast.case.pk]), edit(cast))
    cast.case.refresh_from_db()
    assert response.status_code == 302
    assert cast.case.risk_level == RiskLevel.CRITICAL
    assert cast.case.summary == "Updated summary"
    assert AuditEntry.objects.filter(action="refuge.cases.case.updated").count() == 1


def test_removing_a_person_from_a_case_is_recorded_in_the_timeline(cast, login):
    login(cast.caseworker).post(
        reverse("cases:edit", args=[cast.case.pk]), edit(cast, people=[str(cast.falcon.pk)])
    )
    assert list(cast.case.people.all()) == [cast.falcon]
    assert TimelineEntry.objects.filter(case=cast.case, kind="people").exists()


def test_an_invalid_edit_is_refused_and_changes_nothing(cast, login):
    response = login(cast.caseworker).post(
        reverse("cases:edit", args=[cast.case.pk]), edit(cast, risk_level="extreme")
    )
    cast.case.refresh_from_db()
    assert response.status_code == 400
    assert 'id="id_risk_level_error"' in response.content.decode()
    assert cast.case.risk_level == RiskLevel.HIGH
    assert cast.case.summary == "Evacuation summary"


def test_the_edit_form_starts_from_the_current_values(cast, login):
    page = login(cast.lawyer).get(reverse("cases:edit", args=[cast.case.pk])).content.decode()
    assert f'<option value="{cast.falcon.pk}" selected>FALCON</option>' in page
    assert '<option value="high" selected>' in page


# Status ---------------------------------------------------------------------------------------


def test_an_allowed_transition_changes_the_status(cast, login):
    response = login(cast.caseworker).post(status_url(cast.case), {"status": "verification"})
    cast.case.refresh_from_db()
    assert response.status_code == 302
    assert cast.case.status == CaseStatus.VERIFICATION


def test_a_transition_is_shown_in_the_timeline_with_from_and_to(cast, login):
    client = login(cast.caseworker)
    client.post(status_url(cast.case), {"status": "verification", "note": "Identity confirmed"})
    page = client.get(detail(cast.case)).content.decode()
    assert "<dt>From</dt><dd>Intake</dd><dt>To</dt><dd>Verification</dd>" in page
    assert "Identity confirmed" in page


def test_an_illegal_transition_is_refused_with_the_allowed_statuses(cast, login):
    response = login(cast.caseworker).post(status_url(cast.case), {"status": "archived"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "Allowed next statuses: Verification, Closed." in page
    assert 'id="id_status_error"' in page


def test_an_illegal_transition_changes_nothing(cast, login):
    login(cast.caseworker).post(status_url(cast.case), {"status": "archived"})
    cast.case.refresh_from_db()
    assert cast.case.status == CaseStatus.INTAKE
    assert not TimelineEntry.objects.filter(case=cast.case, kind="status").exists()
    assert not AuditEntry.objects.filter(action="refuge.cases.case.status_changed").exists()


def test_a_nonsense_status_is_refused_with_the_allowed_statuses(cast, login):
    response = login(cast.caseworker).post(status_url(cast.case), {"status": "<b>gone</b>"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "Allowed: Verification, Closed." in page
    assert "<b>gone</b>" not in page


def test_an_archived_case_offers_no_status_change(cast, login):
    archived = CaseFactory(team=cast.case.team, status=CaseStatus.ARCHIVED)
    page = login(cast.caseworker).get(detail(archived)).content.decode()
    assert status_url(archived) not in page
    assert "its status cannot change any more" in page


# Tasks ----------------------------------------------------------------------------------------


def test_adding_a_task_stores_it_with_due_date_and_assignee(cast, login):
    response = login(cast.caseworker).post(
        task_url(cast.case),
        {"title": "Chase the police", "due_date": "2030-01-15", "assignee": str(cast.lawyer.pk)},
    )
    task = Task.objects.get(case=cast.case)
    assert response.status_code == 302
    assert task.title == "Chase the police"
    assert task.due_date.isoformat() == "2030-01-15"
    assert task.assignee == cast.lawyer


def test_a_task_for_someone_off_the_team_is_refused(cast, login):
    response = login(cast.caseworker).post(
        task_url(cast.case), {"title": "Chase the police", "assignee": str(cast.outsider.pk)}
    )
    assert response.status_code == 400
    assert 'id="id_assignee_error"' in response.content.decode()
    assert not Task.objects.exists()


def test_a_task_without_a_title_is_refused(cast, login):
    response = login(cast.caseworker).post(task_url(cast.case), {"title": "", "due_date": ""})
    assert response.status_code == 400
    assert 'id="id_title_error"' in response.content.decode()
    assert not Task.objects.exists()


def test_a_task_with_a_malformed_date_is_refused(cast, login):
    response = login(cast.caseworker).post(
        task_url(cast.case), {"title": "Chase", "due_date": "tomorrow"}
    )
    assert response.status_code == 400
    assert "Enter a valid date." in response.content.decode()
    assert not Task.objects.exists()


def test_completing_a_task_marks_it_done(cast, login):
    task = TaskFactory(case=cast.case)
    response = login(cast.lawyer).post(reverse("cases:task_complete", args=[task.pk]))
    task.refresh_from_db()
    assert response.status_code == 302
    assert task.done_at is not None


def test_reopening_a_task_marks_it_open(cast, login):
    task = TaskFactory(case=cast.case)
    client = login(cast.lawyer)
    client.post(reverse("cases:task_complete", args=[task.pk]))
    client.post(reverse("cases:task_reopen", args=[task.pk]))
    task.refresh_from_db()
    assert task.done_at is None


def test_completing_a_task_twice_is_refused_with_a_message(cast, login):
    task = TaskFactory(case=cast.case)
    client = login(cast.lawyer)
    client.post(reverse("cases:task_complete", args=[task.pk]))
    response = client.post(reverse("cases:task_complete", args=[task.pk]))
    assert response.status_code == 400
    assert "This task is already done." in response.content.decode()
    assert AuditEntry.objects.filter(action="refuge.cases.task.completed").count() == 1
