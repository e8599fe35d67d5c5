"""Revealing an identity over the API: a session needs a recent step-up, a token the reveal
scope (`refuge token create USER --reveal`)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from refuge.accounts import tokens
from refuge.accounts.models import ApiToken, User
from tests.api.conftest import Api
from tests.conftest import FALCON_NAME, MOTHER_NAME, Cast

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_as():  # type: ignore[no-untyped-def]
    def _api_as(user: User, *, reveal: bool) -> Api:
        _token, plaintext = tokens.token_create(
            actor=None, user=user, name="tests", can_reveal=reveal
        )
        return Api(Client(), plaintext)

    return _api_as


def identity_path(cast: Cast) -> str:
    return f"people/{cast.falcon.pk}/identity"


def test_session_without_step_up_gets_403_with_a_reason(cast: Cast, login) -> None:
    api = Api(login(cast.lawyer, step_up=False))

    response = api.get(identity_path(cast))

    assert response.status_code == 403
    assert "Re-authentication required" in response.json()["detail"]
    assert FALCON_NAME not in response.content.decode()


def test_session_after_step_up_reads_the_identity(cast: Cast, login) -> None:
    api = Api(login(cast.lawyer, step_up=True))

    response = api.get(identity_path(cast))

    assert response.status_code == 200
    assert response.json()["legal_name"] == FALCON_NAME


def test_relatives_need_the_step_up_too(cast: Cast, login) -> None:
    api = Api(login(cast.lawyer, step_up=False))

    response = api.get(f"people/{cast.falcon.pk}/relatives")

    assert response.status_code == 403
    assert MOTHER_NAME not in response.content.decode()


def test_plain_token_cannot_reveal(cast: Cast, api_as) -> None:
    response = api_as(cast.lawyer, reveal=False).get(identity_path(cast))

    assert response.status_code == 403
    assert "token" in response.json()["detail"]


def test_reveal_token_reads_the_identity(cast: Cast, api_as) -> None:
    response = api_as(cast.lawyer, reveal=True).get(identity_path(cast))

    assert response.status_code == 200


def test_reveal_token_still_gets_404_outside_need_to_know(cast: Cast, api_as) -> None:
    response = api_as(cast.outsider, reveal=True).get(identity_path(cast))

    assert response.status_code == 404


def test_plain_token_still_reads_pseudonyms(cast: Cast, api_as) -> None:
    response = api_as(cast.lawyer, reveal=False).get(f"people/{cast.falcon.pk}")

    assert response.status_code == 200


def test_token_command_creates_a_reveal_token(cast: Cast, capsys) -> None:
    call_command("token", "create", "lawyer", "--reveal")

    plaintext = capsys.readouterr().out.strip()
    assert ApiToken.objects.get(prefix=plaintext[:12]).can_reveal
    assert Api(Client(), plaintext).get(identity_path(cast)).status_code == 200


def test_token_command_creates_plain_tokens_by_default(cast: Cast, capsys) -> None:
    call_command("token", "create", "lawyer")

    plaintext = capsys.readouterr().out.strip()
    assert not ApiToken.objects.get(prefix=plaintext[:12]).can_reveal
