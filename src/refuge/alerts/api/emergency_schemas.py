"""Request and response schemas of the emergency line's API (split from emergencies.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any
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
from refuge.alerts.services import response
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


class EmergencyOut(EmergencyListOut):
    caller: PersonRefOut | None = Field(description="Null: an unknown caller (or not a call).")
    people_refs: list[PersonRefOut]
    cases: list[CaseRefOut]
    team: TeamRefOut | None
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


class EventOut(Schema):
    id: UUID
    kind: EventKind
    at: dt.datetime
    actor: str | None = Field(description="Username; null for the system.")
    data: dict[str, Any] = Field(description="Structured facts (source, step, channel, ...).")
    note: str | None = Field(description="The text of a note event, decrypted.")
    sealed: bool = Field(description="Refuge is sealed: the note's text is null until then.")


class CallIn(InputSchema):
    caller: UUID | None = Field(None, description="The calling person; null: unknown caller.")
    heard: str = Field(max_length=MAX_TEXT, pattern=NO_NUL)
    location_hint: str = Field("", max_length=MAX_TEXT, pattern=NO_NUL)
    people: list[UUID] = Field(default_factory=list, max_length=MAX_PEOPLE)
    reported_at: AwareDatetime | None = Field(None, description="When the call came; now.")


class ResolveIn(InputSchema):
    outcome: Outcome
    note: str = Field("", max_length=MAX_TEXT, pattern=NO_NUL)


class NoteIn(InputSchema):
    text: str = Field(max_length=MAX_TEXT, pattern=NO_NUL)


# --- Output ---------------------------------------------------------------------------------------
