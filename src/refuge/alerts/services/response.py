"""Staff responding to an emergency: acknowledge, on the way, on site, resolve, notes.

The state machine is open → acknowledged → on the way → on site → resolved. Steps may be skipped
forward (a lawyer who says "on my way" has acknowledged), never backward, except that an
acknowledgement not followed by "on my way" before `ack_expires_at` falls back to open and
escalation resumes (`escalation.ack_expiry_tick`). Resolving is allowed from every active state.
Every action stops the paging (pending notifications are cancelled), is audited and leaves a
timed EmergencyEvent. Whoever may see an emergency may act on it, except resolving, which closes
it for good: `alerts.access.may_resolve` says who may (coordinators, the case team, and an
operator only for an emergency that concerns nobody).

Acknowledgement comes from the UI, from the one-time link in a notification, or by replying
"ack E-7F3Q" on a staff channel; a reply from anyone else is ignored without telling them why.
"""

from __future__ import annotations

import re
import urllib.parse
import uuid
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from refuge.alerts.access import may_resolve
from refuge.alerts.models import (
    ACTIVE_STATES,
    Emergency,
    EmergencyEvent,
    EmergencyState,
    Notification,
    Outcome,
    StaffChannel,
)
from refuge.alerts.services import escalation, notes
from refuge.core import clock
from refuge.core.errors import DomainError, NotFoundError
from refuge.people import validation
from refuge.security import access, audit

MAX_NOTE = 20_000
MAX_TOKEN = 200
MIN_SENDER = 3
_REPLY_RE = re.compile(
    r"^\s*(?:ack|ok|ок|принято|принял)\W*\s+(E-[A-Z0-9]{4,10})\W*$", re.IGNORECASE
)
# Outcomes staff may choose; "cancelled by the person" is the person's own, from their page.
STAFF_OUTCOMES = tuple(o for o in Outcome.values if o != Outcome.CANCELLED_BY_PERSON)


class ResolveRefusedError(DomainError):
    """The actor may see the emergency but not resolve it (HTTP 403 in the API)."""


RESOLVE_REFUSED = gettext_lazy(
    "Only a coordinator or the case team can resolve an emergency about a person or a case; "
    "an operator can resolve only an unknown caller's. Add a note and tell them."
)


def _locked(actor: Any, emergency: Emergency) -> Emergency:
    """The emergency, locked for update, if `actor` may see it (else NotFoundError)."""
    visible = access.scope(actor, Emergency.objects.filter(pk=emergency.pk))
    if not visible.exists():
        raise NotFoundError
    return Emergency.objects.select_for_update().get(pk=emergency.pk)


def _refuse_resolved(emergency: Emergency) -> None:
    if emergency.state not in ACTIVE_STATES:
        raise DomainError(_("This emergency is resolved already."))


def _done(emergency: Emergency, kind: str, actor: Any, action: str, **data: Any) -> None:
    escalation.event(emergency, kind, actor=actor, data=data)
    audit.record(
        f"refuge.alerts.emergency.{action}",
        actor=actor,
        obj=emergency,
        detail={"code": emergency.code, **data},
    )


def _take_over(emergency: Emergency, actor: Any) -> None:
    """First acknowledgement wins the timestamp; paging stops."""
    if emergency.acknowledged_at is None:
        emergency.acknowledged_at = clock.now()
        emergency.acknowledged_by = actor
    escalation.cancel_pending(emergency)


def _acknowledge(emergency: Emergency, actor: Any, *, via: str) -> Emergency:
    if emergency.state != EmergencyState.OPEN:
        return emergency  # acknowledged (or further) already: nothing to do
    _take_over(emergency, actor)
    emergency.state = EmergencyState.ACKNOWLEDGED
    emergency.ack_expires_at = clock.now() + escalation.en_route_within(emergency)
    emergency.save()
    _done(emergency, EmergencyEvent.Kind.ACKNOWLEDGED, actor, "acknowledged", via=via)
    return emergency


# How an acknowledgement arrived (the event's "via"): the staff pages, the API, the one-time
# link in a notification, or a reply on a staff channel ("reply:<channel kind>").
VIA_UI = "ui"
VIA_API = "api"
VIA_LINK = "link"
VIA_REPLY = "reply"


def emergency_acknowledge(*, actor: Any, emergency: Emergency, via: str = VIA_UI) -> Emergency:
    """ "I have it": stops the paging until "on my way" is due (the policy's time)."""
    if via not in {VIA_UI, VIA_API}:
        raise ValueError(f"unknown acknowledgement interface {via!r}")
    with transaction.atomic():
        locked = _locked(actor, emergency)
        _refuse_resolved(locked)
        return _acknowledge(locked, actor, via=via)


def emergency_acknowledge_by_token(token: str) -> Emergency:
    """The one-time link in a notification. It works once; a used, unknown or malformed token,
    or one whose recipient left, is NotFoundError."""
    if not token or len(token) > MAX_TOKEN:
        raise NotFoundError
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update()
            .select_related("recipient")
            .filter(ack_token_digest=escalation.token_digest(token))
            .first()
        )
        if notification is None or not notification.recipient.is_active:
            raise NotFoundError
        # Burn the link: the stored digest no longer matches any token anyone holds.
        notification.ack_token_digest = escalation.token_digest(f"used:{uuid.uuid4()}")
        notification.save(update_fields=["ack_token_digest"])
        emergency = Emergency.objects.select_for_update().get(pk=notification.emergency_id)
        if emergency.state != EmergencyState.OPEN:
            return emergency
        return _acknowledge(emergency, notification.recipient, via=VIA_LINK)


