"""The passkey views' Refuge side: login, step-up, lockout. The WebAuthn ceremony itself is the
library's (and the e2e passkey journey's); here its verdict is faked."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp_webauthn import exceptions
from django_otp_webauthn.models import WebAuthnCredential

from refuge.accounts import stepup
from refuge.accounts.models import SecondFactorThrottle
from refuge.security.models import AuditEntry
from tests.conftest import Cast, verified_login
from tests.factories import PasskeyFactory

pytestmark = pytest.mark.django_db

COMPLETE = "otp_webauthn:credential-authentication-complete"


class FakeHelper:
    device: WebAuthnCredential | None = None

    def __init__(self, request: Any) -> None:
        del request

    def authenticate_complete(self, *, user: Any, state: Any, data: Any) -> WebAuthnCredential:
        del user, state, data
        if self.device is None:
            raise exceptions.InvalidState
        return self.device


@pytest.fixture
def helper(monkeypatch: pytest.MonkeyPatch) -> type[FakeHelper]:
    FakeHelper.device = None
    fake = classmethod(lambda cls, request: FakeHelper(request))
    monkeypatch.setattr(WebAuthnCredential, "get_webauthn_helper", fake)
    return FakeHelper


def _assert(client: Client, next_url: str = "") -> Any:
    session = client.session
    session["otp_webauthn_authentication_state"] = {"challenge": "x"}
    session.save()
    url = reverse(COMPLETE) + (f"?next={next_url}" if next_url else "")
    return client.post(url, data="{}", content_type="application/json")


def test_passkey_completes_the_login(client: Client, cast: Cast, helper) -> None:
    helper.device = PasskeyFactory(user=cast.lawyer)
    client.force_login(cast.lawyer)

    response = _assert(client, next_url="/people/")

    assert response.status_code == 200
    assert response.json()["redirect_url"] == "/people/"
    assert client.session[DEVICE_ID_SESSION_KEY] == helper.device.persistent_id
    assert stepup.STEP_UP_PASSKEY_AT not in client.session


def test_passkey_on_a_verified_session_is_a_step_up(client: Client, cast: Cast, helper) -> None:
    verified_login(client, cast.lawyer, step_up=False)
    helper.device = WebAuthnCredential.objects.get(user=cast.lawyer)
    before = client.session.session_key

    _assert(client)

    assert stepup.STEP_UP_PASSKEY_AT in client.session
    assert client.session.session_key != before
    assert AuditEntry.objects.filter(
        action="refuge.accounts.factor.verified", detail__contains="step_up"
    ).exists()


def test_failed_passkey_assertions_count_towards_the_lockout(
    client: Client, cast: Cast, helper
) -> None:
    PasskeyFactory(user=cast.lawyer)
    client.force_login(cast.lawyer)

    for _attempt in range(5):
        response = _assert(client)

    assert response.status_code == 403
    assert response.json()["code"] == "locked_out"
    assert SecondFactorThrottle.objects.get(user=cast.lawyer).locked_until is not None


def test_someone_elses_passkey_does_not_verify(client: Client, cast: Cast, helper) -> None:
    helper.device = PasskeyFactory(user=cast.caseworker)
    PasskeyFactory(user=cast.lawyer)
    client.force_login(cast.lawyer)

    response = _assert(client)

    assert response.status_code >= 400
    assert DEVICE_ID_SESSION_KEY not in client.session


def test_ceremonies_answer_405_to_get(client: Client, cast: Cast) -> None:
    client.force_login(cast.lawyer)

    assert client.get(reverse(COMPLETE)).status_code == 405
