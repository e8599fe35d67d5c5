"""Who gets in: bearer tokens for integrations, the Django session (with CSRF) for the browser."""

from __future__ import annotations

from django.conf import settings
from django.test import Client
from django.utils import timezone

from refuge.accounts import tokens
from refuge.accounts.models import ApiToken
from tests.api.conftest import Api
from tests.conftest import verified_login


def test_a_valid_token_authenticates(cast, api_as):
    response = api_as(cast.lawyer).get("me")
    assert response.status_code == 200
    assert response.json()["username"] == "lawyer"


def test_no_credentials_get_401(cast, anonymous):
    response = anonymous.get("cases")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in response.json()["detail"]


def test_an_invalid_token_gets_401(cast):
    response = Api(Client(), "rfg_" + "x" * 43).get("cases")
    assert response.status_code == 401


def test_a_token_without_our_prefix_gets_401(cast):
    response = Api(Client(), "not-a-refuge-token").get("cases")
    assert response.status_code == 401


def test_a_revoked_token_gets_401(cast):
    token, plaintext = tokens.token_create(actor=None, user=cast.lawyer, name="old")
    tokens.token_revoke(actor=None, token=token)
    assert Api(Client(), plaintext).get("cases").status_code == 401


def test_a_deactivated_users_token_gets_401(cast):
    _token, plaintext = tokens.token_create(actor=None, user=cast.lawyer, name="sync")
    cast.lawyer.is_active = False
    cast.lawyer.save()
    assert Api(Client(), plaintext).get("cases").status_code == 401


def test_another_authorization_scheme_gets_401(cast):
    response = Api(Client()).get("cases", headers={"Authorization": "Basic bGF3eWVyOnB3"})
    assert response.status_code == 401


def test_a_revoked_token_gets_401_on_writes_too(cast):
    token, plaintext = tokens.token_create(actor=None, user=cast.lawyer, name="old")
    tokens.token_revoke(actor=None, token=token)
    response = Api(Client(), plaintext).post(
        f"cases/{cast.case.pk}/timeline", {"kind": "note", "text": "x"}
    )
    assert response.status_code == 401


def test_using_a_token_records_when_it_was_last_used(cast):
    token, plaintext = tokens.token_create(actor=None, user=cast.lawyer, name="sync")
    Api(Client(), plaintext).get("me")
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert timezone.now() - token.last_used_at < timezone.timedelta(minutes=1)


def test_a_signed_in_browser_session_can_read(cast):
    client = Client()
    verified_login(client, cast.lawyer)
    assert Api(client).get(f"cases/{cast.case.pk}").status_code == 200


def test_a_session_write_without_csrf_token_is_refused(cast):
    client = Client(enforce_csrf_checks=True)
    verified_login(client, cast.lawyer)
    response = Api(client).post(f"cases/{cast.case.pk}/timeline", {"kind": "note", "text": "hi"})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_a_session_write_with_csrf_token_is_accepted(cast):
    client = Client(enforce_csrf_checks=True)
    verified_login(client, cast.lawyer)
    secret = "a" * 32  # what the browser would read from the CSRF cookie
    client.cookies[settings.CSRF_COOKIE_NAME] = secret
    response = Api(client).post(
        f"cases/{cast.case.pk}/timeline",
        {"kind": "note", "text": "hi"},
        headers={"X-CSRFToken": secret},
    )
    assert response.status_code == 201


def test_an_anonymous_write_gets_401_not_a_csrf_error(cast):
    response = Api(Client(enforce_csrf_checks=True)).post(
        f"cases/{cast.case.pk}/timeline", {"kind": "note", "text": "hi"}
    )
    assert response.status_code == 401


def test_a_bad_token_is_refused_even_next_to_a_valid_session(cast):
    client = Client()
    verified_login(client, cast.lawyer)
    assert Api(client, "rfg_" + "y" * 43).get(f"cases/{cast.case.pk}").status_code == 401


def test_tokens_are_stored_as_digests_only(cast):
    _token, plaintext = tokens.token_create(actor=None, user=cast.lawyer, name="sync")
    stored = ApiToken.objects.values_list("prefix", "digest", "name")
    assert all(plaintext not in value for row in stored for value in row)
