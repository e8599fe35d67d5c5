"""The one-time acknowledgement link in a notification: /alerts/ack/<token>/."""

from __future__ import annotations

import re
import uuid

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from refuge.alerts.models import Emergency, EmergencyState, Notification
from refuge.alerts.services import escalation, response
from refuge.core import clock
from tests.conftest import BIRCH_NAME, FALCON_NAME, FLAT_ADDRESS
from tests.web.test_alerts_emergency import HEARD, HINT, open_call

pytestmark = pytest.mark.django_db

CSRF_VALUE = re.compile(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+')


def page_to(emergency: Emergency, user) -> str:
    """A notification to `user` about `emergency`, as the escalation engine writes it; returns
    the acknowledgement token its message carries."""
    notification_id = uuid.uuid4()
    token = escalation.ack_token(notification_id)
    Notification.objects.create(
        id=notification_id,
        emergency=emergency,
        recipient=user,
        step=0,
        idempotency_key=f"test:{notification_id}",
        next_attempt_at=clock.now(),
        ack_token_digest=escalation.token_digest(token),
    )
    return token


def ack_url(token: str) -> str:
    return reverse("alerts:emergency_ack_link", args=[token])


def test_the_link_has_the_address_the_messages_use():
    assert ack_url("abc") == "/alerts/ack/abc/"


def test_opening_the_link_asks_for_confirmation_and_changes_nothing(cast):
    emergency = open_call(cast)
    token = page_to(emergency, cast.lawyer)
    response = Client().get(ack_url(token))
    body = response.content.decode()
    assert response.status_code == 200
    assert emergency.code in body
    assert "FALCON" in body
    assert "BIRCH" in body
    assert "<form" in body
    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.OPEN
    assert emergency.acknowledged_at is None


def test_the_link_reveals_only_the_code_and_pseudonyms(cast):
    emergency = open_call(cast)
    body = Client().get(ack_url(page_to(emergency, cast.lawyer))).content.decode()
    for secret in (FALCON_NAME, BIRCH_NAME, FLAT_ADDRESS, HEARD, HINT, cast.case.code):
        assert secret not in body


def test_confirming_acknowledges_for_the_recipient_without_a_login(cast):
    emergency = open_call(cast)
    client = Client(enforce_csrf_checks=True)
    url = ack_url(page_to(emergency, cast.lawyer))
    client.get(url)
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    response = client.post(url, {"csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert "acknowledged" in response.content.decode()
    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.ACKNOWLEDGED
    assert emergency.acknowledged_by == cast.lawyer


def test_confirming_needs_the_csrf_token(cast):
    emergency = open_call(cast)
    client = Client(enforce_csrf_checks=True)
    assert client.post(ack_url(page_to(emergency, cast.lawyer))).status_code == 403
    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.OPEN


def test_the_link_works_once(cast):
    emergency = open_call(cast)
    url = ack_url(page_to(emergency, cast.lawyer))
    client = Client()
    assert client.post(url).status_code == 200
    again_get, again_post = client.get(url), client.post(url)
    assert (again_get.status_code, again_post.status_code) == (404, 404)
    assert emergency.code not in again_get.content.decode()


def test_a_used_and_an_unknown_link_look_the_same(cast):
    emergency = open_call(cast)
    url = ack_url(page_to(emergency, cast.lawyer))
    client = Client()
    client.post(url)
    used = client.get(url).content.decode()
    unknown = client.get(ack_url("x" * 64)).content.decode()
    assert _comparable(used, url) == _comparable(unknown, ack_url("x" * 64))


def _comparable(body: str, url: str) -> str:
    """The page without what differs on every response anyway (CSRF tokens, its own URL)."""
    return CSRF_VALUE.sub("", body.replace(url, ""))


def test_a_link_of_an_emergency_resolved_meanwhile_is_neutral(cast):
    emergency = open_call(cast)
    token = page_to(emergency, cast.lawyer)
    response.emergency_resolve(actor=cast.coordinator, emergency=emergency, outcome="safe")
    assert Client().get(ack_url(token)).status_code == 404


def test_the_link_is_not_cached_and_sent_to_no_other_site(cast):
    emergency = open_call(cast)
    response = Client().get(ack_url(page_to(emergency, cast.lawyer)))
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"


def test_an_overlong_token_is_neutral(cast):
    assert Client().get(ack_url("a" * 500)).status_code == 404
