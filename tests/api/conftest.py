"""An API client per cast member, authenticated with a real bearer token."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client

from refuge.accounts import tokens
from refuge.accounts.models import User
from refuge.security.models import AuditEntry

PREFIX = "/api/v1/"


class Api:
    """Thin JSON wrapper around Django's test client; paths are relative to /api/v1/."""

    def __init__(self, client: Client, token: str | None = None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: str | bytes | None = None,
        **extra: Any,
    ) -> HttpResponse:
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        headers = {**self.headers, **extra.pop("headers", {})}
        return self.client.generic(
            method,
            PREFIX + path,
            data=data,
            content_type="application/json",
            headers=headers,
            **extra,
        )

    def get(self, path: str, params: dict[str, Any] | None = None, **extra: Any) -> HttpResponse:
        headers = {**self.headers, **extra.pop("headers", {})}
        return self.client.get(PREFIX + path, params or {}, headers=headers, **extra)

    def post(self, path: str, body: Any = None, **extra: Any) -> HttpResponse:
        return self.request("POST", path, body, **extra)

    def patch(self, path: str, body: Any = None, **extra: Any) -> HttpResponse:
        return self.request("PATCH", path, body, **extra)

    def delete(self, path: str, **extra: Any) -> HttpResponse:
        return self.request("DELETE", path, **extra)


@pytest.fixture
def api_as() -> Callable[..., Api]:
    # Tokens here may reveal identities (`refuge token create --reveal`), so the tests of the
    # endpoints that serve them test need-to-know; tests/accounts/test_api_reveal.py tests the
    # scope itself with reveal=False.
    def _api_as(user: User, *, reveal: bool = True) -> Api:
        _token, plaintext = tokens.token_create(
            actor=None, user=user, name="tests", can_reveal=reveal
        )
        return Api(Client(), plaintext)

    return _api_as


@pytest.fixture
def anonymous() -> Api:
    return Api(Client())


def audit_count() -> int:
    return AuditEntry.objects.count()
