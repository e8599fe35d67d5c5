"""The "Alerts setup" pages: escalation policies with their steps editor, and on-call rotas with
their members, overrides and who is on call. Coordinators only; everyone else gets 404."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import formats, timezone

from refuge.alerts.models import EscalationPolicy, EscalationStep, OnCallRota, RotaMember
from refuge.alerts.services import setup
from refuge.security.models import AuditEntry

pytestmark = pytest.mark.django_db
Target = EscalationStep.Target
START = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)
OTHERS = ["caseworker", "lawyer", "outsider", "operator", "analyst", "admin"]


@pytest.fixture
def rota(cast):
    rota = setup.rota_create(actor=cast.coordinator, name="Line", starts_on=START)
    setup.rota_member_add(actor=cast.coordinator, rota=rota, user=cast.operator)
    setup.rota_member_add(actor=cast.coordinator, rota=rota, user=cast.lawyer)
    return rota


@pytest.fixture
def policy(cast, rota):
    policy = setup.policy_create(actor=cast.coordinator, name="Default")
    setup.step_add(actor=cast.coordinator, policy=policy, target=Target.ON_CALL, rota=rota)
    setup.step_add(
        actor=cast.coordinator, policy=policy, target=Target.CASE_LAWYER, delay_minutes=5
    )
    return policy


def _text(response) -> str:
    return response.content.decode()


# --- Policies -------------------------------------------------------------------------------------


def test_a_coordinator_sees_the_policies(cast, login, policy):
    response = login(cast.coordinator).get("/alerts/setup/policies/")
    assert response.status_code == 200
    body = _text(response)
    assert "Default" in body
    assert "On-call operator → The case&#x27;s lawyer" in body


@pytest.mark.parametrize("role", OTHERS)
def test_others_get_404_on_every_policy_page(cast, login, policy, role):
    client = login(cast.by_role()[role])
    step = policy.steps.first()
    for url in (
        "/alerts/setup/policies/",
        f"/alerts/setup/policies/{policy.pk}/",
        f"/alerts/setup/steps/{step.pk}/edit/",
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        "/alerts/setup/policies/new/",
        f"/alerts/setup/policies/{policy.pk}/edit/",
        f"/alerts/setup/policies/{policy.pk}/delete/",
        f"/alerts/setup/policies/{policy.pk}/steps/",
        f"/alerts/setup/steps/{step.pk}/remove/",
        f"/alerts/setup/steps/{step.pk}/move/",
    ):
        assert client.post(url, {"name": "x", "position": 0}).status_code == 404, url
    assert EscalationPolicy.objects.count() == 1
    assert policy.steps.count() == 2


def test_the_header_links_to_the_setup_for_coordinators_only(cast, login):
    assert b"/alerts/setup/policies/" in login(cast.coordinator).get("/").content
    assert b"/alerts/setup/policies/" not in login(cast.caseworker).get("/").content


def test_a_policy_is_created_from_the_list(cast, login):
    client = login(cast.coordinator)
    response = client.post(
        "/alerts/setup/policies/new/",
        {"name": "Night", "repeat": 2, "en_route_within_minutes": 15},
    )
    policy = EscalationPolicy.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/alerts/setup/policies/{policy.pk}/"
    assert (policy.repeat, policy.en_route_within_minutes, policy.is_default) == (2, 15, True)
    assert AuditEntry.objects.filter(action="refuge.alerts.policy.created").exists()


def test_a_refused_policy_shows_the_reasons_next_to_the_fields(cast, login, policy):
    response = login(cast.coordinator).post(
        "/alerts/setup/policies/new/",
        {"name": "default", "repeat": 1, "en_route_within_minutes": 10},
    )
    assert response.status_code == 400
    body = _text(response)
    assert "This name is already taken." in body
    assert 'class="field invalid"' in body
    response = login(cast.coordinator).post(
        "/alerts/setup/policies/new/", {"name": "P", "repeat": 1, "en_route_within_minutes": "x"}
    )
    assert response.status_code == 400
    assert "Enter a whole number." in _text(response)  # the form's own parse error
    assert EscalationPolicy.objects.count() == 1


def test_a_refused_range_is_reported_on_its_field(cast, login):
    response = login(cast.coordinator).post(
        "/alerts/setup/policies/new/", {"name": "P", "repeat": 9, "en_route_within_minutes": 10}
    )
    assert response.status_code == 400
    assert "Enter a whole number from 0 to 5." in _text(response)


def test_the_policy_page_shows_the_steps_with_their_times(cast, login, policy):
    response = login(cast.coordinator).get(f"/alerts/setup/policies/{policy.pk}/")
    assert response.status_code == 200
    body = _text(response)
    assert "At once" in body
    assert "5 minutes after the alert" in body
    assert "On-call operator: Line" in body


def test_a_policy_is_changed_and_refusals_come_back_inline(cast, login, policy):
    client = login(cast.coordinator)
    url = f"/alerts/setup/policies/{policy.pk}/edit/"
    data = {"name": "Day", "is_default": "on", "repeat": 0, "en_route_within_minutes": 5}
    assert client.post(url, data).status_code == 302
    policy.refresh_from_db()
    assert (policy.name, policy.repeat) == ("Day", 0)
    response = client.post(url, {**data, "is_default": ""})
    assert response.status_code == 400
    assert "Make another policy the default instead." in _text(response)


def test_steps_are_added_edited_moved_and_removed(cast, login, policy, rota):
    client = login(cast.coordinator)
    response = client.post(
        f"/alerts/setup/policies/{policy.pk}/steps/",
        {"target": "coordinators", "delay_minutes": 5, "channel_kinds": ["email", "signal"]},
    )
    assert response.status_code == 302
    assert response["Location"].endswith("#steps")
    third = policy.steps.get(position=2)
    assert third.channel_kinds == ["email", "signal"]
    response = client.post(f"/alerts/setup/steps/{third.pk}/move/", {"position": 0})
    assert response.status_code == 302
    assert list(policy.steps.order_by("position").values_list("target", flat=True)) == [
        "coordinators",
        "on_call",
        "case_lawyer",
    ]
    edit = f"/alerts/setup/steps/{third.pk}/edit/"
    assert client.get(edit).status_code == 200
    response = client.post(edit, {"target": "user", "delay_minutes": 2, "user": cast.lawyer.pk})
    assert response.status_code == 302
    third.refresh_from_db()
    assert (third.target, third.user, third.channel_kinds) == ("user", cast.lawyer, [])
    assert client.post(f"/alerts/setup/steps/{third.pk}/remove/").status_code == 302
    assert list(policy.steps.values_list("position", flat=True)) == [0, 1]


def test_a_refused_step_shows_why(cast, login, policy):
    client = login(cast.coordinator)
    response = client.post(
        f"/alerts/setup/policies/{policy.pk}/steps/", {"target": "on_call", "delay_minutes": 0}
    )
    assert response.status_code == 400
    assert "Choose the rota whose on-call operator is paged." in _text(response)
    step = policy.steps.first()
    response = client.post(
        f"/alerts/setup/steps/{step.pk}/edit/", {"target": "user", "delay_minutes": 2000}
    )
    assert response.status_code == 400
    body = _text(response)
    assert "Enter a whole number from 0 to 1440." in body
    assert "Choose a staff member." in body


def test_a_bad_move_is_a_message_not_an_error(cast, login, policy):
    client = login(cast.coordinator)
    step = policy.steps.first()
    response = client.post(f"/alerts/setup/steps/{step.pk}/move/", {"position": 7}, follow=True)
    assert response.status_code == 200
    assert "Enter a position from 0 to 1." in _text(response)
    response = client.post(f"/alerts/setup/steps/{step.pk}/move/", {"position": "x"}, follow=True)
    assert "Choose a position from the list." in _text(response)


def test_the_default_policy_is_deleted_only_last(cast, login, policy):
    client = login(cast.coordinator)
    other = setup.policy_create(actor=cast.coordinator, name="Night")
    response = client.post(f"/alerts/setup/policies/{policy.pk}/delete/", follow=True)
    assert "Make another policy the default before deleting this one." in _text(response)
    response = client.post(f"/alerts/setup/policies/{other.pk}/delete/")
    assert response["Location"] == "/alerts/setup/policies/"
    assert list(EscalationPolicy.objects.all()) == [policy]


def test_writes_are_post_only(cast, login, policy):
    client = login(cast.coordinator)
    assert client.get(f"/alerts/setup/policies/{policy.pk}/delete/").status_code == 405
    assert client.get("/alerts/setup/policies/new/").status_code == 405


# --- Rotas ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", OTHERS)
def test_others_get_404_on_every_rota_page(cast, login, rota, role):
    client = login(cast.by_role()[role])
    member = RotaMember.objects.filter(rota=rota).first()
    assert client.get("/alerts/setup/rotas/").status_code == 404
    assert client.get(f"/alerts/setup/rotas/{rota.pk}/").status_code == 404
    for url in (
        "/alerts/setup/rotas/new/",
        f"/alerts/setup/rotas/{rota.pk}/edit/",
        f"/alerts/setup/rotas/{rota.pk}/delete/",
        f"/alerts/setup/rotas/{rota.pk}/members/",
        f"/alerts/setup/rotas/{rota.pk}/overrides/",
        f"/alerts/setup/rota-members/{member.pk}/remove/",
        f"/alerts/setup/rota-members/{member.pk}/move/",
    ):
        assert client.post(url, {"user": cast.outsider.pk}).status_code == 404, url
    assert RotaMember.objects.filter(rota=rota).count() == 2


def test_the_rota_page_shows_who_is_on_call_in_the_viewers_time_zone(
    cast, login, rota, time_machine
):
    time_machine.move_to(START + dt.timedelta(days=2), tick=False)
    cast.coordinator.time_zone = "Asia/Vladivostok"
    cast.coordinator.save()
    setup.staff_channel_add(
        actor=cast.operator, user=cast.operator, kind="signal", target="+79001234567"
    )
    response = login(cast.coordinator).get(f"/alerts/setup/rotas/{rota.pk}/")
    assert response.status_code == 200
    body = _text(response)
    assert '<p class="on-call-now">operator' in body
    handover = START + dt.timedelta(days=7)
    local = timezone.localtime(handover, timezone=dt.timezone(dt.timedelta(hours=10)))
    assert "Asia/Vladivostok" in body
    assert formats.date_format(local, "DATETIME_FORMAT") in body
    assert f'datetime="{handover.isoformat()}"' in body
    assert '<span class="badge">Signal</span>' in body  # the operator can be reached
    assert "No active channel: cannot be paged" in body  # the lawyer cannot
    assert "+79001234567" not in body  # kinds only: the address stays on the channels pages


def test_the_rota_list_shows_who_is_on_call_now(cast, login, rota, time_machine):
    time_machine.move_to(START + dt.timedelta(days=8), tick=False)
    response = login(cast.coordinator).get("/alerts/setup/rotas/")
    assert response.status_code == 200
    assert "<strong>lawyer</strong>" in _text(response)


def test_a_rota_is_created_in_the_viewers_time_zone(cast, login):
    response = login(cast.coordinator).post(
        "/alerts/setup/rotas/new/",
        {"name": "Night", "starts_on": "2026-03-02T09:00", "shift_days": 7},
    )
    assert response.status_code == 302
    rota = OnCallRota.objects.get(name="Night")
    assert rota.starts_on == START  # 09:00 in Moscow, the server's zone


def test_a_refused_rota_shows_why(cast, login, rota):
    client = login(cast.coordinator)
    response = client.post(
        "/alerts/setup/rotas/new/", {"name": "line", "starts_on": "", "shift_days": 40}
    )
    assert response.status_code == 400
    body = _text(response)
    assert "This field is required." in body  # the form's own check: nothing to parse
    response = client.post(
        f"/alerts/setup/rotas/{rota.pk}/edit/",
        {"name": "Line", "starts_on": "2026-03-02T09:00", "shift_days": 40},
    )
    assert response.status_code == 400
    assert "Enter a whole number from 1 to 28." in _text(response)
    response = client.post(
        f"/alerts/setup/rotas/{rota.pk}/edit/",
        {"name": "Day line", "starts_on": "2026-03-02T09:00", "shift_days": 3},
    )
    assert response.status_code == 302
    rota.refresh_from_db()
    assert (rota.name, rota.shift_days) == ("Day line", 3)


def test_members_are_added_moved_and_removed(cast, login, rota):
    client = login(cast.coordinator)
    response = client.post(f"/alerts/setup/rotas/{rota.pk}/members/", {"user": cast.caseworker.pk})
    assert response.status_code == 302
    third = RotaMember.objects.get(rota=rota, user=cast.caseworker)
    assert third.position == 2
    assert (
        client.post(f"/alerts/setup/rota-members/{third.pk}/move/", {"position": 0}).status_code
        == 302
    )
    first = RotaMember.objects.get(rota=rota, position=0)
    assert first.user == cast.caseworker
    assert client.post(f"/alerts/setup/rota-members/{third.pk}/remove/").status_code == 302
    assert list(RotaMember.objects.filter(rota=rota).values_list("position", flat=True)) == [0, 1]


def test_a_member_already_on_the_rota_is_not_offered(cast, login, rota):
    response = login(cast.coordinator).post(
        f"/alerts/setup/rotas/{rota.pk}/members/", {"user": cast.operator.pk}
    )
    assert response.status_code == 400
    assert "Select a valid choice." in _text(response)


def test_overrides_are_added_and_refused_inline(cast, login, rota, time_machine):
    time_machine.move_to(START, tick=False)
    client = login(cast.coordinator)
    url = f"/alerts/setup/rotas/{rota.pk}/overrides/"
    response = client.post(
        url,
        {
            "user": cast.coordinator.pk,
            "starts_at": "2026-03-03T18:00",
            "ends_at": "2026-03-03T09:00",
        },
    )
    assert response.status_code == 400
    assert "The override must end after it starts." in _text(response)
    response = client.post(
        url,
        {
            "user": cast.coordinator.pk,
            "starts_at": "2026-03-03T18:00",
            "ends_at": "2026-03-04T09:00",
        },
    )
    assert response.status_code == 302
    page = _text(client.get(f"/alerts/setup/rotas/{rota.pk}/"))
    assert "coordinator" in page
    override = rota.overrides.get()
    assert client.post(f"/alerts/setup/overrides/{override.pk}/remove/").status_code == 302
    assert not rota.overrides.exists()


def test_a_rota_in_use_is_not_deleted(cast, login, rota, policy):
    client = login(cast.coordinator)
    response = client.post(f"/alerts/setup/rotas/{rota.pk}/delete/", follow=True)
    assert "A policy pages this rota" in _text(response)
    setup.policy_delete(actor=cast.coordinator, policy=policy)
    response = client.post(f"/alerts/setup/rotas/{rota.pk}/delete/")
    assert response["Location"] == "/alerts/setup/rotas/"
