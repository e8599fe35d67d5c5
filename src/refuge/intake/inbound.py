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

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import formats, timezone, translation
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
    """`code` (a Telegram client's language, e.g. "ru-RU") if the site speaks it, else the
    public pages' language (REFUGE_PUBLIC_LANGUAGE)."""
    base = (code or "").split("-")[0].lower()
    return base if base in SITE_LANGUAGES else str(settings.PUBLIC_LANGUAGE)


def person_language(person: ProtectedPerson) -> str:
    """The first of the person's languages the site speaks, else the public pages' language."""
    for code in person.language_list:
        if code in SITE_LANGUAGES:
            return code
    return str(settings.PUBLIC_LANGUAGE)


def window_text(opens: dt.datetime, deadline: dt.datetime, time_zone: str) -> str:
    """When the next check-in counts, in the person's time zone and the active language:
    "Wednesday, 11 March, from 17:00 to 21:00"."""
    zone = zoneinfo.ZoneInfo(time_zone)
    start, end = timezone.localtime(opens, zone), timezone.localtime(deadline, zone)
    times = {
        "start": formats.date_format(start, "TIME_FORMAT"),
        "end": formats.date_format(end, "TIME_FORMAT"),
    }
    if start.date() == end.date():
        return _("%(day)s, from %(start)s to %(end)s") % {
            "day": formatting.weekday_date(end, in_sentence=True),
            **times,
        }
    return _("from %(start)s (%(start_day)s) to %(end)s (%(end_day)s)") % {
        "start_day": formatting.weekday_date(start, in_sentence=True),
        "end_day": formatting.weekday_date(end, in_sentence=True),
        **times,
    }


def upcoming(opens: dt.datetime, deadline: dt.datetime, time_zone: str) -> str:
    return _("Next check-in: %(window)s.") % {"window": window_text(opens, deadline, time_zone)}


def thanks(result: checkins.CheckinResult) -> str:
    """The answer to a check-in with a right PIN (normal or duress alike): it counted, or it
    came before the window and the person must check in again inside it."""
    if result.next_deadline is None or result.window_opens is None:  # pragma: no cover
        return _("Thank you.")  # an accepted result always has a deadline pending
    window = window_text(result.window_opens, result.next_deadline, result.time_zone)
    if result.early:
        return _("Received, but too early to count. Check in again: %(window)s.") % {
            "window": window
        }
    return _("Thank you. Next check-in: %(window)s.") % {"window": window}


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
    if command.kind == CHECKIN:
        # By the person: the schedule is read once, locked, inside the check-in.
        result = checkins.checkin_submit(person=person, pin=command.pin, channel=channel)
        if result.accepted and person is not None:
            return (lambda: thanks(result)), person_language(person)
    elif command.kind == CANCEL:
        schedule = checkins.schedule_of(person) if person is not None else None
        accepted = checkins.cancel_submit(schedule=schedule, pin=command.pin, channel=channel)
        if accepted and person is not None:
            return cancelled, person_language(person)
    return None
