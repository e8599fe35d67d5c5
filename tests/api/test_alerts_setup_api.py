"""The setup API: policies and steps, rotas with members, overrides and who is on call (for
coordinators), and everyone's own notification channels under /me/channels."""

from __future__ import annotations

import datetime as dt

import pytest

from refuge.alerts.models import EscalationPolicy, EscalationStep, StaffChannel
from refuge.alerts.services import setup
from refuge.core import clock
from refuge.security.models import AuditEntry

pytestmark = pytest.mark.django_db
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
    setup.step_add(
        actor=cast.coordinator, policy=policy, target=EscalationStep.Target.ON_CALL, rota=rota
    )
    return policy


# --- Policies and steps ---------------------------------------------------------------------------


def test_a_coordinator_builds_a_policy(api_as, cast, rota):
    api = api_as(cast.coordinator)
    response = api.post("policies", {"name": "Default", "repeat": 2})
    assert response.status_code == 201, response.json()
    policy = response.json()
    assert (policy["is_default"], policy["repeat"], policy["steps"]) == (True, 2, [])
    steps = f"policies/{policy['id']}/steps"
    first = api.post(steps, {"target": "on_call", "rota": str(rota.pk)}).json()
    assert first["rota"] == {"id": str(rota.pk), "name": "Line"}
    second = api.post(
        steps, {"target": "case_lawyer", "delay_minutes": 5, "channel_kinds": ["signal"]}
    ).json()
    third = api.post(steps, {"target": "coordinators", "delay_minutes": 5}).json()
    assert [s["fires_after_minutes"] for s in (first, second, third)] == [0, 5, 10]
    assert [s["position"] for s in (first, second, third)] == [0, 1, 2]
    moved = api.post(f"escalation-steps/{third['id']}/move", {"position": 0}).json()
    assert [s["target"] for s in moved["steps"]] == ["coordinators", "on_call", "case_lawyer"]
    assert [s["fires_after_minutes"] for s in moved["steps"]] == [5, 5, 10]
    listed = api.get("policies").json()
    assert [p["name"] for p in listed] == ["Default"]
    assert AuditEntry.objects.filter(action="refuge.alerts.step.added").count() == 3


def test_a_step_is_changed_field_by_field(api_as, cast, policy):
    api = api_as(cast.coordinator)
    step = policy.steps.get()
    response = api.patch(f"escalation-steps/{step.pk}", {"delay_minutes": 2})
    assert response.status_code == 200
    assert (response.json()["delay_minutes"], response.json()["target"]) == (2, "on_call")
    response = api.patch(
        f"escalation-steps/{step.pk}", {"target": "user", "user": str(cast.lawyer.pk)}
    )
    body = response.json()
    assert (body["target"], body["user"]["username"], body["rota"]) == ("user", "lawyer", None)
    response = api.patch(f"escalation-steps/{step.pk}", {"user": None})
    assert response.status_code == 422
    assert response.json()["errors"] == {"user": ["Choose a staff member."]}


def test_policy_changes_and_deletion(api_as, cast, policy):
    api = api_as(cast.coordinator)
    response = api.patch(f"policies/{policy.pk}", {"en_route_within_minutes": 30})
    assert response.json()["en_route_within_minutes"] == 30
    night = api.post("policies", {"name": "Night", "is_default": True}).json()
    assert api.get(f"policies/{policy.pk}").json()["is_default"] is False
    assert api.delete(f"policies/{night['id']}").status_code == 422  # the default
    assert api.delete(f"policies/{policy.pk}").status_code == 204
    assert list(EscalationPolicy.objects.values_list("name", flat=True)) == ["Night"]
    step = api.post(f"policies/{night['id']}/steps", {"target": "case_team"}).json()
    assert api.delete(f"escalation-steps/{step['id']}").status_code == 204
    assert not EscalationStep.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "P", "repeat": 9}, "repeat"),
        ({"name": "P", "en_route_within_minutes": 0}, "en_route_within_minutes"),
        ({"name": "default"}, "name"),
        ({"name": "P", "colour": "red"}, "colour"),
        ({"name": "P\u0000"}, "name"),
    ],
)
def test_refused_policies_are_422_with_reasons_per_field(api_as, cast, policy, body, field):
    response = api_as(cast.coordinator).post("policies", body)
    assert response.status_code == 422
    assert field in response.json()["errors"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target": "on_call"}, "rota"),
        ({"target": "on_call", "rota": "00000000-0000-0000-0000-000000000000"}, "rota"),
        ({"target": "user", "user": "00000000-0000-0000-0000-000000000000"}, "user"),
        ({"target": "coordinators", "delay_minutes": 2000}, "delay_minutes"),
        ({"target": "coordinators", "channel_kinds": ["fax"]}, "channel_kinds.0"),
        ({"target": "nobody"}, "target"),
    ],
)
def test_refused_steps_are_422_with_reasons_per_field(api_as, cast, policy, body, field):
    response = api_as(cast.coordinator).post(f"policies/{policy.pk}/steps", body)
    assert response.status_code == 422
    assert field in response.json()["errors"]


