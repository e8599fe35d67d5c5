"""Correcting an emergency's response times afterwards.

A responder who pressed "On site" twenty minutes late, or a call written down after it came in
with the wrong time: the times are what the response-time report is built from, so they can be
corrected, but never silently. A correction needs a reason; it leaves a TIME_CORRECTED event
("time corrected from X to Y by Z: reason") with the previous time in its facts (so the
original is always on the timeline) and the reason encrypted like a note; and it is audited.

A corrected response time (acknowledged, on the way, on site) lies between the call and the
resolution, and the call time before the emergency was logged and before any response; the
response steps are not ordered among themselves (one pressed late is exactly what is being
corrected). Corrections change the record and the report, never the paging: an
acknowledgement's expiry and the escalation schedule stay as they were.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from refuge.alerts.display import shown_time
from refuge.alerts.models import Emergency, EmergencyEvent, EmergencySource
from refuge.alerts.services import notes
from refuge.core import clock
from refuge.core.errors import DomainError, NotFoundError
from refuge.people import validation
from refuge.security import access, audit

MAX_REASON = 2_000
# The times that can be corrected, in the order they happen, with their names on screen. The
# call time only for a call: an SOS or a missed check-in is timed by the machine.
CORRECTABLE = {
    "reported_at": gettext_lazy("Call time"),
    "acknowledged_at": gettext_lazy("Acknowledged"),
    "en_route_at": gettext_lazy("On the way"),
    "on_site_at": gettext_lazy("On site"),
}
_RESPONSES = ("acknowledged_at", "en_route_at", "on_site_at")


def correctable_fields(emergency: Emergency) -> list[str]:
    """The times of `emergency` that can be corrected now: those that were recorded."""
    return [
        name
        for name in CORRECTABLE
        if getattr(emergency, name) is not None
        and (name != "reported_at" or emergency.source == EmergencySource.CALL)
    ]


def emergency_time_correct(
    *, actor: Any, emergency: Emergency, field: str, at: dt.datetime | None, reason: str
) -> EmergencyEvent:
    """Set one of the emergency's recorded times to `at`, keeping the previous one on the
    timeline with who corrected it and why."""
    errors: dict[str, list[str]] = {}
    reason = validation.clean_text(reason, limit=MAX_REASON, field="reason", errors=errors)
    if not reason and "reason" not in errors:
        errors["reason"] = [_("Say why the time is corrected.")]
    if field not in CORRECTABLE:
        errors["field"] = [_("Choose one of the recorded times.")]
    if at is None or timezone.is_naive(at):
        errors["at"] = [_("Give the correct date and time.")]
    if errors or at is None:
        raise DomainError(_("Please correct the errors below."), field_errors=errors)
    at = at.astimezone(dt.UTC)
    with transaction.atomic():
        if not access.scope(actor, Emergency.objects.filter(pk=emergency.pk)).exists():
            raise NotFoundError
        locked = Emergency.objects.select_for_update().get(pk=emergency.pk)
        previous = _checked(locked, field, at)
        setattr(locked, field, at)
        locked.save(update_fields=[field, "updated_at"])
        facts = {
            "field": field,
            "from": previous.isoformat(),
            "to": at.isoformat(),
            "original": _original(locked, field, previous).isoformat(),
        }
        event = notes.write_note(
            locked, actor=actor, text=reason, kind=EmergencyEvent.Kind.TIME_CORRECTED, facts=facts
        )
        audit.record(
            "refuge.alerts.emergency.time_corrected",
            actor=actor,
            obj=locked,
            detail={"code": locked.code, **facts},  # the reason is encrypted, never here
        )
        return event


def _original(emergency: Emergency, field: str, previous: dt.datetime) -> dt.datetime:
    """The time first recorded for `field`: the one the first correction replaced (carried by
    every correction, so it does not depend on the order of corrections made in one second)."""
    earlier = (
        EmergencyEvent.objects.filter(
            emergency=emergency, kind=EmergencyEvent.Kind.TIME_CORRECTED, data__field=field
        )
        .values_list("data", flat=True)
        .first()
    )
    recorded = parse_datetime(str((earlier or {}).get("original", "")))
    return recorded or previous


def _checked(emergency: Emergency, field: str, at: dt.datetime) -> dt.datetime:
    """The time being replaced; DomainError when `at` cannot replace it."""
    previous: dt.datetime | None = getattr(emergency, field)
    if field not in correctable_fields(emergency) or previous is None:
        raise DomainError(
            _("This time was never recorded, so there is nothing to correct."),
            field_errors={"field": [_("Choose one of the recorded times.")]},
        )
    if at == previous:
        raise _at_error(_("That is the time already recorded."))
    if at > clock.now():
        raise _at_error(_("The corrected time cannot be in the future."))
    if field == "reported_at":
        # A call comes in before it is logged and before anyone responds to it.
        later = [
            t
            for name in ("opened_at", *_RESPONSES, "resolved_at")
            if (t := getattr(emergency, name)) is not None
        ]
        if at > min(later):
            raise _at_error(
                _("The call cannot come in after it was logged or answered (%(time)s).")
                % {"time": shown_time(min(later))}
            )
        return previous
    # The response steps are not ordered among themselves: a responder who says "on site"
    # first is acknowledged at that moment, and either time may be the one that was late.
    if at < emergency.reported_at:
        raise _at_error(
            _("It cannot be earlier than the call (%(time)s).")
            % {"time": shown_time(emergency.reported_at)}
        )
    if emergency.resolved_at is not None and at > emergency.resolved_at:
        raise _at_error(
            _("It cannot be later than the resolution (%(time)s).")
            % {"time": shown_time(emergency.resolved_at)}
        )
    return previous


def _at_error(message: str) -> DomainError:
    return DomainError(_("Please correct the errors below."), field_errors={"at": [message]})
