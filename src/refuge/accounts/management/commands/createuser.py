"""`refuge createuser`: create a staff account from the server's shell, e.g. the first admin."""

from __future__ import annotations

import getpass
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from typing_extensions import override

from refuge.accounts import selectors, services
from refuge.accounts.models import Role
from refuge.core.errors import DomainError

HELP = """Create a staff account, optionally on a team (created if it does not exist).

The password comes from --password-file (first line) or is asked twice on the terminal; it is
never an argument, so it stays out of the shell history and the process list.

There is no --actor: this command is how the first administrator is made, and whoever can run it
already controls the server. The audit log records the account, the team and the membership as
created by "system". Later accounts are better created on the Staff pages, where the audit names
the administrator.
"""


def _describe(error: DomainError) -> str:
    lines = [error.message]
    for field, messages in error.field_errors.items():
        lines.extend(f"  {field}: {message}" for message in messages)
    return "\n".join(lines)


class Command(BaseCommand):
    help = HELP

    @override
    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument(
            "--password-file",
            type=Path,
            help="Read the password from the first line of this file (keep it mode 600).",
        )
        parser.add_argument(
            "--language",
            choices=list(services.LANGUAGES),
            default=None,
            help="Interface language (default: the server's REFUGE_LANGUAGE_CODE).",
        )
        parser.add_argument("--team", help="Put the account on this team.")
        parser.add_argument("--lead", action="store_true", help="Make the account the team lead.")

    @override
    def handle(self, *args: Any, **options: Any) -> None:
        if options["lead"] and not options["team"]:
            raise CommandError("--lead needs --team.")
        password = self._password(options["password_file"])
        language = options["language"] or settings.LANGUAGE_CODE
        team_name = options["team"]
        try:
            # All or nothing: a bad team name must not leave a half-configured account behind.
            with transaction.atomic():
                user = services.user_create(
                    actor=None,
                    username=options["username"],
                    role=options["role"],
                    password=password,
                    language=language,
                )
                if team_name:
                    team = selectors.team_get_by_name(actor=None, name=team_name)
                    if team is None:
                        team = services.team_create(actor=None, name=team_name)
                        self.stdout.write(f"Created team {team.name}.")
                    services.team_member_add(
                        actor=None, team=team, user=user, is_lead=options["lead"]
                    )
        except DomainError as error:
            raise CommandError(_describe(error)) from None
        summary = f"Created {user.role} account {user.username}"
        if team_name:
            summary += f" on team {team_name}" + (" as its lead" if options["lead"] else "")
        self.stdout.write(self.style.SUCCESS(f"{summary}."))

    def _password(self, path: Path | None) -> str:
        if path is not None:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as error:
                raise CommandError(f"Cannot read the password file: {error.strerror}.") from None
            lines = text.splitlines()
            password = lines[0] if lines else ""
            if not password:
                raise CommandError("The password file is empty.")
            return password
        first = getpass.getpass("Password: ")
        second = getpass.getpass("Password again: ")
        if first != second:
            raise CommandError("The two passwords differ.")
        if not first:
            raise CommandError("Enter a password.")
        return first