@pytest.mark.parametrize("role", OTHERS)
def test_policies_do_not_exist_for_others(api_as, cast, policy, role):
    api = api_as(cast.by_role()[role])
    step = policy.steps.get()
    assert api.get("policies").status_code == 404
    assert api.post("policies", {"name": "Mine"}).status_code == 404
    assert api.get(f"policies/{policy.pk}").status_code == 404
    # Even an invalid request about a hidden object is a plain 404.
    assert api.patch(f"policies/{policy.pk}", {"repeat": "many"}).status_code == 404
    assert api.delete(f"policies/{policy.pk}").status_code == 404
    assert api.post(f"policies/{policy.pk}/steps", {}).status_code == 404
    assert api.patch(f"escalation-steps/{step.pk}", {"delay_minutes": 1}).status_code == 404
    assert api.post(f"escalation-steps/{step.pk}/move", {"position": 0}).status_code == 404
    assert api.delete(f"escalation-steps/{step.pk}").status_code == 404
    assert EscalationPolicy.objects.get().repeat == 1


# --- Rotas ----------------------------------------------------------------------------------------


def test_a_coordinator_builds_a_rota(api_as, cast):
    api = api_as(cast.coordinator)
    response = api.post(
        "rotas", {"name": "Night", "starts_on": "2026-03-02T09:00+03:00", "shift_days": 1}
    )
    assert response.status_code == 201, response.json()
    rota = response.json()
    assert rota["starts_on"].startswith("2026-03-02T06:00")
    member = api.post(f"rotas/{rota['id']}/members", {"user": str(cast.operator.pk)})
    assert member.status_code == 201
    assert member.json()["position"] == 0
    second = api.post(f"rotas/{rota['id']}/members", {"user": str(cast.lawyer.pk)}).json()
    moved = api.post(f"rota-members/{second['id']}/move", {"position": 0}).json()
    assert [m["user"]["username"] for m in moved["members"]] == ["lawyer", "operator"]
    assert api.delete(f"rota-members/{second['id']}").status_code == 204
    detail = api.get(f"rotas/{rota['id']}").json()
    assert [m["user"]["username"] for m in detail["members"]] == ["operator"]
    changed = api.patch(f"rotas/{rota['id']}", {"shift_days": 14, "name": "Nights"}).json()
    assert (changed["shift_days"], changed["name"]) == (14, "Nights")
    assert api.delete(f"rotas/{rota['id']}").status_code == 204


@pytest.mark.parametrize("starts_on", ["2026-03-02T09:00", "0001-01-01T00:00+14:00"])
def test_a_time_without_an_offset_or_out_of_range_is_refused(api_as, cast, starts_on):
    response = api_as(cast.coordinator).post("rotas", {"name": "Night", "starts_on": starts_on})
    assert response.status_code == 422
    assert "starts_on" in response.json()["errors"]


def test_who_is_on_call_now_and_at_a_given_time(api_as, cast, rota, time_machine):
    time_machine.move_to(START + dt.timedelta(days=1), tick=False)
    api = api_as(cast.coordinator)
    now = api.get(f"rotas/{rota.pk}/on-call").json()
    assert now["user"]["username"] == "operator"
    assert now["next_changes"][0] == {
        "at": (START + dt.timedelta(days=7)).isoformat().replace("+00:00", "Z"),
        "user": {"id": str(cast.lawyer.pk), "username": "lawyer"},
    }
    later = api.get(f"rotas/{rota.pk}/on-call", {"at": "2026-03-10T12:00:00+03:00"}).json()
    assert later["user"]["username"] == "lawyer"
    assert api.get("rotas").json()[0]["on_call_now"]["username"] == "operator"


def test_an_override_is_added_listed_and_removed(api_as, cast, rota, time_machine):
    time_machine.move_to(START, tick=False)
    api = api_as(cast.coordinator)
    body = {
        "user": str(cast.coordinator.pk),
        "starts_at": "2026-03-03T18:00:00+03:00",
        "ends_at": "2026-03-04T09:00:00+03:00",
    }
    response = api.post(f"rotas/{rota.pk}/overrides", body)
    assert response.status_code == 201, response.json()
    override = response.json()
    assert api.get(f"rotas/{rota.pk}").json()["overrides"] == [override]
    at = api.get(f"rotas/{rota.pk}/on-call", {"at": "2026-03-03T20:00:00+03:00"}).json()
    assert at["user"]["username"] == "coordinator"
    backwards = {**body, "ends_at": "2026-03-03T17:00:00+03:00"}
    refused = api.post(f"rotas/{rota.pk}/overrides", backwards)
    assert refused.status_code == 422
    assert refused.json()["errors"] == {"ends_at": ["The override must end after it starts."]}
    assert api.delete(f"rota-overrides/{override['id']}").status_code == 204


