"""Text commands from SMS and Telegram, and the replies they get.

Commands (case-insensitive): "SOS" or "/sos"; a PIN, "CHECKIN <PIN>" or "/checkin <PIN>";
"CANCEL <PIN>" or "/cancel <PIN>" (Russian "СОС" and "ОТМЕНА <PIN>" too). Telegram's "/start"
answers with the chat's code, which staff bind with `refuge checkin bind`. On Telegram, a staff
member acknowledges an emergency by replying "ack E-7F3Q" from the chat of one of their
notification channels; from any other chat the reply is the usual "Not accepted".

A sender nobody bound gets exactly the replies a bound sender gets for the same text, unless
that text holds the bound person's right PIN: replies that do not need the PIN are in the
language the sender's client reports (or the site's default), never the bound person's, and a
check-in from an unknown sender hashes a PIN like any other. An SOS from an unknown sender is
raised as an unknown caller's.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from refuge.alerts.models import Checkin, StaffChannel
from refuge.alerts.services import checkin_links, checkins, response
from refuge.core import formatting
from refuge.people.models import ProtectedPerson

SOS = "sos"
ACK = "ack"
CHECKIN = "checkin"
CANCEL = "cancel"
START = "start"
UNKNOWN = "unknown"
SITE_LANGUAGES = ("en", "ru")
MAX_TEXT = 1000

_SOS = re.compile(r"^/?(?:sos|сос)[.!]*$")
_CHECKIN = re.compile(r"^(?:/?checkin\s+)?([0-9]+)$")
_CHECKIN_WORD = re.compile(r"^/?checkin\s+(\S+)$")
_CANCEL = re.compile(r"^/?(?:cancel|отмена)\s+(\S+)$")
_START = re.compile(r"^/start(?:\s.*)?$")
_ACK = re.compile(r"^/?(?:ack|ok|ок|принято|принял)\b")


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
    if _ACK.match(words):
        return Command(ACK)
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
    return formatting.until_datetime(local)


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
        reply = _reply_without_pin(
            command,
            source=source,
            sender=sender,
            text=text,
            person=person,
            sender_digest=sender_digest,
            channel=channel,
        )
        if reply is None:
            reply = _reply_with_pin(command, person=person, channel=channel)
        if reply is None:
            with translation.override(hint):
                return not_accepted()
        text_of, language_of = reply
        with translation.override(language_of or hint):
            return text_of()


# The reply's text (made once the language is active) and its language (None: the sender's).
Reply = tuple[Callable[[], str], str | None]


def _reply_without_pin(
    command: Command,
    *,
    source: str,
    sender: str,
    text: str,
    person: ProtectedPerson | None,
    sender_digest: str,
    channel: str,
) -> Reply | None:
    """SOS, a staff acknowledgement, Telegram's /start: (reply, its language) or None."""
    if command.kind == SOS:
        if person is not None:
            checkins.sos_submit(person=person, channel=channel)
        elif sender_digest:
            checkins.sos_from_unknown(sender=sender_digest)
        return received, None
    if source != "telegram":
        return None
    if command.kind == ACK:
        emergency = response.acknowledge_by_reply(
            channel_kind=StaffChannel.Kind.TELEGRAM, sender=sender, text=text
        )
        if emergency is not None:
            code = emergency.code
            return (lambda: _("Acknowledged: %(code)s.") % {"code": code}), None
    if command.kind == START:
        chat = sender.strip()[:24]
        return (lambda: _("Code: %(code)s") % {"code": chat}), None
    return None


def _reply_with_pin(
    command: Command, *, person: ProtectedPerson | None, channel: str
) -> Reply | None:
    """A check-in or a cancellation; replies in the person's language only when the PIN was
    right (normal and duress alike). An unknown sender's PIN is hashed all the same, so the
    time taken does not tell a bound sender from an unknown one."""
    schedule = checkins.schedule_of(person) if person is not None else None
    if command.kind == CHECKIN:
        result = checkins.checkin_submit(schedule=schedule, pin=command.pin, channel=channel)
        if result.accepted and person is not None:
            return (lambda: thanks(result)), person_language(person)
    elif command.kind == CANCEL:
        accepted = checkins.cancel_submit(schedule=schedule, pin=command.pin, channel=channel)
        if accepted and person is not None:
            return cancelled, person_language(person)
    return None
