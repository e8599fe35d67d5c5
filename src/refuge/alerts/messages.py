"""The text of a staff notification, in the recipient's language.

A notification says which emergency, what kind, how urgent, which pseudonyms, and gives two
links: the one-time acknowledgement link and the board. It never carries a legal name, an
address, a phone number, what was heard on a call or the location hint: messages cross servers
Refuge does not control (mail relays, messenger operators). The marker "[E-7F3Q #1a2b3c4d]"
(emergency code, notification id prefix) lets a recipient recognise a repeated delivery.

A duress emergency is announced as an SOS: someone who reads a staff member's messages (a mail
provider, a seized phone) must not learn that a duress PIN was entered. The board says which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from refuge.alerts.models import EmergencySource, Priority

ACK_PATH = "/alerts/ack/{token}/"
BOARD_PATH = "/alerts/"


@dataclass(frozen=True)
class Message:
    title: str
    body: str


def marker(code: str, notification_id: object) -> str:
    return f"[{code} #{str(notification_id).replace('-', '')[:8]}]"


def ack_url(token: str) -> str:
    return settings.PUBLIC_BASE_URL + ACK_PATH.format(token=token)


def board_url() -> str:
    return settings.PUBLIC_BASE_URL + BOARD_PATH


def compose(
    *,
    code: str,
    source: str,
    priority: int,
    pseudonyms: Sequence[str],
    notification_id: object,
    token: str,
    language: str,
) -> Message:
    tag = marker(code, notification_id)
    with translation.override(language or settings.LANGUAGE_CODE):
        shown = EmergencySource.SOS if source == EmergencySource.DURESS else source
        kind = str(EmergencySource(shown).label) if shown in EmergencySource.values else shown
        urgency = str(Priority(priority).label) if priority in Priority.values else str(priority)
        title = _("%(priority)s priority: %(kind)s, %(code)s") % {
            "priority": urgency,
            "kind": kind,
            "code": code,
        }
        who = (
            _("People: %(pseudonyms)s.") % {"pseudonyms": ", ".join(pseudonyms)}
            if pseudonyms
            else _("The caller is not known.")
        )
        lines = [
            _("Emergency %(code)s: %(kind)s.") % {"code": code, "kind": kind},
            _("Priority: %(priority)s.") % {"priority": urgency},
            who,
            "",
            _("Acknowledge (the link works once): %(url)s") % {"url": ack_url(token)},
            _("Open the board: %(url)s") % {"url": board_url()},
            "",
            tag,
        ]
    return Message(title=f"{tag} {title}", body="\n".join(lines))