def test_a_rota_a_policy_pages_is_not_deleted(api_as, cast, policy, rota):
    response = api_as(cast.coordinator).delete(f"rotas/{rota.pk}")
    assert response.status_code == 422
    assert "A policy pages this rota" in response.json()["detail"]


@pytest.mark.parametrize("role", OTHERS)
def test_rotas_do_not_exist_for_others(api_as, cast, rota, role):
    api = api_as(cast.by_role()[role])
    member = rota.members.first()
    override = setup.rota_override_add(
        actor=cast.coordinator,
        rota=rota,
        user=cast.lawyer,
        starts_at=clock.now(),
        ends_at=clock.now() + dt.timedelta(hours=1),
    )
    assert api.get("rotas").status_code == 404
    assert api.get(f"rotas/{rota.pk}").status_code == 404
    assert api.get(f"rotas/{rota.pk}/on-call").status_code == 404
    assert api.patch(f"rotas/{rota.pk}", {"shift_days": "x"}).status_code == 404
    assert api.post(f"rotas/{rota.pk}/members", {}).status_code == 404
    assert api.post(f"rotas/{rota.pk}/overrides", {}).status_code == 404
    assert api.delete(f"rota-members/{member.pk}").status_code == 404
    assert api.post(f"rota-members/{member.pk}/move", {"position": 1}).status_code == 404
    assert api.delete(f"rota-overrides/{override.pk}").status_code == 404
    assert rota.members.count() == 2


# --- My channels ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["coordinator", "caseworker", "lawyer", "analyst", "admin"])
def test_everyone_manages_their_own_channels(api_as, cast, role):
    api = api_as(cast.by_role()[role])
    assert api.get("me/channels").json() == []
    email = api.post("me/channels", {"kind": "email", "target": "me@example.org"})
    assert email.status_code == 201
    telegram = api.post("me/channels", {"kind": "telegram", "target": "@refuge_me"}).json()
    moved = api.post(f"me/channels/{telegram['id']}/move", {"position": 0}).json()
    assert [c["kind"] for c in moved] == ["telegram", "email"]
    changed = api.patch(f"me/channels/{telegram['id']}", {"active": False}).json()
    assert (changed["active"], changed["target"]) == (False, "@refuge_me")
    assert api.delete(f"me/channels/{telegram['id']}").status_code == 204
    assert [c["target"] for c in api.get("me/channels").json()] == ["me@example.org"]


def test_a_bad_target_is_422_with_what_it_should_look_like(api_as, cast):
    response = api_as(cast.lawyer).post("me/channels", {"kind": "matrix", "target": "lawyer"})
    assert response.status_code == 422
    assert response.json()["errors"] == {"target": [setup.target_help(StaffChannel.Kind.MATRIX)]}


@pytest.mark.parametrize("role", ["coordinator", "caseworker", "admin"])
def test_someone_elses_channel_is_not_found(api_as, cast, role):
    channel = setup.staff_channel_add(
        actor=cast.lawyer, user=cast.lawyer, kind="email", target="lawyer@example.org"
    )
    api = api_as(cast.by_role()[role])
    assert api.patch(f"me/channels/{channel.pk}", {"active": False}).status_code == 404
    assert api.patch(f"me/channels/{channel.pk}", {"kind": "fax"}).status_code == 404
    assert api.post(f"me/channels/{channel.pk}/move", {"position": 0}).status_code == 404
    assert api.delete(f"me/channels/{channel.pk}").status_code == 404
    assert "lawyer@example.org" not in api.get("me/channels").content.decode()
    channel.refresh_from_db()
    assert channel.active


def test_anonymous_callers_get_401(anonymous, policy):
    assert anonymous.get("policies").status_code == 401
    assert anonymous.get("me/channels").status_code == 401


def test_the_setup_routes_are_documented(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path, method in [
        ("/api/v1/policies", "post"),
        ("/api/v1/policies/{policy_id}", "patch"),
        ("/api/v1/policies/{policy_id}/steps", "post"),
        ("/api/v1/escalation-steps/{step_id}/move", "post"),
        ("/api/v1/rotas/{rota_id}/on-call", "get"),
        ("/api/v1/rota-overrides/{override_id}", "delete"),
        ("/api/v1/me/channels/{channel_id}", "delete"),
    ]:
        operation = paths[path][method]
        assert {"404", "422"} <= set(operation["responses"]), (path, method)
