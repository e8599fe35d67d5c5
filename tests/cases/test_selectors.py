"""Case selectors whose query shape matters at a million rows: what they answer, and that a
coordinator's queries do not read the case table to learn that every case is visible."""

from __future__ import annotations

import pytest
from django.utils import timezone

from refuge.accounts.models import TeamMembership
from refuge.cases import selectors
from refuge.cases.models import Task, TimelineEntry
from refuge.security import access
from tests.factories import CaseFactory, TaskFactory

pytestmark = pytest.mark.django_db


def _names(users) -> list[str]:  # type: ignore[no-untyped-def]
    return [user.username for user in users]


def test_a_coordinator_is_offered_everyone_with_an_open_task_in_name_order(cast):
    TaskFactory(case=cast.case, assignee=cast.lawyer)
    TaskFactory(case=CaseFactory(), assignee=cast.outsider)
    TaskFactory(case=cast.case, assignee=cast.caseworker, done_at=timezone.now())
    TaskFactory(case=cast.case, assignee=None)
    assert _names(selectors.task_assignees(actor=cast.coordinator)) == ["lawyer", "outsider"]


def test_a_team_member_is_offered_only_assignees_on_cases_they_see(cast):
    other_team = TeamMembership.objects.get(user=cast.outsider).team
    TaskFactory(case=cast.case, assignee=cast.lawyer)
    TaskFactory(case=CaseFactory(team=other_team), assignee=cast.outsider)
    assert _names(selectors.task_assignees(actor=cast.caseworker)) == ["lawyer"]
    assert _names(selectors.task_assignees(actor=cast.outsider)) == ["outsider"]


def test_an_inactive_coordinator_is_offered_nobody(cast):
    TaskFactory(case=cast.case, assignee=cast.lawyer)
    cast.coordinator.is_active = False
    assert _names(selectors.task_assignees(actor=cast.coordinator)) == []


def test_the_coordinators_assignee_query_does_not_read_the_cases(cast):
    sql = str(selectors.task_assignees(actor=cast.coordinator).query)
    assert "cases_case" not in sql.replace("cases_case_", "")


@pytest.mark.parametrize("model", [Task, TimelineEntry])
def test_a_coordinators_case_children_need_no_case_condition(cast, model):
    scoped = access.scope(cast.coordinator, model.objects.all())
    assert '"cases_case"' not in str(scoped.query)
    assert set(scoped) == set(model.objects.all())


@pytest.mark.parametrize("model", [Task, TimelineEntry])
def test_other_roles_still_get_only_the_children_of_cases_they_see(cast, model):
    TaskFactory(case=CaseFactory())
    TaskFactory(case=cast.case)
    seen = set(access.scope(cast.lawyer, model.objects.all()).values_list("case_id", flat=True))
    assert seen <= {cast.case.pk}
