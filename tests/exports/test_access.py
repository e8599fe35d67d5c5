"""Need-to-know on every export route, for every role, with verified and re-authenticated
sessions (so a refusal is the access rule's, never the step-up's): someone who is neither the
requester nor a coordinator gets 404 for every method, and no response carries an identity the
role may not see."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from refuge.accounts import tokens
from tests.conftest import (
    BIRCH_NAME,
    BIRCH_PHONE,
    FALCON_NAME,
    FALCON_PHONE,
    FLAT_ADDRESS,
    MOTHER_NAME,
    verified_login,
)
from tests.exports.conftest import request_team_export

pytestmark = pytest.mark.django_db

ROLES = ("coordinator", "caseworker", "lawyer", "outsider", "operator", "analyst", "admin")
# The request belongs to the caseworker; coordinators decide on it.
VIEWERS = {"coordinator", "caseworker"}
WEB_ROUTES = ("request_approve", "request_reject", "request_download")
API_PATHS = ("", "/approve", "/reject", "/download")
IDENTITY_READERS = {
    FALCON_NAME: {"coordinator", "caseworker", "lawyer"},
    FALCON_PHONE: {"coordinator", "caseworker", "lawyer"},
    FLAT_ADDRESS: {"coordinator", "caseworker", "lawyer"},
    MOTHER_NAME: {"coordinator", "caseworker", "lawyer"},
    BIRCH_NAME: {"coordinator", "caseworker"},
    BIRCH_PHONE: {"coordinator", "caseworker"},
}


def _body(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode("utf-8", errors="replace")


def _leaks(role: str, body: str) -> list[str]:
    return [
        secret
        for secret, readers in IDENTITY_READERS.items()
        if role not in readers and secret in body
    ]


@pytest.mark.parametrize("role", ROLES)
def test_the_web_routes_respect_need_to_know(cast, nizhny, role):
    request = request_team_export(cast.caseworker, nizhny)
    client = verified_login(Client(), cast.by_role()[role])
    findings = []
    for name in WEB_ROUTES:
        url = reverse(f"exports:{name}", args=[request.pk])
        for method in ("get", "post"):
            response = getattr(client, method)(url, {"reason": "x", "format": "json"})
            if response.status_code >= 500:
                findings.append(f"{method} {url}: {response.status_code}")
            if role not in VIEWERS and response.status_code not in {404, 405}:
                findings.append(f"{method} {url}: {role} got {response.status_code}")
            findings.extend(
                f"{method} {url}: {role} saw {s}" for s in _leaks(role, _body(response))
            )
    assert not findings


@pytest.mark.parametrize("role", ROLES)
def test_the_api_routes_respect_need_to_know(cast, nizhny, role):
    request = request_team_export(cast.caseworker, nizhny)
    _token, plaintext = tokens.token_create(actor=None, user=cast.by_role()[role], name="t")
    client = Client(headers={"Authorization": f"Bearer {plaintext}"})
    findings = []
    for suffix in API_PATHS:
        url = f"/api/v1/exports/{request.pk}{suffix}"
        for method in ("get", "post", "patch", "delete"):
            response = client.generic(
                method.upper(), url, data='{"reason": "x"}', content_type="application/json"
            )
            if response.status_code >= 500:
                findings.append(f"{method} {url}: {response.status_code}")
            if role not in VIEWERS and response.status_code not in {404, 405}:
                findings.append(f"{method} {url}: {role} got {response.status_code}")
            findings.extend(
                f"{method} {url}: {role} saw {s}" for s in _leaks(role, _body(response))
            )
    assert not findings


@pytest.mark.parametrize("role", ROLES)
def test_a_redacted_export_shows_no_identity_to_any_role(cast, role):
    client = verified_login(Client(), cast.by_role()[role])

    response = client.post(reverse("exports:redacted_download"), {"redacted-format": "csv"})

    body = _body(response)
    assert not [secret for secret in IDENTITY_READERS if secret in body]


def test_a_coordinator_sees_and_decides_but_cannot_download(cast, nizhny):
    request = request_team_export(cast.caseworker, nizhny)
    client = verified_login(Client(), cast.coordinator)

    approve = client.post(reverse("exports:request_approve", args=[request.pk]))
    download = client.post(
        reverse("exports:request_download", args=[request.pk]), {"format": "json"}
    )

    assert approve.status_code == 302
    assert download.status_code == 400
