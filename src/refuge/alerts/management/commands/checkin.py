"""`refuge checkin`: personal links, schedules, PINs and sender bindings from the command line.

    refuge checkin link PSEUDONYM [--revoke]
    refuge checkin schedule set PSEUDONYM (--every HOURS | --daily HH:MM) [--tz ZONE] [--grace MIN]
                                [--window MIN]
    refuge checkin schedule pause PSEUDONYM [--until 2025-06-01T18:00+03:00]
    refuge checkin schedule resume PSEUDONYM
    refuge checkin schedule show PSEUDONYM
    refuge checkin pins PSEUDONYM [--stdin]
    refuge checkin unlock PSEUDONYM --reason "reached by phone, confirmed"
    refuge checkin bind PSEUDONYM (--sms +79001234567 | --telegram CHAT_ID) [--revoke]

Whoever runs this has a shell on the server, so it acts as the system (audited as "system"),
like the other operator commands. PINs are read from prompts (or, with --stdin, from standard
input, one per line), never from the command line, where the shell history and the process
list would keep them.
"""

from __future__ import annotations

import datetime as dt
import getpass
import sys
import zoneinfo
from argparse import ArgumentParser
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from refuge.alerts import pins
from refuge.alerts.models import CheckinSchedule
from refuge.alerts.services import checkin_links, checkins
from refuge.core.errors import DomainError, NotFoundError
from refuge.people.models import ProtectedPerson

DEFAULT_GRACE_MINUTES = 120


def _fail(error: DomainError) -> CommandError:
    details = [f"{field}: {msg}" for field, msgs in error.field_errors.items() for msg in msgs]
    return CommandError("\n".join([error.message, *details]) if details else error.message)


def _person(pseudonym: str) -> ProtectedPerson:
    try:
        return checkin_links.person_by_pseudonym(pseudonym)
    except NotFoundError:
        raise CommandError(f"There is no protected person {pseudonym[:40]!r}.") from None


def _schedule(person: ProtectedPerson) -> CheckinSchedule:
    schedule = checkins.schedule_of(person)
    if schedule is None:
        raise CommandError(f"{person} has no check-in schedule: `refuge checkin schedule set`.")
    return schedule


def _time_of_day(value: str) -> dt.time:
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--daily takes a time of day such as 21:00, not {value!r}.") from None


