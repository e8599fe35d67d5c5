"""The setup services: escalation policies and their steps, rotas, members and overrides.
Validation, positions, permissions and the audit trail."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from refuge.accounts.models import Role
from refuge.alerts.models import EscalationPolicy, EscalationStep, RotaMember
from refuge.alerts.services import setup
from refuge.core import clock
from refuge.core.errors import DomainError, NotFoundError
from refuge.security.models import AuditEntry
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
Target = EscalationStep.Target


def _errors(excinfo: pytest.ExceptionInfo[DomainError]) -> dict[str, list[str]]:
    return excinfo.value.field_errors


def _audited(action: str) -> list[dict[str, object]]:
    return [json.loads(e.detail) for e in AuditEntry.objects.filter(action=action)]


@pytest.fixture
def rota(cast):
    return setup.rota_create(
        actor=cast.coordinator, name="Line", starts_on=clock.now() - dt.timedelta(days=1)
    )


@pytest.fixture
def policy(cast):
    return setup.policy_create(actor=cast.coordinator, name="Default")


# --- Policies -------------------------------------------------------------------------------------


def test_the_first_policy_is_the_default_and_is_audited(cast):
    policy = setup.policy_create(actor=cast.coordinator, name="  First   policy ", repeat=2)
    assert policy.name == "First policy"
    assert policy.is_default
    entry = AuditEntry.objects.get(action="refuge.alerts.policy.created")
    assert entry.actor_id == cast.coordinator.pk
    assert json.loads(entry.detail)["repeat"] == 2


def test_making_a_policy_default_unsets_the_previous_one(cast, policy):
    other = setup.policy_create(actor=cast.coordinator, name="Night")
    assert not other.is_default
    setup.policy_update(actor=cast.coordinator, policy=other, is_default=True)
    policy.refresh_from_db()
    assert not policy.is_default
    assert EscalationPolicy.objects.get(is_default=True) == other
    created = setup.policy_create(actor=cast.coordinator, name="Weekend", is_default=True)
    assert list(EscalationPolicy.objects.filter(is_default=True)) == [created]


def test_the_default_is_not_unset_directly(cast, policy):
    with pytest.raises(DomainError) as excinfo:
        setup.policy_update(actor=cast.coordinator, policy=policy, is_default=False)
    assert "is_default" in _errors(excinfo)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("repeat", -1),
        ("repeat", 6),
        ("repeat", True),
        ("en_route_within_minutes", 0),
        ("en_route_within_minutes", 241),
    ],
)
def test_policy_numbers_out_of_range_are_refused(cast, field, value):
    with pytest.raises(DomainError) as excinfo:
        setup.policy_create(actor=cast.coordinator, name="P", **{field: value})
    assert list(_errors(excinfo)) == [field]
    assert not EscalationPolicy.objects.exists()


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "default"])
def test_policy_names_must_be_present_short_and_unique(cast, policy, name):
    with pytest.raises(DomainError) as excinfo:
        setup.policy_create(actor=cast.coordinator, name=name)
    assert list(_errors(excinfo)) == ["name"]


def test_renaming_onto_another_name_is_refused(cast, policy):
    other = setup.policy_create(actor=cast.coordinator, name="Night")
    with pytest.raises(DomainError) as excinfo:
        setup.policy_update(actor=cast.coordinator, policy=other, name="DEFAULT")
    assert list(_errors(excinfo)) == ["name"]


def test_an_unchanged_policy_writes_no_audit_entry(cast, policy):
    before = AuditEntry.objects.count()
    setup.policy_update(actor=cast.coordinator, policy=policy, name="Default", repeat=1)
    assert AuditEntry.objects.count() == before


def test_a_changed_policy_is_audited_with_its_fields(cast, policy):
    setup.policy_update(actor=cast.coordinator, policy=policy, repeat=3, en_route_within_minutes=20)
    (detail,) = _audited("refuge.alerts.policy.updated")
    assert detail == {
        "fields": ["en_route_within_minutes", "repeat"],
        "repeat": 3,
        "en_route_within_minutes": 20,
    }


def test_the_default_cannot_be_deleted_while_others_exist(cast, policy):
    other = setup.policy_create(actor=cast.coordinator, name="Night")
    with pytest.raises(DomainError):
        setup.policy_delete(actor=cast.coordinator, policy=policy)
    setup.policy_delete(actor=cast.coordinator, policy=other)
    setup.policy_delete(actor=cast.coordinator, policy=policy)  # the last one may go
    assert not EscalationPolicy.objects.exists()
    assert len(_audited("refuge.alerts.policy.deleted")) == 2


@pytest.mark.parametrize(
    "role", ["caseworker", "lawyer", "outsider", "operator", "analyst", "admin"]
)
def test_only_coordinators_manage_policies(cast, policy, rota, role):
    user = cast.by_role()[role]
    with pytest.raises(NotFoundError):
        setup.policy_create(actor=user, name="Mine")
    with pytest.raises(NotFoundError):
        setup.policy_update(actor=user, policy=policy, repeat=0)
    with pytest.raises(NotFoundError):
        setup.step_add(actor=user, policy=policy, target=Target.COORDINATORS)
    with pytest.raises(NotFoundError):
        setup.rota_member_add(actor=user, rota=rota, user=cast.operator)


def test_a_deactivated_coordinator_manages_nothing(cast):
    cast.coordinator.is_active = False
    with pytest.raises(NotFoundError):
        setup.policy_create(actor=cast.coordinator, name="P")


def test_the_command_line_acts_as_the_system(cast):
    policy = setup.policy_create(actor=None, name="From the shell")
    entry = AuditEntry.objects.get(action="refuge.alerts.policy.created")
    assert entry.actor_label == "system"
    assert policy.is_default


# --- Steps ----------------------------------------------------------------------------------------


def test_steps_are_added_at_the_end_and_audited(cast, policy, rota):
    first = setup.step_add(actor=cast.coordinator, policy=policy, target=Target.ON_CALL, rota=rota)
    second = setup.step_add(
        actor=cast.coordinator,
        policy=policy,
        target=Target.CASE_LAWYER,
        delay_minutes=5,
        channel_kinds=["telegram", "email", "telegram"],
    )
    assert (first.position, second.position) == (0, 1)
    assert second.channel_kinds == ["telegram", "email"]
    details = _audited("refuge.alerts.step.added")
    assert [d["target"] for d in details] == ["on_call", "case_lawyer"]
    assert details[0]["rota"] == str(rota.pk)


def test_a_step_keeps_only_the_reference_its_target_uses(cast, policy, rota):
    step = setup.step_add(
        actor=cast.coordinator,
        policy=policy,
        target=Target.COORDINATORS,
        rota=rota,
        user=cast.lawyer,
    )
    assert step.rota is None
    assert step.user is None
    step = setup.step_update(
        actor=cast.coordinator,
        step=step,
        target=Target.USER,
        delay_minutes=3,
        user=cast.lawyer,
        rota=rota,
    )
    assert (step.user, step.rota, step.delay_minutes) == (cast.lawyer, None, 3)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"target": "on_call"}, "rota"),
        ({"target": "user"}, "user"),
        ({"target": "nobody"}, "target"),
        ({"target": "coordinators", "delay_minutes": -1}, "delay_minutes"),
        ({"target": "coordinators", "delay_minutes": 1441}, "delay_minutes"),
        ({"target": "coordinators", "channel_kinds": ["sms"]}, "channel_kinds"),
    ],
)
def test_invalid_steps_are_refused(cast, policy, kwargs, field):
    with pytest.raises(DomainError) as excinfo:
        setup.step_add(actor=cast.coordinator, policy=policy, **kwargs)
    assert field in _errors(excinfo)
    assert not EscalationStep.objects.exists()


@pytest.mark.parametrize("case", ["deactivated", "admin", "analyst"])
def test_a_named_step_pages_only_someone_who_sees_emergencies(cast, policy, case):
    user = UserFactory(
        role=Role.ADMIN if case == "admin" else Role.ANALYST if case == "analyst" else Role.LAWYER,
        is_active=case != "deactivated",
    )
    with pytest.raises(DomainError) as excinfo:
        setup.step_add(actor=cast.coordinator, policy=policy, target=Target.USER, user=user)
    assert list(_errors(excinfo)) == ["user"]


def _targets(policy):
    return list(
        EscalationStep.objects.filter(policy=policy)
        .order_by("position")
        .values_list("position", "target")
    )


def test_steps_move_and_close_up_when_removed(cast, policy):
    a, b, c = (
        setup.step_add(actor=cast.coordinator, policy=policy, target=t)
        for t in (Target.CASE_LAWYER, Target.COORDINATORS, Target.CASE_TEAM)
    )
    setup.step_move(actor=cast.coordinator, step=c, position=0)
    assert _targets(policy) == [(0, "case_team"), (1, "case_lawyer"), (2, "coordinators")]
    setup.step_move(actor=cast.coordinator, step=c, position=2)
    assert _targets(policy) == [(0, "case_lawyer"), (1, "coordinators"), (2, "case_team")]
    setup.step_remove(actor=cast.coordinator, step=a)
    assert _targets(policy) == [(0, "coordinators"), (1, "case_team")]
    moved = _audited("refuge.alerts.step.moved")
    assert [(d["from"], d["to"]) for d in moved] == [(2, 0), (0, 2)]
    assert len(_audited("refuge.alerts.step.removed")) == 1
    del b


@pytest.mark.parametrize("position", [-1, 2, True])
def test_a_step_cannot_move_out_of_the_policy(cast, policy, position):
    step = setup.step_add(actor=cast.coordinator, policy=policy, target=Target.CASE_TEAM)
    setup.step_add(actor=cast.coordinator, policy=policy, target=Target.COORDINATORS)
    with pytest.raises(DomainError) as excinfo:
        setup.step_move(actor=cast.coordinator, step=step, position=position)
    assert list(_errors(excinfo)) == ["position"]


def test_a_policy_has_a_bounded_number_of_steps(cast, policy):
    for _ in range(setup.MAX_STEPS):
        setup.step_add(actor=cast.coordinator, policy=policy, target=Target.CASE_TEAM)
    with pytest.raises(DomainError):
        setup.step_add(actor=cast.coordinator, policy=policy, target=Target.CASE_TEAM)


# --- Rotas ----------------------------------------------------------------------------------------


def test_a_rota_is_created_and_audited(cast):
    starts = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    rota = setup.rota_create(actor=cast.coordinator, name="Line", starts_on=starts, shift_days=3)
    assert (rota.starts_on, rota.shift_days) == (starts, 3)
    (detail,) = _audited("refuge.alerts.rota.created")
    assert detail["starts_on"] == starts.isoformat()


def test_a_time_without_offset_is_read_in_the_active_time_zone(cast, settings):
    rota = setup.rota_create(
        actor=cast.coordinator, name="Line", starts_on=dt.datetime(2026, 3, 2, 9, 0)
    )
    assert rota.starts_on == dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)  # 09:00 Moscow
    assert settings.TIME_ZONE == "Europe/Moscow"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"shift_days": 0}, "shift_days"),
        ({"shift_days": 29}, "shift_days"),
        ({"starts_on": None}, "starts_on"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_rotas_are_refused(cast, kwargs, field):
    values = {"name": "Line", "starts_on": clock.now(), "shift_days": 7, **kwargs}
    with pytest.raises(DomainError) as excinfo:
        setup.rota_create(actor=cast.coordinator, **values)
    assert list(_errors(excinfo)) == [field]


def test_a_rota_is_updated_and_renamed(cast, rota):
    setup.rota_update(actor=cast.coordinator, rota=rota, name="Night line", shift_days=14)
    rota.refresh_from_db()
    assert (rota.name, rota.shift_days) == ("Night line", 14)
    (detail,) = _audited("refuge.alerts.rota.updated")
    assert detail["fields"] == ["name", "shift_days"]
    with pytest.raises(DomainError):
        setup.rota_update(actor=cast.coordinator, rota=rota, shift_days=40)


def test_a_rota_a_policy_pages_cannot_be_deleted(cast, policy, rota):
    step = setup.step_add(actor=cast.coordinator, policy=policy, target=Target.ON_CALL, rota=rota)
    with pytest.raises(DomainError):
        setup.rota_delete(actor=cast.coordinator, rota=rota)
    setup.step_remove(actor=cast.coordinator, step=step)
    setup.rota_delete(actor=cast.coordinator, rota=rota)
    assert len(_audited("refuge.alerts.rota.deleted")) == 1


def _members(rota):
    return list(
        RotaMember.objects.filter(rota=rota)
        .order_by("position")
        .values_list("position", "user__username")
    )


def test_members_join_at_the_end_move_and_leave(cast, rota):
    op = setup.rota_member_add(actor=cast.coordinator, rota=rota, user=cast.operator)
    setup.rota_member_add(actor=cast.coordinator, rota=rota, user=cast.lawyer)
    caseworker = setup.rota_member_add(actor=cast.coordinator, rota=rota, user=cast.caseworker)
    assert _members(rota) == [(0, "operator"), (1, "lawyer"), (2, "caseworker")]
    setup.rota_member_move(actor=cast.coordinator, member=caseworker, position=0)
    assert _members(rota) == [(0, "caseworker"), (1, "operator"), (2, "lawyer")]
    setup.rota_member_remove(actor=cast.coordinator, member=op)
    assert _members(rota) == [(0, "caseworker"), (1, "lawyer")]
    assert len(_audited("refuge.alerts.rota_member.added")) == 3
    assert len(_audited("refuge.alerts.rota_member.moved")) == 1
    assert len(_audited("refuge.alerts.rota_member.removed")) == 1


def test_a_member_joins_a_rota_once_and_must_be_pageable(cast, rota):
    setup.rota_member_add(actor=cast.coordinator, rota=rota, user=cast.operator)
    for user in (cast.operator, cast.analyst, cast.admin, None):
        with pytest.raises(DomainError) as excinfo:
            setup.rota_member_add(actor=cast.coordinator, rota=rota, user=user)
        assert list(_errors(excinfo)) == ["user"]


def test_overrides_must_end_after_they_start_and_not_be_over(cast, rota):
    now = clock.now()
    cases = [
        (now + dt.timedelta(hours=2), now + dt.timedelta(hours=1), "ends_at"),
        (now - dt.timedelta(hours=3), now - dt.timedelta(hours=1), "ends_at"),
        (None, now, "starts_at"),
        (now, None, "ends_at"),
    ]
    for starts_at, ends_at, field in cases:
        with pytest.raises(DomainError) as excinfo:
            setup.rota_override_add(
                actor=cast.coordinator,
                rota=rota,
                user=cast.lawyer,
                starts_at=starts_at,
                ends_at=ends_at,
            )
        assert list(_errors(excinfo)) == [field]


def test_an_override_is_added_and_removed_with_an_audit_entry(cast, rota):
    now = clock.now()
    override = setup.rota_override_add(
        actor=cast.coordinator,
        rota=rota,
        user=cast.lawyer,
        starts_at=now,
        ends_at=now + dt.timedelta(hours=12),
    )
    setup.rota_override_remove(actor=cast.coordinator, override=override)
    (added,) = _audited("refuge.alerts.rota_override.added")
    assert added["user"] == str(cast.lawyer.pk)
    assert len(_audited("refuge.alerts.rota_override.removed")) == 1


# --- Races and limits -----------------------------------------------------------------------------


def _no_name_check(name, model, errors, pk=None):
    return name


def test_a_name_taken_between_the_check_and_the_insert_is_still_refused(cast, monkeypatch):
    from refuge.alerts.services.setup import policies, rotas

    setup.policy_create(actor=cast.coordinator, name="Default")
    rota = setup.rota_create(actor=cast.coordinator, name="Line", starts_on=clock.now())
    other = setup.rota_create(actor=cast.coordinator, name="Other", starts_on=clock.now())
    night = setup.policy_create(actor=cast.coordinator, name="Night")
    monkeypatch.setattr(policies, "clean_name", _no_name_check)
    monkeypatch.setattr(rotas, "clean_name", _no_name_check)
    attempts = [
        lambda: setup.policy_create(actor=cast.coordinator, name="Default"),
        lambda: setup.policy_update(actor=cast.coordinator, policy=night, name="Default"),
        lambda: setup.rota_create(actor=cast.coordinator, name="Line", starts_on=clock.now()),
        lambda: setup.rota_update(actor=cast.coordinator, rota=other, name="Line"),
    ]
    for attempt in attempts:
        with pytest.raises(DomainError) as excinfo:
            attempt()
        assert _errors(excinfo) == {"name": ["This name is already taken."]}
    assert rota.name == "Line"


def test_a_rota_has_a_bounded_number_of_members(cast, monkeypatch):
    from refuge.alerts.services.setup import rotas

    monkeypatch.setattr(rotas, "MAX_MEMBERS", 1)
    rota = setup.rota_create(actor=cast.coordinator, name="Line", starts_on=clock.now())
    setup.rota_member_add(actor=cast.coordinator, rota=rota, user=cast.operator)
    with pytest.raises(DomainError, match="at most 1 members"):
        setup.rota_member_add(actor=cast.coordinator, rota=rota, user=cast.lawyer)
