"""Who may resolve an emergency (coordinators, the case team; an operator only an emergency
that concerns nobody), enforced by the service and shown on the page; and the Respond card
after "On site"."""

from __future__ import annotations

import pytest

from refuge.alerts.models import EmergencyState, Notification
from refuge.alerts.services import emergencies, response
from refuge.core.errors import DomainError
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.web.test_alerts_emergency import action_url, detail_url, open_call

pytestmark = pytest.mark.django_db


def unknown_callers(cast):  # type: ignore[no-untyped-def]
    return emergencies.emergency_open_call(
        actor=cast.operator,
        caller=None,
        heard="Breathing, then silence",
        location_hint="",
        people=[],
    )


def resolve(client, emergency, outcome: str = "safe"):  # type: ignore[no-untyped-def]
    return client.post(action_url("resolve", emergency), {"outcome": outcome, "note": ""})


@pytest.mark.parametrize("role", ["coordinator", "caseworker", "lawyer"])
def test_coordinators_and_the_case_team_may_resolve(role, cast, login):
    emergency = open_call(cast)
    assert resolve(login(cast.by_role()[role]), emergency).status_code == 302
    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.RESOLVED
    assert emergency.resolved_by == cast.by_role()[role]


@pytest.mark.parametrize("outcome", ["safe", "false_alarm"])
def test_an_operator_cannot_close_someones_emergency_even_as_a_false_alarm(outcome, cast, login):
    emergency = open_call(cast)
    refused = resolve(login(cast.operator), emergency, outcome)
    assert refused.status_code == 403
    assert "Only a coordinator or the case team can resolve" in refused.content.decode()
    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.OPEN
    assert not emergency.events.filter(kind="resolved").exists()


def test_an_operator_may_resolve_an_unknown_callers_emergency(cast, login):
    emergency = unknown_callers(cast)
    assert resolve(login(cast.operator), emergency, "false_alarm").status_code == 302
    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.RESOLVED


def test_the_outsider_gets_404_and_changes_nothing(cast, login):
    emergency = open_call(cast)
    assert resolve(login(cast.outsider), emergency).status_code == 404
    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.OPEN


def test_staff_paged_but_not_on_the_team_may_not_resolve(cast):
    """Someone a policy names (a lawyer of another team) sees the emergency they were paged
    for and may act on it, but closing it is for the case team."""
    emergency = open_call(cast)
    named = UserFactory(username="paged-lawyer", role="lawyer")
    MembershipFactory(team=TeamFactory(name="Elsewhere"), user=named)
    Notification.objects.create(
        emergency=emergency,
        recipient=named,
        step=0,
        idempotency_key="paged-lawyer",
        next_attempt_at=emergency.opened_at,
        ack_token_digest="0" * 64,
    )
    response.emergency_acknowledge(actor=named, emergency=emergency)
    with pytest.raises(response.ResolveRefusedError):
        response.emergency_resolve(actor=named, emergency=emergency, outcome="safe")


def test_the_refusal_is_a_domain_error_with_a_message(cast):
    with pytest.raises(DomainError, match="Only a coordinator or the case team"):
        response.emergency_resolve(actor=cast.operator, emergency=open_call(cast), outcome="safe")


@pytest.mark.parametrize(
    ("role", "shown"),
    [("coordinator", True), ("caseworker", True), ("lawyer", True), ("operator", False)],
)
def test_the_resolve_form_is_shown_only_to_those_who_may(role, shown, cast, login):
    emergency = open_call(cast)
    body = login(cast.by_role()[role]).get(detail_url(emergency)).content.decode()
    assert (f'action="{action_url("resolve", emergency)}"' in body) is shown
    assert "Who may resolve" in body
    if not shown:
        assert "You cannot resolve this emergency" in body


def test_the_operator_sees_the_form_for_an_unknown_callers_emergency(cast, login):
    emergency = unknown_callers(cast)
    body = login(cast.operator).get(detail_url(emergency)).content.decode()
    assert f'action="{action_url("resolve", emergency)}"' in body


# --- The Respond card after "On site" -------------------------------------------------------------


def _respond_card(body: str) -> str:
    start = body.index('id="actions-heading"')
    return body[start : body.index("</section>", start)]


def test_after_on_site_the_respond_card_offers_the_next_step(cast, login):
    emergency = open_call(cast)
    response.emergency_on_site(actor=cast.lawyer, emergency=emergency)
    card = _respond_card(login(cast.lawyer).get(detail_url(emergency)).content.decode())
    assert "A responder is on site" in card
    assert 'href="#note"' in card
    assert 'href="#resolve"' in card


def test_after_on_site_an_operator_is_offered_a_note_not_resolving(cast, login):
    emergency = open_call(cast)
    response.emergency_on_site(actor=cast.lawyer, emergency=emergency)
    card = _respond_card(login(cast.operator).get(detail_url(emergency)).content.decode())
    assert 'href="#note"' in card
    assert 'href="#resolve"' not in card


def test_a_resolved_emergency_has_no_respond_card(cast, login):
    emergency = open_call(cast)
    response.emergency_resolve(actor=cast.coordinator, emergency=emergency, outcome="safe")
    assert (
        'id="actions-heading"' not in login(cast.lawyer).get(detail_url(emergency)).content.decode()
    )
