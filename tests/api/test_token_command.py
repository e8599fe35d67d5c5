"""`refuge token create|list|revoke`."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from refuge import cli
from refuge.accounts import tokens
from refuge.accounts.models import ApiToken
from refuge.security.models import AuditEntry


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_prints_a_working_token(cast):
    out, _err = run("create", "lawyer", "--name", "case sync")
    assert tokens.token_authenticate(out.strip()) == cast.lawyer


def test_create_prints_the_token_alone_on_stdout(cast):
    out, err = run("create", "lawyer")
    assert out.strip().startswith("rfg_")
    assert "\n" not in out.strip()
    assert "cannot be shown again" in err


def test_create_names_the_token(cast):
    run("create", "lawyer", "--name", "case sync")
    assert ApiToken.objects.get(user=cast.lawyer).name == "case sync"


def test_create_is_audited_as_the_system(cast):
    run("create", "lawyer")
    assert AuditEntry.objects.get(action="refuge.accounts.token.created").actor_label == "system"


def test_create_for_an_unknown_user_fails_clearly(cast):
    with pytest.raises(CommandError, match="There is no user called 'nobody'"):
        run("create", "nobody")


def test_the_refuge_command_exits_non_zero_for_an_unknown_user(cast, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["refuge", "token", "create", "nobody"])
    assert exited.value.code != 0
    assert "There is no user called 'nobody'" in capsys.readouterr().err


def test_list_shows_prefixes_but_never_tokens(cast):
    created, _err = run("create", "lawyer", "--name", "case sync")
    out, _err = run("list", "lawyer")
    assert created.strip()[:12] in out
    assert created.strip() not in out


def test_revoke_by_prefix_locks_the_token_out(cast):
    created, _err = run("create", "lawyer")
    run("revoke", created.strip()[:12])
    assert tokens.token_authenticate(created.strip()) is None


def test_revoke_by_id_locks_the_token_out(cast):
    created, _err = run("create", "lawyer")
    run("revoke", str(ApiToken.objects.get(user=cast.lawyer).pk))
    assert tokens.token_authenticate(created.strip()) is None


def test_revoking_an_unknown_token_fails_clearly(cast):
    with pytest.raises(CommandError, match="There is no token"):
        run("revoke", "rfg_nothing")


def test_revoking_twice_fails_clearly(cast):
    created, _err = run("create", "lawyer")
    run("revoke", created.strip()[:12])
    with pytest.raises(CommandError, match="already revoked"):
        run("revoke", created.strip()[:12])


def test_a_pasted_token_is_never_echoed_back(cast):
    secret = "rfg_" + "s" * 43
    with pytest.raises(CommandError) as caught:
        run("revoke", secret)
    assert secret not in str(caught.value)
