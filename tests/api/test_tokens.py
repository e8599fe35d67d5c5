"""The token service and the token self-management endpoints."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from refuge.accounts import tokens
from refuge.accounts.models import ApiToken
from refuge.core.errors import DomainError, NotFoundError
from refuge.security.models import AuditEntry


def test_a_new_token_is_shown_in_full_once_and_stored_as_a_digest(cast):
    token, plaintext = tokens.token_create(actor=cast.lawyer, user=cast.lawyer, name="sync")
    assert plaintext.startswith("rfg_")
    assert token.prefix == plaintext[:12]
    assert plaintext not in {token.digest, token.prefix, token.name}


def test_creating_a_token_is_audited_without_the_token(cast):
    _token, plaintext = tokens.token_create(actor=cast.lawyer, user=cast.lawyer, name="sync")
    entry = AuditEntry.objects.get(action="refuge.accounts.token.created")
    assert entry.actor_id == cast.lawyer.pk
    assert plaintext not in entry.detail


def test_a_token_authenticates_its_user(cast):
    _token, plaintext = tokens.token_create(actor=None, user=cast.lawyer, name="sync")
    assert tokens.token_authenticate(plaintext) == cast.lawyer


def test_a_revoked_token_authenticates_nobody(cast):
    token, plaintext = tokens.token_create(actor=None, user=cast.lawyer, name="sync")
    tokens.token_revoke(actor=cast.lawyer, token=token)
    assert tokens.token_authenticate(plaintext) is None


def test_a_disabled_accounts_token_authenticates_nobody(cast):
    _token, plaintext = tokens.token_create(actor=None, user=cast.lawyer, name="sync")
    cast.lawyer.is_active = False
    cast.lawyer.save()
    assert tokens.token_authenticate(plaintext) is None


def test_an_absurdly_long_token_is_refused_without_a_lookup(cast, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert tokens.token_authenticate("rfg_" + "x" * 10_000) is None


def test_last_used_is_written_at_most_once_a_minute(cast):
    token, plaintext = tokens.token_create(actor=None, user=cast.lawyer, name="sync")
    start = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        tokens.token_authenticate(plaintext)
    with time_machine.travel(start + dt.timedelta(seconds=30), tick=False):
        tokens.token_authenticate(plaintext)
    token.refresh_from_db()
    assert token.last_used_at == start


def test_last_used_moves_on_after_a_minute(cast):
    token, plaintext = tokens.token_create(actor=None, user=cast.lawyer, name="sync")
    start = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)
    for moment in (start, start + dt.timedelta(minutes=2)):
        with time_machine.travel(moment, tick=False):
            tokens.token_authenticate(plaintext)
    token.refresh_from_db()
    assert token.last_used_at == start + dt.timedelta(minutes=2)


def test_revoking_is_audited(cast):
    token, _plaintext = tokens.token_create(actor=None, user=cast.lawyer, name="sync")
    tokens.token_revoke(actor=cast.lawyer, token=token)
    assert AuditEntry.objects.filter(
        action="refuge.accounts.token.revoked", object_id=str(token.pk)
    ).exists()


def test_a_token_cannot_be_revoked_twice(cast):
    token, _plaintext = tokens.token_create(actor=None, user=cast.lawyer, name="sync")
    tokens.token_revoke(actor=None, token=token)
    with pytest.raises(DomainError):
        tokens.token_revoke(actor=None, token=token)


def test_staff_cannot_create_tokens_for_someone_else(cast):
    with pytest.raises(NotFoundError):
        tokens.token_create(actor=cast.caseworker, user=cast.lawyer, name="sync")


def test_a_token_needs_a_name(cast):
    with pytest.raises(DomainError) as caught:
        tokens.token_create(actor=None, user=cast.lawyer, name="  ")
    assert "name" in caught.value.field_errors


def test_a_disabled_account_gets_no_token(cast):
    cast.lawyer.is_active = False
    cast.lawyer.save()
    with pytest.raises(DomainError) as caught:
        tokens.token_create(actor=None, user=cast.lawyer, name="sync")
    assert "user" in caught.value.field_errors


# --- Over the API ---------------------------------------------------------------------------------


def test_me_describes_the_caller_and_their_teams(cast, api_as):
    body = api_as(cast.caseworker).get("me").json()
    assert body["username"] == "caseworker"
    assert body["role"] == "caseworker"
    assert body["teams"] == [{"id": str(cast.case.team_id), "name": "Nizhny team", "is_lead": True}]


def test_the_token_list_shows_only_my_tokens(cast, api_as):
    tokens.token_create(actor=None, user=cast.caseworker, name="someone else's")
    body = api_as(cast.lawyer).get("tokens").json()
    assert [t["name"] for t in body] == ["tests"]


def test_the_token_list_never_shows_a_token_or_its_digest(cast, api_as):
    body = api_as(cast.lawyer).get("tokens").json()
    assert set(body[0]) == {"id", "name", "prefix", "created_at", "last_used_at", "revoked_at"}


def test_revoking_my_token_locks_it_out(cast, api_as):
    api = api_as(cast.lawyer)
    token = ApiToken.objects.get(user=cast.lawyer)
    assert api.post(f"tokens/{token.pk}/revoke").status_code == 200
    assert api.get("me").status_code == 401


def test_revoking_someone_elses_token_is_404(cast, api_as):
    other, _plaintext = tokens.token_create(actor=None, user=cast.caseworker, name="theirs")
    assert api_as(cast.lawyer).post(f"tokens/{other.pk}/revoke").status_code == 404


def test_an_admin_revokes_only_their_own_tokens_over_the_api(cast, api_as):
    other, _plaintext = tokens.token_create(actor=None, user=cast.caseworker, name="theirs")
    assert api_as(cast.admin).post(f"tokens/{other.pk}/revoke").status_code == 404


def test_active_tokens_are_listed_before_revoked_ones(cast):
    old, _plaintext = tokens.token_create(actor=None, user=cast.lawyer, name="old")
    tokens.token_revoke(actor=None, token=old)
    tokens.token_create(actor=None, user=cast.lawyer, name="new")
    assert [t.name for t in tokens.token_list(actor=None, user=cast.lawyer)] == ["new", "old"]
