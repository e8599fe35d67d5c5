"""Text commands from SMS and Telegram, and the replies they get.

Commands (case-insensitive): "SOS" or "/sos"; a PIN, "CHECKIN <PIN>" or "/checkin <PIN>";
"CANCEL <PIN>" or "/cancel <PIN>" (Russian "СОС" and "ОТМЕНА <PIN>" too). Telegram's "/start"
answers with the chat's code, which staff bind with `refuge checkin bind`.

A sender nobody bound gets exactly the replies a bound sender gets for the same text, unless
that text holds the bound person's right PIN: replies that do not need the PIN are in the
language the sender's client reports (or the site's default), never the bound person's, and a
check-in from an unknown sender hashes a PIN like any other. An SOS from an unknown sender is
raised as an unknown caller's.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from refuge.alerts.models import Checkin
from refuge.alerts.services import checkin_links, checkins
from refuge.people.models import ProtectedPerson

SOS = "sos"
CHECKIN = "checkin"
CANCEL = "cancel"
START = "start"
UNKNOWN = "unknown"
SITE_LANGUAGES = ("en", "ru")
DEADLINE_FORMAT = "l, j E, H:i"
MAX_TEXT = 1000

_SOS = re.compile(r"^/?(?:sos|сос)[.!]*$")
_CHECKIN = re.compile(r"^(?:/?checkin\s+)?([0-9]+)$")
_CHECKIN_WORD = re.compile(r"^/?checkin\s+(\S+)$")
_CANCEL = re.compile(r"^/?(?:cancel|отмена)\s+(\S+)$")
_START = re.compile(r"^/start(?:\s.*)?$")


@dataclass(frozen=True)
class Command:
    kind: str
    pin: str = ""

    @property
    def carries_pin(self) -> bool:
        return self.kind in {CHECKIN, CANCEL}


def parse(text: str) -> Command:
    words = " ".join((text or "")[:MAX_TEXT].split()).casefold()
    if _SOS.match(words):
        return Command(SOS)
    if match := _CHECKIN.match(words) or _CHECKIN_WORD.match(words):
        return Command(CHECKIN, match.group(1))
    if match := _CANCEL.match(words):
        return Command(CANCEL, match.group(1))
    if _START.match(words):
        return Command(START)
    return Command(UNKNOWN)


def site_language(code: str | None) -> str:
    """`code` (a client's language, e.g. "ru-RU") if the site speaks it, else the default."""
    base = (code or "").split("-")[0].lower()
    return base if base in SITE_LANGUAGES else settings.LANGUAGE_CODE


def person_language(person: ProtectedPerson) -> str:
    """The first of the person's languages the site speaks, else the site's default."""
    for code in person.language_list:
        if code in SITE_LANGUAGES:
            return code
    return str(settings.LANGUAGE_CODE)


def deadline_text(result: checkins.CheckinResult) -> str:
    """The next deadline in the person's time zone, spelled out in the active language."""
    if result.next_deadline is None:  # pragma: no cover - an accepted result always has one
        return ""
    local = timezone.localtime(result.next_deadline, zoneinfo.ZoneInfo(result.time_zone))
    return formats.date_format(local, DEADLINE_FORMAT)


def thanks(result: checkins.CheckinResult) -> str:
    return _("Thank you. Next check-in by %(deadline)s.") % {"deadline": deadline_text(result)}


def received() -> str:
    return _("Received. Help is being arranged.")


def cancelled() -> str:
    return _("Cancelled.")


def not_accepted() -> str:
    return _("Not accepted.")


def handle(
    *,
    source: str,
    sender_kind: str,
    sender: str,
    text: str,
    message_id: str,
    language: str | None = None,
) -> str | None:
    """Act on one inbound message and return the reply; None if the message id was seen before
    (a replay: nothing is done). Atomic: if anything fails, the message id is not kept either,
    so the gateway's retry is handled."""
    channel = Checkin.Channel.TELEGRAM if source == "telegram" else Checkin.Channel.WEBHOOK
    hint = site_language(language)
    with transaction.atomic():
        if not checkin_links.inbound_accept(source=source, message_id=message_id):
            return None
        person, sender_digest = checkin_links.binding_person(sender_kind, sender)
        command = parse(text)
        if command.kind == SOS:
            if person is not None:
                checkins.sos_submit(person=person, channel=channel)
            elif sender_digest:
                checkins.sos_from_unknown(sender=sender_digest)
            with translation.override(hint):
                return received()
        if command.kind == START and source == "telegram":
            with translation.override(hint):
                return _("Code: %(code)s") % {"code": sender.strip()[:24]}
        schedule = checkins.schedule_of(person) if person is not None else None
        if command.kind == CHECKIN:
            result = checkins.checkin_submit(schedule=schedule, pin=command.pin, channel=channel)
            if result.accepted and person is not None:
                with translation.override(person_language(person)):
                    return thanks(result)
        elif command.kind == CANCEL:
            accepted = checkins.cancel_submit(schedule=schedule, pin=command.pin, channel=channel)
            if accepted and person is not None:
                with translation.override(person_language(person)):
                    return cancelled()
        with translation.override(hint):
            return not_accepted()
