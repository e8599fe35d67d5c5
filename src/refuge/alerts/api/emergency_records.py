"""JSON endpoints of what an emergency records: its timed events (with every fact explained,
as on its page), notes, who was paged and what became of each page, and corrections of its
response times.

The emergency is fetched through refuge.alerts.selectors_emergencies (need-to-know via
security.access.scope); one the caller may not see answers 404, like one that does not exist.
"""

from __future__ import annotations

from uuid import UUID

from django.http import HttpRequest
from ninja import Router, Status

from refuge.accounts.api import actor, responses
from refuge.accounts.models import User
from refuge.alerts import display
from refuge.alerts import selectors_timeline as timeline
from refuge.alerts.api.emergencies import _emergency, _out
from refuge.alerts.api.emergency_schemas import (
    EmergencyOut,
    EventOut,
    FactOut,
    NoteIn,
    PagingOut,
    TimeCorrectionIn,
)
from refuge.alerts.models import Emergency, EmergencyEvent
from refuge.alerts.services import corrections, response
from refuge.cases.api.schemas import UserRefOut
from refuge.security import access

router = Router(tags=["emergency line"])

# Event data shown to clients: structured facts only (a note's ciphertext and key stay inside;
# whether a cancelling PIN was the duress PIN never leaves the page of the line).
EVENT_DATA_KEYS = (
    "source",
    "priority",
    "late",
    "people",
    "step",
    "round",
    "target",
    "recipients",
    "fallback",
    "recipient",
    "channel",
    "attempt",
    "next_attempt_at",
    "via",
    "field",
    "outcome",
    "from",
    "to",
    "original",
)


def _event_out(row: timeline.TimelineRow) -> EventOut:
    event = row.event
    data = event.data or {}
    return EventOut(
        id=event.pk,
        kind=EmergencyEvent.Kind(event.kind),
        at=event.at,
        actor=event.actor.get_username() if event.actor else None,
        actor_name=display.staff_name(event.actor),
        data={**{key: data[key] for key in EVENT_DATA_KEYS if key in data}, **row.extra},
        facts=[FactOut(label=label, value=value) for label, value in row.facts],
        note=row.note,
        sealed=row.sealed,
    )


def _timeline(user: User, emergency: Emergency) -> list[timeline.TimelineRow]:
    return timeline.emergency_timeline(actor=user, emergency=emergency)


@router.get(
    "/emergencies/{emergency_id}/events",
    response=responses(200, list[EventOut]),
    summary="Every timed step of an emergency, oldest first, with its facts in words",
)
def emergency_events(request: HttpRequest, emergency_id: UUID) -> list[EventOut]:
    user = actor(request)
    emergency = _emergency(user, emergency_id, access.VIEW)
    return [_event_out(row) for row in _timeline(user, emergency)]


@router.post(
    "/emergencies/{emergency_id}/notes",
    response=responses(201, EventOut),
    summary="Add a note (encrypted) to the emergency's events",
)
def emergency_note(request: HttpRequest, emergency_id: UUID, payload: NoteIn) -> Status[EventOut]:
    user = actor(request)
    emergency = _emergency(user, emergency_id, access.LOG)
    note = response.emergency_add_note(actor=user, emergency=emergency, text=payload.text)
    row = next(r for r in _timeline(user, emergency) if r.event.pk == note.pk)
    return Status(201, _event_out(row))


@router.get(
    "/emergencies/{emergency_id}/pages",
    response=responses(200, list[PagingOut]),
    summary="Who was paged, on which channel, when, and whether it was delivered",
)
def emergency_pages(request: HttpRequest, emergency_id: UUID) -> list[PagingOut]:
    user = actor(request)
    emergency = _emergency(user, emergency_id, access.VIEW)
    return [
        PagingOut(
            notification=page.notification_id,
            recipient=UserRefOut(id=page.recipient_id, username=page.recipient_username),
            recipient_name=page.recipient,
            step=page.step,
            round=page.round,
            channel=page.channel_kind,
            channel_label=page.channel,
            state=page.state,
            state_label=page.state_label,
            attempts=page.attempts,
            paged_at=page.paged_at,
            sent_at=page.sent_at,
            next_attempt_at=page.next_attempt_at,
            last_attempt_at=page.last_attempt_at,
        )
        for page in timeline.emergency_pages(emergency=emergency)
    ]


@router.post(
    "/emergencies/{emergency_id}/time-corrections",
    response=responses(200, EmergencyOut),
    summary=(
        "Correct a recorded time (call, acknowledged, on the way, on site) with a reason; "
        "the original stays on the timeline"
    ),
)
def emergency_time_correct(
    request: HttpRequest, emergency_id: UUID, payload: TimeCorrectionIn
) -> EmergencyOut:
    user = actor(request)
    emergency = _emergency(user, emergency_id, access.EDIT)
    corrections.emergency_time_correct(
        actor=user, emergency=emergency, field=payload.field, at=payload.at, reason=payload.reason
    )
    return _out(user, emergency)