def acknowledge_by_reply(*, channel_kind: str, sender: str, text: str) -> Emergency | None:
    """A staff member's reply ("ack E-7F3Q") on one of their channels. Anything else, from
    anyone else, about an emergency they may not see, returns None and changes nothing."""
    match = _REPLY_RE.match(text or "")
    sender = (sender or "").strip()
    if match is None or len(sender) < MIN_SENDER or channel_kind not in StaffChannel.Kind.values:
        return None
    code = match.group(1).upper()
    candidates = StaffChannel.objects.filter(
        Q(target__iexact=sender) | Q(target__icontains=sender),
        kind=channel_kind,
        active=True,
        user__is_active=True,
    ).select_related("user")
    users = {c.user_id: c.user for c in candidates if _target_matches(c.target, sender)}
    for user in users.values():
        visible = access.scope(user, Emergency.objects.filter(code=code, state__in=ACTIVE_STATES))
        pk = visible.values_list("pk", flat=True).first()
        if pk is None:
            continue
        with transaction.atomic():
            emergency = Emergency.objects.select_for_update().get(pk=pk)
            if emergency.state not in ACTIVE_STATES:
                return None
            return _acknowledge(emergency, user, via=f"{VIA_REPLY}:{channel_kind}")
    return None


def _target_matches(target: str, sender: str) -> bool:
    """Is `sender` the address of a channel whose target is `target` (an address or an Apprise
    URL: the sender is then one of its path parts or its "to" recipients)?"""
    wanted = sender.casefold()
    if target.strip().casefold() == wanted:
        return True
    parts = urllib.parse.urlsplit(target)
    path = [urllib.parse.unquote(p).casefold() for p in parts.path.split("/") if p]
    host = urllib.parse.unquote(parts.netloc.rsplit("@", 1)[-1]).casefold()
    recipients = [
        r.strip().casefold()
        for value in urllib.parse.parse_qs(parts.query).get("to", [])
        for r in value.split(",")
    ]
    return wanted in path or wanted in recipients or wanted == host


def emergency_en_route(*, actor: Any, emergency: Emergency) -> Emergency:
    """ "On my way": the acknowledgement no longer expires."""
    with transaction.atomic():
        locked = _locked(actor, emergency)
        _refuse_resolved(locked)
        if locked.state not in {EmergencyState.OPEN, EmergencyState.ACKNOWLEDGED}:
            raise DomainError(_("Someone is on the way or on site already."))
        _take_over(locked, actor)
        locked.state = EmergencyState.EN_ROUTE
        locked.en_route_at = clock.now()
        locked.ack_expires_at = None
        locked.save()
        _done(locked, EmergencyEvent.Kind.EN_ROUTE, actor, "en_route")
        return locked


def emergency_on_site(*, actor: Any, emergency: Emergency) -> Emergency:
    with transaction.atomic():
        locked = _locked(actor, emergency)
        _refuse_resolved(locked)
        if locked.state == EmergencyState.ON_SITE:
            raise DomainError(_("A responder is on site already."))
        _take_over(locked, actor)
        locked.state = EmergencyState.ON_SITE
        locked.on_site_at = clock.now()
        locked.ack_expires_at = None
        locked.save()
        _done(locked, EmergencyEvent.Kind.ON_SITE, actor, "on_site")
        return locked


def emergency_resolve(
    *, actor: Any, emergency: Emergency, outcome: str, note: str = ""
) -> Emergency:
    errors: dict[str, list[str]] = {}
    if outcome not in STAFF_OUTCOMES:
        errors["outcome"] = [_("Choose an outcome from the list.")]
    note = validation.clean_text(note, limit=MAX_NOTE, field="note", errors=errors)
    if errors:
        raise DomainError(_("Please correct the errors below."), field_errors=errors)
    with transaction.atomic():
        locked = _locked(actor, emergency)
        _refuse_resolved(locked)
        if not may_resolve(actor, locked):
            raise ResolveRefusedError(str(RESOLVE_REFUSED))
        escalation.cancel_pending(locked)
        locked.state = EmergencyState.RESOLVED
        locked.outcome = outcome
        locked.resolved_at = clock.now()
        locked.resolved_by = actor
        locked.next_escalation_at = None
        locked.ack_expires_at = None
        sealed_note = bool(note) and not notes.keys_open(locked, "data_key")
        locked.resolution_note = None if sealed_note else (note or None)
        locked.save()
        if sealed_note:
            notes.write_note(locked, actor=actor, text=note, field=notes.FIELD_RESOLUTION_NOTE)
        _done(locked, EmergencyEvent.Kind.RESOLVED, actor, "resolved", outcome=outcome)
        return locked


def emergency_add_note(*, actor: Any, emergency: Emergency, text: str) -> EmergencyEvent:
    """A note on the emergency's timeline, encrypted under a data key of its own (an event's
    `data` is plain text otherwise), so notes can be written while sealed. Read it back with
    `event_note`."""
    errors: dict[str, list[str]] = {}
    text = validation.clean_text(text, limit=MAX_NOTE, field="text", errors=errors)
    if not text:
        errors.setdefault("text", []).append(_("Write the note first."))
    if errors:
        raise DomainError(_("Please correct the errors below."), field_errors=errors)
    with transaction.atomic():
        locked = _locked(actor, emergency)
        note = notes.write_note(locked, actor=actor, text=text)
        audit.record(
            "refuge.alerts.emergency.noted",
            actor=actor,
            obj=locked,
            detail={"code": locked.code, "event": str(note.pk)},
        )
        return note


def event_note(note: EmergencyEvent) -> str | None:
    """The text of a note event (the caller has fetched the event through access)."""
    return notes.event_note(note)
