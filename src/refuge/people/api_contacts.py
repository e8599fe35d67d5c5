"""JSON endpoints for the log of contacts with relatives at risk.

The log is relative data: it is served only to those who may see the relative (and so the
person's identity), after the same re-authentication or `--reveal` token as the relatives, and
every read is audited. Entries are added, never edited; only their follow-up flag is cleared.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from refuge.accounts import stepup, tokens
from refuge.accounts.api import Fetch, InputSchema, actor, responses
from refuge.accounts.models import User
from refuge.core.errors import DomainError
from refuge.people import selectors, services, validation
from refuge.people.models import ContactChannel, ContactDirection, RelativeContact
from refuge.people.services import contacts
from refuge.security import access

router = Router(tags=["people"])


class RelativeContactOut(Schema):
    id: UUID
    relative: UUID
    occurred_at: dt.datetime
    channel: ContactChannel
    direction: ContactDirection
    staff: UUID = Field(description="Who on staff had the contact.")
    staff_username: str
    summary: str | None
    follow_up_needed: bool
    created_at: dt.datetime


class RelativeContactIn(InputSchema):
    occurred_at: dt.datetime = Field(description="When the contact took place (with time zone).")
    channel: ContactChannel
    direction: ContactDirection
    summary: str | None = Field(None, max_length=validation.MAX_NOTES)
    staff: UUID | None = Field(
        None,
        description="Who on staff had the contact; you when left out. They must be allowed to "
        "see the relative.",
    )
    follow_up_needed: bool = False


def _contact_out(contact: RelativeContact) -> RelativeContactOut:
    return RelativeContactOut(
        id=contact.pk,
        relative=contact.relative_id,
        occurred_at=contact.occurred_at,
        channel=ContactChannel(contact.channel),
        direction=ContactDirection(contact.direction),
        staff=contact.staff_id,
        staff_username=contact.staff.get_username(),
        summary=contact.summary,
        follow_up_needed=contact.follow_up_needed,
        created_at=contact.created_at,
    )


def _contact(user: Any, contact_id: UUID, action: str) -> RelativeContact:
    return selectors.relative_contact_get(actor=user, contact_id=contact_id, action=action)


PATH_OBJECTS: dict[str, Fetch] = {"contact_id": _contact}


def _staff(relative_staff: list[User], staff_id: UUID | None) -> User | None:
    if staff_id is None:
        return None
    for user in relative_staff:
        if user.pk == staff_id:
            return user
    raise DomainError(
        _("Please correct the errors below."),
        field_errors={"staff": [_("Choose a staff member who may see this relative.")]},
    )


@router.get(
    "/relatives/{relative_id}/contacts",
    response=responses(200, list[RelativeContactOut]),
    summary="The contact log of a relative at risk, newest first (audited)",
)
def relative_contact_list(request: HttpRequest, relative_id: UUID) -> list[RelativeContactOut]:
    user = actor(request)
    relative = selectors.relative_get(actor=user, relative_id=relative_id)
    stepup.api_require_step_up(request, token_scope=tokens.REVEAL_SCOPE)
    log = selectors.relative_contacts(actor=user, relatives=[relative])[relative.pk]
    services.person_identity_viewed(
        actor=user, person=relative.person, purpose="api:relative_contacts"
    )
    return [_contact_out(contact) for contact in log]


@router.post(
    "/relatives/{relative_id}/contacts",
    response=responses(201, RelativeContactOut),
    summary="Log a contact with a relative at risk",
)
def relative_contact_create(
    request: HttpRequest, relative_id: UUID, payload: RelativeContactIn
) -> Status[RelativeContactOut]:
    user = actor(request)
    relative = selectors.relative_get(actor=user, relative_id=relative_id, action=access.EDIT)
    selectors.person_get(actor=user, person_id=relative.person_id, action=access.EDIT)
    contact = contacts.relative_contact_log(
        actor=user,
        relative=relative,
        occurred_at=payload.occurred_at,
        channel=payload.channel,
        direction=payload.direction,
        summary=payload.summary,
        staff=_staff(selectors.relative_contact_staff(relative=relative), payload.staff),
        follow_up_needed=payload.follow_up_needed,
    )
    return Status(201, _contact_out(contact))


@router.post(
    "/relative-contacts/{contact_id}/followed-up",
    response=responses(200, RelativeContactOut),
    summary="Mark a contact as followed up (clears its follow-up flag)",
)
def relative_contact_followed_up(request: HttpRequest, contact_id: UUID) -> RelativeContactOut:
    user = actor(request)
    contact = _contact(user, contact_id, access.EDIT)
    selectors.person_get(actor=user, person_id=contact.relative.person_id, action=access.EDIT)
    return _contact_out(contacts.relative_contact_follow_up_done(actor=user, contact=contact))
