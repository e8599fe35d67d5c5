"""`refuge createuser`: the command line way to make staff accounts (the first admin above all)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from refuge import cli
from refuge.accounts.models import Role, Team, TeamMembership, User
from refuge.accounts.validators import DEMO_PASSWORD
from refuge.security.models import AuditEntry

pytestmark = pytest.mark.django_db
STRONG = "a long and unusual passphrase 42"


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "password"
    path.write_text(STRONG + "\n", encoding="utf-8")
    return path


@pytest.fixture
def typed(monkeypatch):
    answers = []
    monkeypatch.setattr("getpass.getpass", lambda prompt="": answers.pop(0))
    return answers


def run(*args):
    out = StringIO()
    call_command("createuser", *args, stdout=out)
    return out.getvalue()


def test_creates_an_account_from_a_password_file(password_file):
    run("admin", "--role", "admin", "--password-file", str(password_file))
    user = User.objects.get(username="admin")
    assert user.role == Role.ADMIN
    assert user.check_password(STRONG)


def test_account_is_audited_as_created_by_the_system(password_file):
    run("admin", "--role", "admin", "--password-file", str(password_file))
    entry = AuditEntry.objects.get(action="refuge.accounts.user.created")
    assert entry.actor_label == "system"


def test_asks_for_the_password_twice(typed):
    typed.extend([STRONG, STRONG])
    run("lawyer", "--role", "lawyer")
    assert User.objects.get(username="lawyer").check_password(STRONG)


def test_differing_typed_passwords_are_refused(typed):
    typed.extend([STRONG, STRONG + "x"])
    with pytest.raises(CommandError, match="differ"):
        run("lawyer", "--role", "lawyer")
    assert not User.objects.filter(username="lawyer").exists()


def test_sets_the_language(password_file):
    run("lawyer", "--role", "lawyer", "--language", "ru", "--password-file", str(password_file))
    assert User.objects.get(username="lawyer").language == "ru"


def test_creates_the_team_and_makes_the_account_its_lead(password_file):
    out = run(
        "caseworker",
        "--role",
        "caseworker",
        "--team",
        "Nizhny team",
        "--lead",
        "--password-file",
        str(password_file),
    )
    membership = TeamMembership.objects.get(user__username="caseworker")
    assert membership.team.name == "Nizhny team"
    assert membership.is_lead
    assert "Created team Nizhny team" in out


def test_joins_an_existing_team(password_file):
    team = Team.objects.create(name="Nizhny team")
    run(
        "lawyer", "--role", "lawyer", "--team", "nizhny team", "--password-file", str(password_file)
    )
    assert TeamMembership.objects.get(user__username="lawyer").team == team


def test_weak_password_is_refused_with_the_reason(tmp_path):
    path = tmp_path / "password"
    path.write_text("short\n", encoding="utf-8")
    with pytest.raises(CommandError, match="password"):
        run("lawyer", "--role", "lawyer", "--password-file", str(path))
    assert not User.objects.filter(username="lawyer").exists()


def test_failed_team_step_leaves_no_account(password_file):
    with pytest.raises(CommandError):
        run(
            "admin2",
            "--role",
            "admin",
            "--team",
            "Nizhny team",
            "--password-file",
            str(password_file),
        )
    assert not User.objects.filter(username="admin2").exists()
    assert not Team.objects.exists()


def test_lead_without_team_is_refused(password_file):
    with pytest.raises(CommandError, match="--lead needs --team"):
        run("lawyer", "--role", "lawyer", "--lead", "--password-file", str(password_file))


def test_unknown_role_is_refused(password_file):
    with pytest.raises(CommandError, match="invalid choice"):
        run("lawyer", "--role", "superuser", "--password-file", str(password_file))


def test_missing_password_file_is_refused(tmp_path):
    with pytest.raises(CommandError, match="Cannot read the password file"):
        run("lawyer", "--role", "lawyer", "--password-file", str(tmp_path / "missing"))


@override_settings(DEMO_MODE=False)
def test_demo_password_is_refused_outside_demo_mode(typed):
    typed.extend([DEMO_PASSWORD, DEMO_PASSWORD])
    with pytest.raises(CommandError, match="demo"):
        run("lawyer", "--role", "lawyer")


@override_settings(DEMO_MODE=True)
def test_demo_password_is_accepted_in_demo_mode(typed):
    typed.extend([DEMO_PASSWORD, DEMO_PASSWORD])
    run("lawyer", "--role", "lawyer")
    assert User.objects.get(username="lawyer").check_password(DEMO_PASSWORD)


def test_bad_input_exits_the_refuge_command_with_a_non_zero_status(password_file, capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["refuge", "createuser", "lawyer", "--role", "lawyer", "--lead"])
    assert caught.value.code != 0
    assert "--lead needs --team" in capsys.readouterr().err
