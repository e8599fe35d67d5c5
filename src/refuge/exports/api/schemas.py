"""Input and output schemas of the exports API: explicit fields, never generated from models.

The export documents (RedactedExportOut, UnredactedExportOut) describe the streamed files; a
test validates real downloads against them, so the schema and the stream cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal
from uuid import UUID

from ninja import Field, Schema

from refuge.accounts.api import NO_NUL, InputSchema, PageIn, PageOut
from refuge.cases.models import CaseStatus, CaseType, TimelineEntry
from refuge.exports.models import ExportScope, ExportStatus
from refuge.exports.selectors import MAX_CASES_IN_REQUEST
from refuge.exports.services import MAX_PURPOSE, MAX_REASON
from refuge.people.models import ContactChannel, ContactDirection, RiskLevel


class ExportUserRefOut(Schema):
    id: UUID
    username: str


class ExportTeamRefOut(Schema):
    id: UUID
    name: str


class ExportScopeIn(InputSchema):
    team_id: UUID | None = Field(None, description="Export one team's cases.")
    case_ids: list[UUID] = Field(
        default_factory=list,
        max_length=MAX_CASES_IN_REQUEST,
        description="Or export these cases (not together with team_id).",
    )


class RedactedExportIn(ExportScopeIn):
    """Neither team_id nor case_ids: every case you may see."""


class ExportRequestIn(ExportScopeIn):
    purpose: str = Field(
        max_length=MAX_PURPOSE,
        pattern=NO_NUL,
        description="What the export is for and who receives it; the approver reads it.",
    )


class ExportRejectIn(InputSchema):
    reason: str = Field(max_length=MAX_REASON, pattern=NO_NUL)


class ExportListIn(PageIn):
    awaiting_me: bool = Field(
        default=False, description="Only requests waiting for my approval (coordinators)."
    )


class ExportRequestOut(Schema):
    id: UUID
    status: ExportStatus = Field(
        description="A request past its deadline reads `expired` even before the worker marks it."
    )
    scope: ExportScope
    team: ExportTeamRefOut | None
    case_codes: list[str]
    purpose: str
    requested_by: ExportUserRefOut
    requested_at: dt.datetime
    expires_at: dt.datetime = Field(
        description="While pending: the approval deadline. Once approved: the download deadline."
    )
    decided_by: ExportUserRefOut | None
    decided_at: dt.datetime | None
    decision_reason: str | None
    downloaded_at: dt.datetime | None


class ExportRequestPage(PageOut):
    items: list[ExportRequestOut]


# --- The export documents -----------------------------------------------------------------------


class ExportHeaderOut(Schema):
    kind: Literal["redacted", "unredacted"]
    generated_at: dt.datetime
    generated_by: str
    request_id: UUID | None
    case_count: int


class ExportPersonOut(Schema):
    id: UUID
    pseudonym: str
    risk_level: RiskLevel
    is_minor: bool
    languages: list[str]


class RedactedCaseOut(Schema):
    id: UUID
    code: str
    case_type: CaseType
    status: CaseStatus
    risk_level: RiskLevel
    team: str
    opened_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None
    timeline_entries: int
    tasks_open: int
    tasks_done: int
    people: list[ExportPersonOut]


class RedactedExportOut(Schema):
    export: ExportHeaderOut
    cases: list[RedactedCaseOut]


class ExportIdentityOut(Schema):
    legal_name: str | None
    aliases: str | None
    date_of_birth: dt.date | None
    phones: str | None
    messengers: str | None
    address: str | None
    notes: str | None


class ExportRelativeContactOut(Schema):
    occurred_at: dt.datetime
    channel: ContactChannel
    direction: ContactDirection
    staff: str | None = Field(description="The staff member who spoke with the relative.")
    follow_up_needed: bool
    summary: str | None


class ExportRelativeOut(Schema):
    relation: str
    risk_level: RiskLevel
    name: str | None
    phones: str | None
    location: str | None
    notes: str | None
    contacts: list[ExportRelativeContactOut] = Field(
        description="The log of contacts with the relative, oldest first."
    )


class UnredactedPersonOut(ExportPersonOut):
    identity: ExportIdentityOut | None = Field(
        description="Null when the requester may not see this person's identity (a minor, for "
        "anyone but the team lead and coordinators)."
    )
    relatives: list[ExportRelativeOut]


class ExportTimelineOut(Schema):
    occurred_at: dt.datetime
    kind: TimelineEntry.Kind
    author: str | None
    text: str | None


class ExportTaskOut(Schema):
    title: str | None
    due_date: dt.date | None
    done_at: dt.datetime | None
    assignee: str | None


class UnredactedCaseOut(RedactedCaseOut):
    summary: str | None
    people: list[UnredactedPersonOut]  # type: ignore[assignment]
    timeline: list[ExportTimelineOut]
    tasks: list[ExportTaskOut]


class UnredactedExportOut(Schema):
    export: ExportHeaderOut
    cases: list[UnredactedCaseOut]
