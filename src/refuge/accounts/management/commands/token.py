"""`refuge token create|list|revoke`: API tokens from the server's command line.

Whoever runs this has a shell on the server, so it acts as the system (audited as "system"),
like the other operator commands.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from refuge.accounts import tokens
from refuge.accounts.models import User
from refuge.core.errors import DomainError, NotFoundError

DEFAULT_NAME = "command line"


def _user(username: str) -> User:
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise CommandError(f"There is no user called {username!r}.") from None


def _fail(error: DomainError) -> CommandError:
    details = [f"{field}: {msg}" for field, msgs in error.field_errors.items() for msg in msgs]
    return CommandError("\n".join([error.message, *details]) if details else error.message)


def _when(value: Any) -> str:
    return value.isoformat(timespec="minutes") if value else "-"


class Command(BaseCommand):
    help = "Create, list and revoke API tokens (the token is printed once, at creation)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a token and print it.")
        create.add_argument("username")
        create.add_argument("--name", default=DEFAULT_NAME, help="What the token is for.")
        create.add_argument(
            "--reveal",
            action="store_true",
            help=(
                "Let the token read legal identities and relatives the user may reveal. A token "
                "cannot re-authenticate, so without this it never reveals an identity."
            ),
        )
        listing = sub.add_parser("list", help="List a user's tokens (never the tokens themselves).")
        listing.add_argument("username")
        revoke = sub.add_parser("revoke", help="Revoke a token by its id or its prefix.")
        revoke.add_argument("token", help="The token's id, or its prefix (rfg_…).")

    def handle(self, *args: Any, **options: Any) -> None:
        del args
        action = options["action"]
        if action == "create":
            self._create(options["username"], options["name"], reveal=options["reveal"])
        elif action == "list":
            self._list(options["username"])
        else:
            self._revoke(options["token"])

    def _create(self, username: str, name: str, *, reveal: bool) -> None:
        user = _user(username)
        try:
            token, plaintext = tokens.token_create(
                actor=None, user=user, name=name, can_reveal=reveal
            )
        except DomainError as error:
            raise _fail(error) from None
        # The token alone on stdout, so scripts can capture it; the advice goes to stderr.
        self.stdout.write(plaintext)
        self.stderr.write(
            f"Token {token.prefix}… ({token.name}) for {user.get_username()} created"
            + (", allowed to reveal identities" if reveal else "")
            + ". Store it now: it cannot be shown again."
        )

    def _list(self, username: str) -> None:
        user = _user(username)
        rows = tokens.token_list(actor=None, user=user)
        if not rows:
            self.stderr.write(f"{user.get_username()} has no API tokens.")
            return
        for token in rows:
            state = f"revoked {_when(token.revoked_at)}" if token.revoked_at else "active"
            self.stdout.write(
                f"{token.pk}  {token.prefix}…  {token.name}  created {_when(token.created_at)}  "
                f"last used {_when(token.last_used_at)}  {state}"
            )

    def _revoke(self, ref: str) -> None:
        # A whole token pasted by mistake is cut to its prefix: never echo a secret back.
        shown = ref[: tokens.PREFIX_LENGTH] if ref.startswith(tokens.TOKEN_PREFIX) else ref[:40]
        try:
            token = tokens.token_find(actor=None, ref=ref)
            tokens.token_revoke(actor=None, token=token)
        except NotFoundError:
            raise CommandError(f"There is no token {shown!r}.") from None
        except DomainError as error:
            raise _fail(error) from None
        self.stdout.write(f"Token {token.prefix}… ({token.name}) of {token.user} revoked.")
