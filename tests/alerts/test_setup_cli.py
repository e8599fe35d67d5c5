"""`refuge rota` and `refuge policy`: thin command-line interfaces over the setup services."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from refuge.alerts.models import EscalationPolicy, EscalationStep, OnCallRota, RotaOverride
from refuge.alerts.services import setup
from refuge.security.models import AuditEntry
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_a_rota_is_created_filled_and_shown(cast, time_machine):
    time_machine.move_to(START + dt.timedelta(hours=1), tick=False)
    assert "created" in run("rota", "create", "Line", "--starts", "2026-03-02T09:00+03:00")
    rota = OnCallRota.objects.get()
    assert (rota.starts_on, rota.shift_days) == (START, 7)
    assert "as number 1" in run("rota", "add-member", "line", "operator")
    assert "as number 2" in run("rota", "add-member", "Line", "lawyer")
    shown = run("rota", "show", "Line")
    assert "On call now: operator" in shown
    assert "1. operator" in shown
    assert "2. lawyer" in shown
    assert "Next: Mon 2026-03-09 09:00 MSK (06:00 UTC) -> lawyer" in shown
    assert "on call now: operator" in run("rota", "list")
    entries = AuditEntry.objects.filter(action__startswith="refuge.alerts.rota")
    assert {e.actor_label for e in entries} == {"system"}


def test_a_time_without_offset_is_read_in_the_servers_zone(cast):
    run("rota", "create", "Line", "--starts", "2026-03-02T09:00", "--shift-days", "3")
    assert OnCallRota.objects.get().starts_on == START


def test_an_override_from_the_command_line(cast, time_machine):
    time_machine.move_to(START, tick=False)
    setup.rota_create(actor=None, name="Line", starts_on=START)
    out = run(
        "rota",
        "override",
        "Line",
        "lawyer",
        "--from",
        "2026-03-03T18:00+03:00",
        "--to",
        "2026-03-04T09:00+03:00",
    )
    assert "lawyer is on call on Line from Tue 2026-03-03 18:00 MSK" in out
    assert RotaOverride.objects.get().user == cast.lawyer
    assert "Override: lawyer" in run("rota", "show", "Line")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("rota", "show", "Nope"), "There is no rota called 'Nope'"),
        (("rota", "add-member", "Line", "nobody"), "There is no user called 'nobody'"),
        (("rota", "add-member", "Line", "admin"), "Administrators and analysts never see"),
        (("rota", "create", "Line2", "--starts", "soon"), "--starts takes a time"),
        (("rota", "create", "Line2", "--starts", "2026-03-02", "--shift-days", "30"), "shift_days"),
        (("rota", "create", "line", "--starts", "2026-03-02"), "This name is already taken."),
    ],
)
def test_mistakes_are_clear_errors(cast, args, message):
    setup.rota_create(actor=None, name="Line", starts_on=START)
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_create_default_builds_the_escalation_and_a_rota_of_operators(cast, time_machine):
    time_machine.move_to(START, tick=False)
    second_operator = UserFactory(username="operator2", role="operator")
    out = run("policy", "create-default")
    assert "Created rota On-call operators" in out
    assert "operator, operator2" in out
    policy = EscalationPolicy.objects.get()
    assert policy.is_default
    steps = list(policy.steps.order_by("position").values_list("target", "delay_minutes"))
    assert steps == [("on_call", 0), ("case_lawyer", 5), ("coordinators", 5), ("case_team", 5)]
    assert policy.steps.get(position=0).rota.members.count() == 2
    assert "+15 min  The whole case team" in out
    assert "The default policy is already Default" in run("policy", "create-default")
    assert EscalationPolicy.objects.count() == 1
    del second_operator


def test_create_default_uses_the_only_rota_or_the_one_named(cast):
    line = setup.rota_create(actor=None, name="Line", starts_on=START)
    run("policy", "create-default")
    step = EscalationStep.objects.get(position=0)
    assert step.rota == line
    EscalationPolicy.objects.all().delete()
    setup.rota_create(actor=None, name="Other", starts_on=START)
    with pytest.raises(CommandError, match="several rotas"):
        run("policy", "create-default")
    assert not EscalationPolicy.objects.exists()
    run("policy", "create-default", "--rota", "Other")
    assert EscalationStep.objects.get(position=0).rota.name == "Other"


def test_create_default_reports_a_refusal(cast):
    setup.policy_create(actor=None, name="Night")
    EscalationPolicy.objects.update(is_default=False, name="Default")
    with pytest.raises(CommandError, match=r"This name is already taken\."):
        run("policy", "create-default")
    assert not OnCallRota.objects.exists()  # all or nothing


def test_policies_are_listed_and_shown(cast):
    rota = setup.rota_create(actor=None, name="Line", starts_on=START)
    policy = setup.policy_create(actor=None, name="Default")
    setup.step_add(actor=None, policy=policy, target="on_call", rota=rota)
    setup.step_add(
        actor=None,
        policy=policy,
        target="user",
        user=cast.lawyer,
        delay_minutes=7,
        channel_kinds=["signal"],
    )
    setup.policy_create(actor=None, name="Empty")
    assert run("policy", "list").splitlines() == [
        "Default (default): repeat 1, on the way within 10 min",
        "Empty: repeat 1, on the way within 10 min",
    ]
    shown = run("policy", "show", "default")
    assert "1.   at once  On-call operator of Line  via their own channels" in shown
    assert "2.    +7 min  A named staff member lawyer  via signal" in shown
    assert "no steps: nobody is paged" in run("policy", "show", "Empty")
    with pytest.raises(CommandError, match="There is no policy"):
        run("policy", "show", "Nope")


def test_empty_lists_say_how_to_begin(db):
    err = StringIO()
    call_command("rota", "list", stdout=StringIO(), stderr=err)
    call_command("policy", "list", stdout=StringIO(), stderr=err)
    assert "refuge rota create" in err.getvalue()
    assert "refuge policy create-default" in err.getvalue()
