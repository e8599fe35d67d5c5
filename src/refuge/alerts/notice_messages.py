"""The text of a security notice on a coordinator's channel, in the coordinator's language.

It says what happened and when, and links to the notices page; never which account, no
address, no name: messages cross servers Refuge does not control (mail relays, messenger
operators), and the page, behind a login, has the rest. The marker "[N #1a2b3c4d]" (the
notice's id) lets a recipient recognise a repeated delivery.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from refuge.accounts.models import SecurityNotice
from refuge.alerts.messages import Message

WHEN_FORMAT = "j E Y, H:i"

Kind = SecurityNotice.Kind
EXPLANATIONS = {
    Kind.LOGIN_LOCKED_OUT: gettext_lazy(
        "Repeated wrong passwords locked a login out. Ask the staff member whether it was them."
    ),
    Kind.SECOND_FACTOR_FAILED: gettext_lazy(
        "A correct password was followed by a wrong second factor: someone else may know "
        "that password."
    ),
    Kind.SECOND_FACTOR_LOCKED_OUT: gettext_lazy(
        "An account was locked after repeated wrong second-factor codes."
    ),
    Kind.NEW_PLACE_LOGIN: gettext_lazy(
        "A staff account signed in from a network it has not used before. Ask the staff "
        "member whether it was them."
    ),
    Kind.SEALED: gettext_lazy(
        "Every process lost access to the keys. Key holders must unseal before identities "
        "can be read again."
    ),
    Kind.UNSEALED: gettext_lazy("Enough key holders entered their shares: the keys are in use."),
    Kind.UNSEAL_SHARE_REFUSED: gettext_lazy(
        "An unseal share was refused (mistyped, from another instance, or entered twice)."
    ),
}


def marker(notice_id: object) -> str:
    return f"[N #{str(notice_id).replace('-', '')[:8]}]"


def notices_url() -> str:
    return settings.PUBLIC_BASE_URL + reverse("accounts:notice_list")


def compose(
    *, kind: str, notice_id: object, raised_at: dt.datetime, language: str, time_zone: str
) -> Message:
    tag = marker(notice_id)
    try:
        zone = zoneinfo.ZoneInfo(time_zone or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    with translation.override(language or settings.LANGUAGE_CODE):
        what = str(Kind(kind).label) if kind in Kind.values else kind
        when = formats.date_format(timezone.localtime(raised_at, zone), WHEN_FORMAT)
        lines = [
            _("Security notice: %(what)s.") % {"what": what},
            _("When: %(when)s (%(zone)s).") % {"when": when, "zone": zone.key},
        ]
        if kind in EXPLANATIONS:
            lines.append(str(EXPLANATIONS[Kind(kind)]))
        lines += [
            "",
            _("Open the security notices: %(url)s") % {"url": notices_url()},
            "",
            tag,
        ]
        title = _("Security notice: %(what)s") % {"what": what}
    return Message(title=f"{tag} {title}", body="\n".join(lines))
