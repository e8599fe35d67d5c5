import pytest

from refuge.cases import services
from refuge.cases.models import TRANSITIONS, Case, CaseStatus, CaseType, TimelineEntry
from refuge.core.errors import DomainError
from refuge.security.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_a_new_case_starts_at_intake_with_a_random_code(cast):
    case = services.case_open(
        actor=cast.caseworker, case_type=CaseType.LEGAL, team=cast.case.team, people=[cast.falcon]
    )
    assert case.status == CaseStatus.INTAKE
    assert case.code.startswith("K-")
    assert len(case.code) == 6


def test_case_codes_do_not_count_cases(cast):
    codes = [
        services.case_open(
            actor=cast.coordinator, case_type=CaseType.LEGAL, team=cast.case.team
        ).code
        for _ in range(5)
    ]
    assert codes != sorted(codes) or len(set(codes)) == 5
    assert len(set(codes)) == 5


def test_opening_a_case_is_audited_and_on_the_timeline(cast):
    case = services.case_open(actor=cast.caseworker, case_type=CaseType.LEGAL, team=cast.case.team)
    assert AuditEntry.objects.filter(
        action="refuge.cases.case.opened", object_id=str(case.pk)
    ).exists()
    assert case.timeline.filter(kind=TimelineEntry.Kind.OPENED).exists()


def test_the_workflow_allows_only_listed_transitions(cast):
    case = cast.case
    services.case_transition(actor=cast.caseworker, case=case, to_status=CaseStatus.VERIFICATION)
    services.case_transition(actor=cast.caseworker, case=case, to_status=CaseStatus.ACTIVE)
    services.case_transition(actor=cast.caseworker, case=case, to_status=CaseStatus.CLOSED)
    services.case_transition(actor=cast.caseworker, case=case, to_status=CaseStatus.ARCHIVED)
    assert Case.objects.get(pk=case.pk).status == CaseStatus.ARCHIVED


def test_an_illegal_transition_is_refused_with_the_allowed_ones(cast):
    with pytest.raises(DomainError) as excinfo:
        services.case_transition(
            actor=cast.caseworker, case=cast.case, to_status=CaseStatus.ARCHIVED
        )
    assert "Verification" in excinfo.value.message
    assert "Closed" in excinfo.value.message
    assert Case.objects.get(pk=cast.case.pk).status == CaseStatus.INTAKE


def test_an_archived_case_allows_nothing(cast):
    assert TRANSITIONS[CaseStatus.ARCHIVED] == ()


def test_a_refused_transition_writes_nothing(cast):
    before = AuditEntry.objects.count()
    with pytest.raises(DomainError):
        services.case_transition(actor=cast.caseworker, case=cast.case, to_status="bogus")
    assert AuditEntry.objects.count() == before


def test_a_status_change_is_recorded_on_the_timeline(cast):
    services.case_transition(
        actor=cast.caseworker,
        case=cast.case,
        to_status=CaseStatus.VERIFICATION,
        note="Docs checked",
    )
    entry = cast.case.timeline.get(kind=TimelineEntry.Kind.STATUS)
    assert entry.data == {"from": "intake", "to": "verification"}
    assert entry.text == "Docs checked"
    assert entry.author == cast.caseworker


def test_operators_open_emergency_cases_only(cast):
    with pytest.raises(DomainError) as excinfo:
        services.case_open(actor=cast.operator, case_type=CaseType.LEGAL, team=cast.case.team)
    assert "case_type" in excinfo.value.field_errors


def test_staff_cannot_give_a_case_to_a_team_they_are_not_on(cast):
    with pytest.raises(DomainError) as excinfo:
        services.case_open(actor=cast.outsider, case_type=CaseType.LEGAL, team=cast.case.team)
    assert "team" in excinfo.value.field_errors


def test_analysts_cannot_open_cases(cast):
    with pytest.raises(DomainError):
        services.case_open(
            actor=cast.analyst, case_type=CaseType.DOCUMENTATION, team=cast.case.team
        )


def test_a_note_needs_text(cast):
    with pytest.raises(DomainError) as excinfo:
        services.timeline_add(actor=cast.caseworker, case=cast.case, kind="note", text="   ")
    assert "text" in excinfo.value.field_errors


def test_a_note_is_encrypted_and_audited(cast):
    entry = services.timeline_add(
        actor=cast.caseworker, case=cast.case, kind="note", text="Called the flat"
    )
    assert b"Called" not in bytes(entry.text_ct)
    assert TimelineEntry.objects.get(pk=entry.pk).text == "Called the flat"
    assert AuditEntry.objects.filter(
        action="refuge.cases.note.added", object_id=str(entry.pk)
    ).exists()


def test_a_task_goes_to_a_team_member_only(cast):
    with pytest.raises(DomainError) as excinfo:
        services.task_create(
            actor=cast.caseworker, case=cast.case, title="x", assignee=cast.outsider
        )
    assert "assignee" in excinfo.value.field_errors


def test_a_task_can_be_completed_once(cast):
    task = services.task_create(
        actor=cast.caseworker, case=cast.case, title="Call", assignee=cast.lawyer
    )
    services.task_complete(actor=cast.lawyer, task=task)
    with pytest.raises(DomainError):
        services.task_complete(actor=cast.lawyer, task=task)


def test_changing_the_team_is_an_assignment_on_the_timeline(cast):
    other = cast.outsider.teams.get()
    services.case_update(actor=cast.coordinator, case=cast.case, team=other)
    assert cast.case.timeline.filter(kind=TimelineEntry.Kind.ASSIGNMENT).exists()


def test_operators_route_an_emergency_to_any_team(cast):
    case = services.case_open(
        actor=cast.operator, case_type=CaseType.EMERGENCY, team=cast.case.team, people=[cast.falcon]
    )
    assert case.team == cast.case.team


def test_people_the_actor_cannot_see_cannot_be_put_on_a_case(cast):
    from tests.factories import PersonFactory

    stranger = PersonFactory()
    with pytest.raises(DomainError) as excinfo:
        services.case_open(
            actor=cast.caseworker, case_type=CaseType.LEGAL, team=cast.case.team, people=[stranger]
        )
    assert "people" in excinfo.value.field_errors


def test_case_codes_grow_when_short_ones_collide(cast, monkeypatch):
    from refuge.cases import services as case_services

    lengths = []
    real = case_services.random_code

    def colliding(prefix, length=4):
        lengths.append(length)
        return cast.case.code if len(lengths) <= 8 else real(prefix, length)

    monkeypatch.setattr(case_services, "random_code", colliding)
    case = services.case_open(actor=cast.caseworker, case_type=CaseType.LEGAL, team=cast.case.team)
    assert lengths[:8] == [4] * 8
    assert len(case.code) == len("K-") + 5
