"""The log of contacts with relatives at risk. Additive: an entry is never edited, only its
follow-up flag is cleared. Atomic and audited; audit details name the channel, the direction
and the people involved, never the summary (encrypted under the entry's own data key)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from refuge.accounts.models import User
from refuge.core import clock
from refuge.core.errors import DomainError
from refuge.people import validation
from refuge.people.models import ContactChannel, ContactDirection, Relative, RelativeContact
from refuge.people.services import PERSON_EDITORS
from refuge.security import access, audit

# Clocks drift and a contact is often logged right after it ended; beyond this it is an error.
FUTURE_SLACK = dt.timedelta(minutes=5)
OLDEST_CONTACT_YEAR = 1990


def _require_logger(actor: Any) -> None:
    if actor.role not in PERSON_EDITORS:
        raise DomainError(_("Your role cannot log contacts with relatives."))


def _clean(
    *,
    relative: Relative,
    occurred_at: dt.datetime | None,
    channel: str,
    direction: str,
    summary: str | None,
    staff: User,
) -> tuple[str, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    if channel not in ContactChannel.values:
        errors.setdefault("channel", []).append(_("Choose a channel from the list."))
    if direction not in ContactDirection.values:
        errors.setdefault("direction", []).append(_("Say who contacted whom."))
    if occurred_at is None:
        errors.setdefault("occurred_at", []).append(_("Say when the contact took place."))
    elif occurred_at > clock.now() + FUTURE_SLACK:
        errors.setdefault("occurred_at", []).append(_("This time is in the future."))
    elif occurred_at.year < OLDEST_CONTACT_YEAR:
        errors.setdefault("occurred_at", []).append(_("This time is too far in the past."))
    text = validation.clean_text(
        summary, limit=validation.MAX_NOTES, field="summary", errors=errors
    )
    # Whoever had the contact knows about the relative: they must be allowed to.
    if not staff.is_active or not access.can_reveal(staff, relative):
        errors.setdefault("staff", []).append(_("Choose a staff member who may see this relative."))
    return text, errors


def relative_contact_log(
    *,
    actor: Any,
    relative: Relative,
    occurred_at: dt.datetime | None,
    channel: str,
    direction: str,
    summary: str | None = None,
    staff: User | None = None,
    follow_up_needed: bool = False,
) -> RelativeContact:
    """Log a contact with a relative the caller fetched through access (action=EDIT).
    `staff`: who had the contact; the actor when not given."""
    _require_logger(actor)
    staff = staff or actor
    text, errors = _clean(
        relative=relative,
        occurred_at=occurred_at,
        channel=channel,
        direction=direction,
        summary=summary,
        staff=staff,
    )
    if errors or occurred_at is None:
        raise DomainError(_("Please correct the errors below."), field_errors=errors)
    with transaction.atomic():
        contact = RelativeContact(
            relative=relative,
            occurred_at=occurred_at,
            channel=channel,
            direction=direction,
            staff=staff,
            recorded_by=actor,
            follow_up_needed=follow_up_needed,
        )
        contact.summary = text or None
        contact.save(force_insert=True)
        audit.record(
            "refuge.people.relative_contact.logged",
            actor=actor,
            obj=contact,
            detail={
                "relative": str(relative.pk),
                "person": str(relative.person_id),
                "channel": channel,
                "direction": direction,
                "staff": str(staff.pk),
                "follow_up_needed": follow_up_needed,
            },
        )
    return contact


def relative_contact_follow_up_done(*, actor: Any, contact: RelativeContact) -> RelativeContact:
    """Clear the follow-up flag of a contact fetched through access (action=EDIT)."""
    _require_logger(actor)
    if not contact.follow_up_needed:
        raise DomainError(_("This contact was not waiting for a follow-up."))
    with transaction.atomic():
        contact.follow_up_needed = False
        contact.save(update_fields=["follow_up_needed", "updated_at"])
        audit.record(
            "refuge.people.relative_contact.followed_up",
            actor=actor,
            obj=contact,
            detail={"relative": str(contact.relative_id)},
        )
    return contact
