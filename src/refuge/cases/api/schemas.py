"""Input and output schemas of the cases API: explicit fields, never generated from the models."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from uuid import UUID

from ninja import Field, Schema
from pydantic import AwareDatetime, WithJsonSchema, field_validator

from refuge.accounts.api import NO_NUL, InputSchema, PageIn, PageOut
from refuge.cases.models import CaseStatus, CaseType, TimelineEntry
from refuge.cases.services import MAX_TASK_TITLE, MAX_TEXT
from refuge.people.models import RiskLevel

# Several models name their choices `Kind`. Ninja merges the definitions of every schema into
# one OpenAPI components table by name, so they would share one component (the last one wins)
# and clients would be told the wrong values; this one is inlined under its own title.
TimelineKind = Annotated[
    TimelineEntry.Kind,
    WithJsonSchema({"title": "TimelineKind", "type": "string", "enum": TimelineEntry.Kind.values}),
]

MAX_PEOPLE = 50  # on one case; far above any real family, low enough to bound the lookups


class UserRefOut(Schema):
    id: UUID
    username: str


class TeamRefOut(Schema):
    id: UUID
    name: str


class TeamOut(TeamRefOut):
    assignable: list[UserRefOut] = Field(description="Active members: who tasks can go to.")


class PersonRefOut(Schema):
    id: UUID
    pseudonym: str
    is_minor: bool


class CaseListOut(Schema):
    id: UUID
    code: str
    case_type: CaseType
    status: CaseStatus
    risk_level: RiskLevel
    team: TeamRefOut
    people: list[str] = Field(description="Pseudonyms of the people on the case.")
    created_at: dt.datetime
    updated_at: dt.datetime


class CaseOut(Schema):
    id: UUID
    code: str
    case_type: CaseType
    status: CaseStatus
    risk_level: RiskLevel
    team: TeamOut
    people: list[PersonRefOut]
    summary: str | None
    allowed_transitions: list[CaseStatus] = Field(
        description="Statuses POST /cases/{id}/transition accepts from the current one."
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None


class CasePage(PageOut):
    items: list[CaseListOut]


class CaseFilterIn(PageIn):
    case_type: CaseType | None = Field(None, alias="type")
    status: CaseStatus | None = None
    risk_level: RiskLevel | None = Field(None, alias="risk")
    assignee: UUID | None = Field(None, description="Cases where this user has an open task.")
    q: str = Field(
        "", max_length=100, pattern=NO_NUL, description="A case code or part of a pseudonym."
    )


class CaseCreateIn(InputSchema):
    case_type: CaseType
    team: UUID
    people: list[UUID] = Field(default_factory=list, max_length=MAX_PEOPLE)
    risk_level: RiskLevel = RiskLevel.HIGH
    summary: str = Field("", max_length=MAX_TEXT)


class CaseUpdateIn(InputSchema):
    """Only the fields you send are changed; `people` replaces the whole list."""

    risk_level: RiskLevel | None = None
    summary: str | None = Field(None, max_length=MAX_TEXT, description="`null` clears it.")
    team: UUID | None = None
    people: list[UUID] | None = Field(None, max_length=MAX_PEOPLE)


class TransitionIn(InputSchema):
    status: CaseStatus
    note: str = Field("", max_length=MAX_TEXT)


class TimelineEntryIn(InputSchema):
    kind: Literal["note", "call"]
    text: str = Field(max_length=MAX_TEXT)
    # Aware only: a time without an offset is ambiguous for a team spread over time zones.
    occurred_at: AwareDatetime | None = Field(None, description="Defaults to now.")

    @field_validator("occurred_at")
    @classmethod
    def _in_utc_range(cls, value: dt.datetime | None) -> dt.datetime | None:
        # 0001-01-01T00:00+14:00 is a valid input but has no UTC equivalent; converting here
        # turns it into a field error instead of an OverflowError deep in the service.
        if value is None:
            return None
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError("the time is out of range") from None


class TimelineEntryOut(Schema):
    id: UUID
    kind: TimelineKind
    author: str | None = Field(description="Username; null for entries the system wrote.")
    occurred_at: dt.datetime
    text: str | None
    data: dict[str, Any] = Field(description="Structured facts: statuses, task ids, pseudonyms.")


class TaskIn(InputSchema):
    title: str = Field(max_length=MAX_TASK_TITLE)
    due_date: dt.date | None = None
    assignee: UUID | None = Field(None, description="Someone on the case team, or a coordinator.")


class TaskOut(Schema):
    id: UUID
    case: UUID
    title: str | None
    due_date: dt.date | None
    assignee: UserRefOut | None
    done_at: dt.datetime | None
    created_at: dt.datetime
