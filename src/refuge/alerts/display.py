"""How the emergency line's values read on screen: translated labels for every stored code (a
channel kind, how an acknowledgement arrived, a delivery state), staff names, times and elapsed
durations. Pages and the API use the same words; no raw value reaches a person."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from refuge.alerts.models import Checkin, Notification, StaffChannel

SECONDS_PER_MINUTE = 60
SECONDS_PER_HOUR = 3600
SECONDS_PER_DAY = 86400

VIA_LABELS = {
    "ui": gettext_lazy("staff interface"),
    "api": gettext_lazy("API"),
    "link": gettext_lazy("link in the notification"),
}


def staff_name(user: Any) -> str:
    """A staff member as colleagues know them: their full name, else their username."""
    if user is None:
        return _("system")
    return str(user.get_full_name() or user.get_username())


def shown_time(value: dt.datetime | None) -> str:
    """A time in the viewer's time zone and the language's date-and-time format."""
    if value is None:
        return "—"
    return str(formats.date_format(timezone.localtime(value), "DATETIME_FORMAT"))


def elapsed(value: dt.timedelta | None) -> str:
    """A duration as staff read it on a board: "4 min 07 s", "1 h 05 min", "2 d 3 h"."""
    if value is None:
        return "—"
    seconds = max(int(value.total_seconds()), 0)
    days, rest = divmod(seconds, SECONDS_PER_DAY)
    hours, rest = divmod(rest, SECONDS_PER_HOUR)
    minutes, secs = divmod(rest, SECONDS_PER_MINUTE)
    if days:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}
    if minutes:
        return _("%(minutes)d min %(seconds)02d s") % {"minutes": minutes, "seconds": secs}
    return _("%(seconds)d s") % {"seconds": secs}


def channel_label(kind: str) -> str:
    """A staff notification channel's kind: "e-mail", "Telegram", ..."""
    if not kind:
        return _("no channel")
    labels = dict(StaffChannel.Kind.choices)
    return str(labels.get(kind, _("another channel")))


def intake_channel_label(channel: str) -> str:
    """Where a protected person's message came in: "Web page", "SMS gateway", "Telegram"."""
    labels = dict(Checkin.Channel.choices)
    return str(labels.get(channel, _("another channel")))


def via_label(via: str) -> str:
    """How an acknowledgement arrived."""
    kind, _sep, channel = via.partition(":")
    if kind == "reply":
        return _("reply on %(channel)s") % {"channel": channel_label(channel)}
    return str(VIA_LABELS.get(kind, _("another way")))


def delivery_label(state: str, attempts: int) -> str:
    """What became of a notification."""
    if state == Notification.State.PENDING:
        return _("failed, retrying") if attempts else _("waiting to be sent")
    labels: dict[str, str] = {
        Notification.State.SENT: _("sent"),
        Notification.State.FAILED: _("failed (the recipient's account is closed)"),
        Notification.State.CANCELLED: _("cancelled (acknowledged or resolved first)"),
    }
    return labels.get(state, _("unknown"))
