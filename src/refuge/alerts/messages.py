"""The text of a staff notification, in the recipient's language.

A notification says which emergency, what kind, how urgent, which pseudonyms, and gives two
links: the one-time acknowledgement link and the board. It never carries a legal name, an
address, a phone number, what was heard on a call or the location hint: messages cross servers
Refuge does not control (mail relays, messenger operators). The marker "[E-7F3Q #1a2b3c4d]"
(emergency code, notification id prefix) lets a recipient recognise a repeated delivery.

Several notifications due at once for one recipient on one channel go out as one message
(`compose_bundle`): in a surge a pager that rings a thousand times is no pager, and messengers
limit how often a bot may write to one chat (Telegram: about one message a second). Each
emergency in it keeps its own lines, link and marker.

A duress emergency is announced as an SOS: someone who reads a staff member's messages (a mail
provider, a seized phone) must not learn that a duress PIN was entered. The board says which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from refuge.alerts.models import EmergencySource, Priority

ACK_PATH = "/alerts/ack/{token}/"
BOARD_PATH = "/alerts/"
# How many emergencies one message may carry, by channel kind (a message must stay readable and
# inside the messenger's size limit: Telegram 4,096 characters). Webhooks feed machines that
# expect one emergency per request: never bundled.
BUNDLE_LIMITS = {"email": 50, "telegram": 15, "signal": 15, "matrix": 25}
BUNDLE_TITLE_CODES = 5


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


@dataclass(frozen=True)
class Item:
    """One notification's part of a message."""

    code: str
    source: str
    priority: int
    pseudonyms: Sequence[str]
    notification_id: object
    token: str


def _kind(source: str) -> str:
    shown = EmergencySource.SOS if source == EmergencySource.DURESS else source
    return str(EmergencySource(shown).label) if shown in EmergencySource.values else shown


def _urgency(priority: int) -> str:
    return str(Priority(priority).label) if priority in Priority.values else str(priority)


def _who(item: Item) -> str:
    if item.pseudonyms:
        return _("People: %(pseudonyms)s.") % {"pseudonyms": ", ".join(item.pseudonyms)}
    return _("The caller is not known.")


def _ack_line(item: Item) -> str:
    return _("Acknowledge (the link works once): %(url)s") % {"url": ack_url(item.token)}


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
    item = Item(code, source, priority, pseudonyms, notification_id, token)
    return compose_item(item, language=language)


def compose_item(item: Item, *, language: str) -> Message:
    tag = marker(item.code, item.notification_id)
    with translation.override(language or settings.LANGUAGE_CODE):
        kind, urgency = _kind(item.source), _urgency(item.priority)
        title = _("%(priority)s priority: %(kind)s, %(code)s") % {
            "priority": urgency,
            "kind": kind,
            "code": item.code,
        }
        lines = [
            _("Emergency %(code)s: %(kind)s.") % {"code": item.code, "kind": kind},
            _("Priority: %(priority)s.") % {"priority": urgency},
            _who(item),
            "",
            _ack_line(item),
            _("Open the board: %(url)s") % {"url": board_url()},
            "",
            tag,
        ]
    return Message(title=f"{tag} {title}", body="\n".join(lines))


def compose_bundle(items: Sequence[Item], *, language: str) -> Message:
    """One message for several emergencies, most urgent first; one item is `compose_item`."""
    if len(items) == 1:
        return compose_item(items[0], language=language)
    ordered = sorted(items, key=lambda item: (-item.priority, item.code))
    first = ordered[0]
    tag = f"[{first.code} +{len(ordered) - 1} #{str(first.notification_id).replace('-', '')[:8]}]"
    with translation.override(language or settings.LANGUAGE_CODE):
        codes = ", ".join(item.code for item in ordered[:BUNDLE_TITLE_CODES])
        if len(ordered) > BUNDLE_TITLE_CODES:
            codes += ", …"
        count = len(ordered)
        title = ngettext(
            "%(count)d emergency, highest priority %(priority)s: %(codes)s",
            "%(count)d emergencies, highest priority %(priority)s: %(codes)s",
            count,
        ) % {"count": count, "priority": _urgency(first.priority), "codes": codes}
        lines = [
            ngettext(
                "%(count)d emergency needs a response. Acknowledge it with its own link, "
                'or reply "ack" and its code.',
                "%(count)d emergencies need a response. Acknowledge each with its own link, "
                'or reply "ack" and its code.',
                count,
            )
            % {"count": count},
            "",
        ]
        for item in ordered:
            lines += [
                _("Emergency %(code)s: %(kind)s, priority %(priority)s.")
                % {
                    "code": item.code,
                    "kind": _kind(item.source),
                    "priority": _urgency(item.priority),
                },
                _who(item),
                _ack_line(item),
                marker(item.code, item.notification_id),
                "",
            ]
        lines.append(_("Open the board: %(url)s") % {"url": board_url()})
    return Message(title=f"{tag} {title}", body="\n".join(lines))
