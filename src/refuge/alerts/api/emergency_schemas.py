"""Request and response schemas of the emergency line's API (split from emergencies.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from uuid import UUID

from ninja import Field, Schema
from pydantic import AwareDatetime

from refuge.accounts.api import (
    NO_NUL,
    InputSchema,
    PageIn,
    PageOut,
)
from refuge.alerts.api.setup_schemas import EventKind
from refuge.alerts.models import (
    EmergencySource,
    EmergencyState,
    Outcome,
)
from refuge.alerts.services import corrections, response
from refuge.cases.api.schemas import PersonRefOut, TeamRefOut, UserRefOut

MAX_TEXT = response.MAX_NOTE
MAX_PEOPLE = 50


class CaseRefOut(Schema):
    id: UUID
    code: str
    visible: bool = Field(description="May you open the case (GET /cases/{id})?")


class EmergencyListOut(Schema):
    id: UUID
    code: str
    source: EmergencySource
    priority: int = Field(description="10 low, 20 normal, 30 high, 40 top.")
    state: EmergencyState
    people: list[str] = Field(description="Pseudonyms of the people concerned.")
    reported_at: dt.datetime = Field(description="The call or SOS.")
    opened_at: dt.datetime
    first_notified_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    acknowledged_by: UserRefOut | None
    en_route_at: dt.datetime | None
    on_site_at: dt.datetime | None
    resolved_at: dt.datetime | None
    outcome: Outcome | None


class CallRefOut(Schema):
    id: UUID
    code: str
    received_at: dt.datetime
    visible: bool = Field(description="May you open the logged call (GET /calls/{id})?")


class EmergencyOut(EmergencyListOut):
    caller: PersonRefOut | None = Field(description="Null: an unknown caller (or not a call).")
    people_refs: list[PersonRefOut]
    cases: list[CaseRefOut]
    calls: list[CallRefOut] = Field(description="Logged calls turned into this emergency.")
    team: TeamRefOut | None
    may_resolve: bool = Field(
        description=(
            "May you resolve it? Coordinators; the case workers and lawyers of its team or of "
            "one of its cases; an operator only when it concerns nobody (an unknown caller's)."
        )
    )
    sealed: bool = Field(description="Refuge is sealed: the three texts below are null until then.")
    heard: str | None = Field(description="Decrypted; the read is audited. Null while sealed.")
    location_hint: str | None
    resolution_note: str | None
    sos_presses: int = Field(
        description="How often SOS was pressed for it (repeats within minutes are counted)."
    )


class EmergencyPage(PageOut):
    items: list[EmergencyListOut]


class EmergencyFilterIn(PageIn):
    state: EmergencyState | None = Field(
        None, description="Only emergencies in this state; default: every active one."
    )


class FactOut(Schema):
    label: str = Field(description="Translated, as on the emergency's page.")
    value: str = Field(description="Translated, as on the emergency's page.")


class EventOut(Schema):
    id: UUID
    kind: EventKind
    at: dt.datetime
    actor: str | None = Field(description="Username; null for the system.")
    actor_name: str = Field(description="The staff member's display name, or “system”.")
    data: dict[str, Any] = Field(
        description=(
            "Structured facts: source, step, channel (kind), via, ...; for notifications also "
            "recipient (id), recipient_name, channel_label, delivery (sent or failed), attempt "
            "and next_attempt_at; for time corrections field, from, to and original (the time "
            "first recorded)."
        )
    )
    facts: list[FactOut] = Field(description="The same facts in words, as the page shows them.")
    note: str | None = Field(
        description="The text of a note event, or a time correction's reason, decrypted."
    )
    sealed: bool = Field(description="Refuge is sealed: the note's text is null until then.")


class PagingOut(Schema):
    """One notification of the emergency: who was paged, how, and what became of it."""

    notification: UUID
    recipient: UserRefOut
    recipient_name: str
    step: int = Field(description="1-based, as the policy numbers its steps.")
    round: int = Field(description="1-based: the policy's repetition.")
    channel: str = Field(description="The channel kind (email, telegram, ...); empty for none.")
    channel_label: str
    state: str = Field(description="pending, sent, failed or cancelled.")
    state_label: str
    attempts: int = Field(description="Failed attempts so far.")
    paged_at: dt.datetime
    sent_at: dt.datetime | None
    next_attempt_at: dt.datetime | None = Field(description="While it is still being tried.")
    last_attempt_at: dt.datetime | None


class TimeCorrectionIn(InputSchema):
    field: Literal["reported_at", "acknowledged_at", "en_route_at", "on_site_at"] = Field(
        description="Which recorded time (reported_at: the call time, for calls only)."
    )
    at: AwareDatetime = Field(description="The correct time.")
    reason: str = Field(max_length=corrections.MAX_REASON, pattern=NO_NUL)


class CallIn(InputSchema):
    caller: UUID | None = Field(None, description="The calling person; null: unknown caller.")
    heard: str = Field(max_length=MAX_TEXT, pattern=NO_NUL)
    location_hint: str = Field("", max_length=MAX_TEXT, pattern=NO_NUL)
    people: list[UUID] = Field(default_factory=list, max_length=MAX_PEOPLE)
    reported_at: AwareDatetime | None = Field(
        None,
        description=(
            "When the call came in; null: now. Not in the future, at most 7 days ago "
            "(422 otherwise)."
        ),
    )


class ResolveIn(InputSchema):
    outcome: Outcome
    note: str = Field("", max_length=MAX_TEXT, pattern=NO_NUL)


class NoteIn(InputSchema):
    text: str = Field(max_length=MAX_TEXT, pattern=NO_NUL)


# --- Output ---------------------------------------------------------------------------------------
