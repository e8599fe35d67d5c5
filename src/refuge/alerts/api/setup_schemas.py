"""Input and output schemas of the setup API (policies, rotas, channels): explicit fields, never
generated from the models. Ranges are judged by refuge.alerts.services.setup, so the API and the
web pages give the same reasons."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from uuid import UUID

from ninja import Field, Schema
from pydantic import AfterValidator, AwareDatetime, WithJsonSchema

from refuge.accounts.api import NO_NUL, InputSchema
from refuge.alerts.models import CheckinSchedule, EmergencyEvent, EscalationStep, StaffChannel
from refuge.alerts.services.setup import MAX_NAME, MAX_TARGET
from refuge.cases.api.schemas import UserRefOut

MAX_KINDS = len(StaffChannel.Kind.values)
# Several models name their choices `Kind`. Ninja merges the definitions of every schema into
# one OpenAPI components table by name, so they would share one component (the last one wins)
# and clients would be told the wrong values; each is inlined under its own title. (The alerts
# API modules share these.)
ChannelKind = Annotated[
    StaffChannel.Kind,
    WithJsonSchema({"title": "ChannelKind", "type": "string", "enum": StaffChannel.Kind.values}),
]
EventKind = Annotated[
    EmergencyEvent.Kind,
    WithJsonSchema({"title": "EventKind", "type": "string", "enum": EmergencyEvent.Kind.values}),
]
ScheduleKind = Annotated[
    CheckinSchedule.Kind,
    WithJsonSchema(
        {"title": "ScheduleKind", "type": "string", "enum": CheckinSchedule.Kind.values}
    ),
]


def _utc(value: dt.datetime) -> dt.datetime:
    # 0001-01-01T00:00+14:00 is valid input without a UTC equivalent: a field error, not a crash.
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("the time is out of range") from None


# With an offset only: a time without one is ambiguous for a team spread over time zones.
Moment = Annotated[AwareDatetime, AfterValidator(_utc)]


class RotaRefOut(Schema):
    id: UUID
    name: str


# --- Policies and steps ---------------------------------------------------------------------------


class StepOut(Schema):
    id: UUID
    position: int = Field(description="0 is the first step; steps fire in this order.")
    target: EscalationStep.Target
    delay_minutes: int = Field(description="After the step before (the first: after the alert).")
    fires_after_minutes: int = Field(description="After the alert: the delays up to here, added.")
    rota: RotaRefOut | None = Field(description="For target on_call: whose on-call is paged.")
    user: UserRefOut | None = Field(description="For target user: who is paged.")
    channel_kinds: list[ChannelKind] = Field(
        description="Channels to use; empty: each recipient's own channels, in their order."
    )


class PolicyOut(Schema):
    id: UUID
    name: str
    is_default: bool = Field(description="Emergencies follow the default policy.")
    repeat: int = Field(description="How many more times all the steps run unacknowledged.")
    en_route_within_minutes: int = Field(
        description="An acknowledgement not followed by “on my way” in time falls back."
    )
    steps: list[StepOut]
    created_at: dt.datetime
    updated_at: dt.datetime


class PolicyCreateIn(InputSchema):
    name: str = Field(max_length=MAX_NAME, pattern=NO_NUL)
    is_default: bool = Field(default=False, description="The first policy is always the default.")
    repeat: int = Field(1, description="0 to 5.")
    en_route_within_minutes: int = Field(10, description="1 to 240.")


class PolicyUpdateIn(InputSchema):
    """Only the fields you send are changed. A default is changed by making another policy
    the default (`is_default: false` on the default is refused)."""

    name: str | None = Field(None, max_length=MAX_NAME, pattern=NO_NUL)
    is_default: bool | None = None
    repeat: int | None = None
    en_route_within_minutes: int | None = None


class StepIn(InputSchema):
    target: EscalationStep.Target
    delay_minutes: int = Field(0, description="0 to 1440, after the step before.")
    rota: UUID | None = Field(None, description="Required for target on_call.")
    user: UUID | None = Field(None, description="Required for target user.")
    channel_kinds: list[ChannelKind] = Field(default_factory=list, max_length=MAX_KINDS)


class StepUpdateIn(InputSchema):
    """Only the fields you send are changed; the step's position changes with /move."""

    target: EscalationStep.Target | None = None
    delay_minutes: int | None = None
    rota: UUID | None = None
    user: UUID | None = None
    channel_kinds: list[ChannelKind] | None = Field(None, max_length=MAX_KINDS)


class MoveIn(InputSchema):
    position: int = Field(description="The new position, 0 for the first.")


# --- Rotas ----------------------------------------------------------------------------------------


class RotaMemberOut(Schema):
    id: UUID
    position: int = Field(description="Order of the rotation, 0 for the first shift.")
    user: UserRefOut
    active: bool = Field(description="Deactivated accounts are skipped by the rotation.")


class OverrideOut(Schema):
    id: UUID
    rota: UUID
    user: UserRefOut
    starts_at: dt.datetime
    ends_at: dt.datetime


class RotaOut(Schema):
    id: UUID
    name: str
    starts_on: dt.datetime = Field(description="The first member's first shift begins then.")
    shift_days: int
    members: list[RotaMemberOut]
    on_call_now: UserRefOut | None


class RotaDetailOut(RotaOut):
    overrides: list[OverrideOut] = Field(description="Overrides not yet over, soonest first.")


class RotaCreateIn(InputSchema):
    name: str = Field(max_length=MAX_NAME, pattern=NO_NUL)
    starts_on: Moment
    shift_days: int = Field(7, description="1 to 28.")


class RotaUpdateIn(InputSchema):
    name: str | None = Field(None, max_length=MAX_NAME, pattern=NO_NUL)
    starts_on: Moment | None = None
    shift_days: int | None = None


class RotaMemberIn(InputSchema):
    user: UUID = Field(description="An active staff member who sees emergencies.")


class OverrideIn(InputSchema):
    user: UUID
    starts_at: Moment
    ends_at: Moment


class OnCallIn(Schema):
    at: Moment | None = Field(None, description="Defaults to now.")


class ShiftChangeOut(Schema):
    at: dt.datetime
    user: UserRefOut | None


class OnCallOut(Schema):
    rota: RotaRefOut
    at: dt.datetime
    user: UserRefOut | None = Field(description="Who is on call at `at`; null: nobody.")
    next_changes: list[ShiftChangeOut] = Field(description="The next handovers after `at`.")


# --- Channels -------------------------------------------------------------------------------------


class ChannelOut(Schema):
    id: UUID
    kind: ChannelKind
    target: str = Field(description="Where alerts go: contact data, shown to its owner only.")
    position: int = Field(description="Failover order, 0 is tried first.")
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class ChannelIn(InputSchema):
    kind: ChannelKind
    target: str = Field(
        max_length=MAX_TARGET,
        pattern=NO_NUL,
        description=(
            "An e-mail address; for telegram, signal, matrix and webhook an Apprise URL "
            "(tgram://, signal://, matrixs://, jsons://) or a chat id, phone number or Matrix id."
        ),
    )
    active: bool = True


class ChannelUpdateIn(InputSchema):
    kind: ChannelKind | None = None
    target: str | None = Field(None, max_length=MAX_TARGET, pattern=NO_NUL)
    active: bool | None = None
