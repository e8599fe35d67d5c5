"""`refuge rota`: on-call rotas from the command line.

    refuge rota list
    refuge rota show NAME
    refuge rota create NAME --starts 2025-06-02T09:00+03:00 [--shift-days 7]
    refuge rota add-member NAME USERNAME
    refuge rota override NAME USERNAME --from 2025-06-05T18:00+03:00 --to 2025-06-06T09:00+03:00

Times without an offset are read in the server's time zone (REFUGE_TIME_ZONE), and shown in it
with UTC alongside. Whoever runs this has a shell on the server, so it acts as the system
(audited as "system"), like the other operator commands.
"""

from __future__ import annotations

import datetime as dt
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from refuge.accounts.models import User
from refuge.alerts import selectors
from refuge.alerts.models import OnCallRota
from refuge.alerts.services import setup as services
from refuge.core.errors import DomainError


def fail(error: DomainError) -> CommandError:
    details = [f"{field}: {msg}" for field, msgs in error.field_errors.items() for msg in msgs]
    return CommandError("\n".join([error.message, *details]) if details else error.message)


def instant(value: str, option: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} takes a time such as 2025-06-02T09:00+03:00.") from None
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


def when(value: dt.datetime) -> str:
    local = timezone.localtime(value)
    return f"{local:%a %Y-%m-%d %H:%M %Z} ({value.astimezone(dt.UTC):%H:%M} UTC)"


def staff(username: str) -> User:
    user = selectors.staff_member(actor=None, username=username)
    if user is None:
        raise CommandError(f"There is no user called {username[:150]!r}.")
    return user


def rota_named(name: str) -> OnCallRota:
    rota = selectors.rota_get_by_name(actor=None, name=name)
    if rota is None:
        raise CommandError(f"There is no rota called {name[:100]!r}: see `refuge rota list`.")
    return rota


def who(user: User | None) -> str:
    return user.get_username() if user is not None else "nobody"


class Command(BaseCommand):
    help = "List, show and set up on-call rotas: members, rotation and overrides."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="Every rota with who is on call now.")
        show = sub.add_parser("show", help="Members, who is on call now, the next handovers.")
        show.add_argument("name")
        create = sub.add_parser("create", help="Create a rota (members are added afterwards).")
        create.add_argument("name")
        create.add_argument("--starts", required=True, help="When the first shift begins.")
        create.add_argument("--shift-days", type=int, default=7, help="1 to 28 (default 7).")
        member = sub.add_parser("add-member", help="Add a member at the end of the rotation.")
        member.add_argument("name")
        member.add_argument("username")
        override = sub.add_parser("override", help="Put someone on call for a while.")
        override.add_argument("name")
        override.add_argument("username")
        override.add_argument("--from", dest="starts", required=True)
        override.add_argument("--to", dest="ends", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        del args
        action = options["action"]
        try:
            if action == "list":
                self._list()
            elif action == "show":
                self._show(rota_named(options["name"]))
            elif action == "create":
                self._create(options)
            elif action == "add-member":
                self._add_member(options["name"], options["username"])
            else:
                self._override(options)
        except DomainError as error:
            raise fail(error) from None

    def _list(self) -> None:
        rotas = selectors.rota_list(actor=None)
        if not rotas:
            self.stderr.write("There are no rotas yet: `refuge rota create`.")
        for item in rotas:
            rota = item.rota
            self.stdout.write(
                f"{rota.name}  every {rota.shift_days} d  {len(rota.members.all())} members  "
                f"on call now: {who(item.on_call_now)}"
            )

    def _show(self, rota: OnCallRota) -> None:
        out = self.stdout.write
        out(f"{rota.name}: shifts of {rota.shift_days} d from {when(rota.starts_on)}")
        out(f"On call now: {who(selectors.rota_on_call(actor=None, rota=rota))}")
        members = selectors.rota_members(actor=None, rota=rota)
        out("Members, in rotation order:" if members else "Members: none yet.")
        for member in members:
            state = "" if member.user.is_active else "  (deactivated: skipped)"
            out(f"  {member.position + 1}. {member.user.get_username()}{state}")
        overrides = selectors.rota_overrides(actor=None, rota=rota)
        for override in overrides:
            out(
                f"Override: {override.user.get_username()} from {when(override.starts_at)} "
                f"to {when(override.ends_at)}"
            )
        for change in selectors.rota_next_changes(actor=None, rota=rota):
            out(f"Next: {when(change.at)} -> {who(change.user)}")

    def _create(self, options: dict[str, Any]) -> None:
        rota = services.rota_create(
            actor=None,
            name=options["name"],
            starts_on=instant(options["starts"], "--starts"),
            shift_days=options["shift_days"],
        )
        self.stdout.write(f"Rota {rota.name} created: add members with `refuge rota add-member`.")

    def _add_member(self, name: str, username: str) -> None:
        rota = rota_named(name)
        member = services.rota_member_add(actor=None, rota=rota, user=staff(username))
        self.stdout.write(
            f"{member.user.get_username()} joined {rota.name} as number {member.position + 1}."
        )

    def _override(self, options: dict[str, Any]) -> None:
        rota = rota_named(options["name"])
        override = services.rota_override_add(
            actor=None,
            rota=rota,
            user=staff(options["username"]),
            starts_at=instant(options["starts"], "--from"),
            ends_at=instant(options["ends"], "--to"),
        )
        self.stdout.write(
            f"{override.user.get_username()} is on call on {rota.name} from "
            f"{when(override.starts_at)} to {when(override.ends_at)}."
        )