def _instant(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise CommandError("--until takes a time with its offset, e.g. 2025-06-01T18:00+03:00.")
    return parsed


def _when(value: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> str:
    if value is None:
        return "-"
    local = value.astimezone(zone)
    return f"{local:%a %Y-%m-%d %H:%M} {zone.key} ({value.astimezone(dt.UTC):%H:%M} UTC)"


class Command(BaseCommand):
    help = "Personal check-in links, schedules, PINs and SMS/Telegram bindings."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        link = sub.add_parser("link", help="Issue a personal link (earlier ones stop working).")
        link.add_argument("pseudonym")
        link.add_argument("--revoke", action="store_true", help="Revoke the links, issue none.")

        schedule = sub.add_parser("schedule", help="Set, pause, resume or show a schedule.")
        schedule_sub = schedule.add_subparsers(dest="schedule_action", required=True)
        setter = schedule_sub.add_parser("set", help="Create or change the schedule.")
        setter.add_argument("pseudonym")
        kind = setter.add_mutually_exclusive_group(required=True)
        kind.add_argument("--every", type=int, metavar="HOURS", help="Every N hours (1-168).")
        kind.add_argument("--daily", metavar="HH:MM", help="Daily by this time.")
        setter.add_argument("--tz", default=None, help="The person's time zone.")
        setter.add_argument("--grace", type=int, default=DEFAULT_GRACE_MINUTES, metavar="MIN")
        setter.add_argument(
            "--window",
            type=int,
            default=None,
            metavar="MIN",
            help="Check-ins count from MIN minutes before the deadline (default: 240 for "
            "--daily, the whole interval for --every).",
        )
        pause = schedule_sub.add_parser("pause", help="No missed-check-in alerts until resumed.")
        pause.add_argument("pseudonym")
        pause.add_argument("--until", default=None, help="Resume by itself at this time.")
        for name, text in (("resume", "Alerts again, counted from now."), ("show", "Show it.")):
            schedule_sub.add_parser(name, help=text).add_argument("pseudonym")

        pins_parser = sub.add_parser("pins", help="Set the PIN and the duress PIN (prompted).")
        pins_parser.add_argument("pseudonym")
        pins_parser.add_argument(
            "--stdin", action="store_true", help="Read PIN, PIN, duress PIN, duress PIN (lines)."
        )

        unlock = sub.add_parser("unlock", help="Lift a PIN lockout, with a reason.")
        unlock.add_argument("pseudonym")
        unlock.add_argument(
            "--reason", required=True, help="How the person was reached and confirmed."
        )

        bind = sub.add_parser("bind", help="Bind an SMS number or a Telegram chat.")
        bind.add_argument("pseudonym")
        sender = bind.add_mutually_exclusive_group(required=True)
        sender.add_argument("--sms", metavar="NUMBER", help="Phone number, e.g. +79001234567.")
        sender.add_argument("--telegram", metavar="CHAT_ID", help="The code the bot showed.")
        bind.add_argument("--revoke", action="store_true", help="Unbind instead.")

    def handle(self, *args: Any, **options: Any) -> None:
        del args
        person = _person(options["pseudonym"])
        try:
            if options["action"] == "link":
                self._link(person, revoke=options["revoke"])
            elif options["action"] == "schedule":
                self._schedule(person, options)
            elif options["action"] == "pins":
                self._pins(person, from_stdin=options["stdin"])
            elif options["action"] == "unlock":
                checkins.checkins_unlock(
                    actor=None, schedule=_schedule(person), reason=options["reason"]
                )
                self._show(_schedule(person))
            else:
                self._bind(person, options)
        except DomainError as error:
            raise _fail(error) from None

    def _link(self, person: ProtectedPerson, *, revoke: bool) -> None:
        if revoke:
            count = checkin_links.link_revoke(actor=None, person=person)
            self.stdout.write(f"{count} link(s) of {person} revoked.")
            return
        token = checkin_links.link_issue(actor=None, person=person)
        # The URL alone on stdout, so scripts can capture it; the advice goes to stderr.
        self.stdout.write(settings.PUBLIC_BASE_URL + checkin_links.link_path(token))
        self.stderr.write(
            f"Personal link of {person} issued; earlier links no longer work. "
            "Give it to the person in person: it cannot be shown again."
        )

    def _schedule(self, person: ProtectedPerson, options: dict[str, Any]) -> None:
        action = options["schedule_action"]
        if action == "set":
            every = options["every"]
            checkins.schedule_set(
                actor=None,
                person=person,
                kind="interval" if every is not None else "daily",
                interval_hours=every,
                daily_time=_time_of_day(options["daily"]) if every is None else None,
                time_zone=options["tz"] or str(settings.TIME_ZONE),
                grace_minutes=options["grace"],
                window_minutes=options["window"],
            )
        elif action == "pause":
            until = _instant(options["until"]) if options["until"] else None
            checkins.schedule_pause(actor=None, schedule=_schedule(person), until=until)
        elif action == "resume":
            checkins.schedule_resume(actor=None, schedule=_schedule(person))
        self._show(_schedule(person))

    def _show(self, schedule: CheckinSchedule) -> None:
        zone = zoneinfo.ZoneInfo(schedule.time_zone)
        if schedule.kind == CheckinSchedule.Kind.INTERVAL:
            rule = f"every {schedule.interval_hours} h"
        else:
            rule = f"daily by {schedule.daily_time:%H:%M} {zone.key}"
        paused = "no"
        if schedule.paused:
            paused = (
                f"until {_when(schedule.paused_until, zone)}" if schedule.paused_until else "yes"
            )
        rule += f", grace {schedule.grace_minutes} min, window {schedule.window_minutes} min"
        lines = [
            f"person:        {schedule.person}",
            f"schedule:      {rule}",
            f"paused:        {paused}",
            f"counts from:   {_when(checkins.window_opens(schedule), zone)}",
            f"next deadline: {_when(schedule.next_deadline, zone)}",
            f"alert at:      {_when(schedule.alert_at, zone)}",
            f"last check-in: {_when(schedule.last_checkin_at, zone)}",
            f"PINs:          {_pins_state(schedule)}",
        ]
        lock = checkins.lock_state(schedule)
        if lock is not None:
            lines.append(
                f"locked until:  {_when(lock.locked_until, zone)}, after {lock.failures} "
                f"wrong PINs; {lock.attempts_while_locked} attempt(s) since"
            )
        elif schedule.failed_attempts:
            lines.append(f"wrong PINs:    {schedule.failed_attempts} in a row")
        self.stdout.write("\n".join(lines))

    def _pins(self, person: ProtectedPerson, *, from_stdin: bool) -> None:
        schedule = _schedule(person)
        ask: Callable[[str], str] = _stdin_reader() if from_stdin else getpass.getpass
        pin = _twice(ask, "PIN (4-8 digits): ")
        duress = _twice(ask, "Duress PIN (4-8 digits, empty for none): ")
        checkins.pins_set(actor=None, schedule=schedule, pin=pin, duress_pin=duress or None)
        self.stdout.write(f"PINs of {person} set.")

    def _bind(self, person: ProtectedPerson, options: dict[str, Any]) -> None:
        kind = pins.SENDER_SMS if options["sms"] else pins.SENDER_TELEGRAM
        sender = options["sms"] or options["telegram"]
        if options["revoke"]:
            count = checkin_links.binding_revoke(
                actor=None, person=person, kind=kind, sender=sender
            )
            self.stdout.write(f"{count} {kind} binding(s) of {person} revoked.")
            return
        checkin_links.binding_add(actor=None, person=person, kind=kind, sender=sender)
        self.stdout.write(f"{kind} sender bound to {person}.")


def _pins_state(schedule: CheckinSchedule) -> str:
    if not schedule.pin_hash:
        return "not set"
    return "set, with a duress PIN" if schedule.duress_pin_hash else "set, no duress PIN"


def _stdin_reader() -> Callable[[str], str]:
    def read(prompt: str) -> str:
        del prompt
        line = sys.stdin.readline()
        if not line:
            raise CommandError("Standard input ended before all PINs were read.")
        return line.strip()

    return read


def _twice(ask: Callable[[str], str], prompt: str) -> str:
    first = ask(prompt).strip()
    if ask("Again: ").strip() != first:
        raise CommandError("The two entries differ; nothing was changed.")
    return first
