"""Request and response schemas of a person's check-in schedule in the API (api.checkins)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from ninja import Field, Schema
from pydantic import AwareDatetime, WithJsonSchema

from refuge.accounts.api import NO_NUL, InputSchema
from refuge.alerts.api.setup_schemas import ScheduleKind
from refuge.alerts.models import Checkin
from refuge.alerts.services import checkin_lockout, checkins
from refuge.cases.api.schemas import PersonRefOut

CheckinChannel = Annotated[
    Checkin.Channel,
    WithJsonSchema({"title": "CheckinChannel", "type": "string", "enum": Checkin.Channel.values}),
]
CheckinOutcome = Annotated[
    Checkin.Outcome,
    WithJsonSchema({"title": "CheckinOutcome", "type": "string", "enum": Checkin.Outcome.values}),
]


class ScheduleOut(Schema):
    person: PersonRefOut
    kind: ScheduleKind
    interval_hours: int | None
    daily_time: dt.time | None = Field(description="In the person's time zone.")
    time_zone: str
    grace_minutes: int
    window_minutes: int = Field(
        description="Check-ins count from this long before the deadline; earlier ones are "
        "recorded as early and leave the deadline pending."
    )
    paused: bool
    paused_until: dt.datetime | None
    next_deadline: dt.datetime | None
    window_opens_at: dt.datetime | None = Field(
        description="When check-ins start to count towards next_deadline."
    )
    alert_at: dt.datetime | None = Field(description="Deadline + grace: missed after this.")
    last_checkin_at: dt.datetime | None = Field(description="The last check-in that counted.")
    pin_set: bool
    duress_pin_set: bool
    live_links: int = Field(description="Personal links that work (0 or 1).")
    failed_attempts: int = Field(description="Wrong PINs in a row (every 5 lock check-ins).")
    locked: bool = Field(
        description="Check-ins are locked after wrong PINs: every PIN is refused, the person's "
        "page says check-ins there are paused. POST .../unlock lifts it."
    )
    locked_at: dt.datetime | None = Field(description="When the lock in force began.")
    locked_until: dt.datetime | None = Field(description="When the lock in force runs out.")
    attempts_while_locked: int = Field(description="PINs entered since the lock, all refused.")


class ScheduleIn(InputSchema):
    kind: ScheduleKind
    interval_hours: int | None = Field(None, description="For kind=interval.")
    daily_time: dt.time | None = Field(None, description="For kind=daily, e.g. 21:00.")
    time_zone: str = Field(max_length=64, pattern=NO_NUL, examples=["Europe/Moscow"])
    grace_minutes: int = Field(120)
    window_minutes: int | None = Field(
        None,
        description="Check-ins count from this many minutes before each deadline (at least 15, "
        "at most the interval; 1440 for kind=daily). Null: 240 for kind=daily, the whole "
        "interval for kind=interval.",
    )


class PauseIn(InputSchema):
    until: AwareDatetime | None = Field(None, description="Null: until resumed.")


class PinsIn(InputSchema):
    pin: str = Field(max_length=checkins.MAX_PIN_INPUT, description="4 to 8 digits.")
    duress_pin: str | None = Field(
        None, max_length=checkins.MAX_PIN_INPUT, description="4 to 8 digits; null: none."
    )


class LinkOut(Schema):
    url: str = Field(description="The person's own page. Shown once; it cannot be read again.")


class UnlockIn(InputSchema):
    reason: str = Field(
        min_length=1,
        max_length=checkin_lockout.MAX_REASON,
        pattern=NO_NUL,
        description="How the person was reached and confirmed; kept encrypted as a note on the "
        "lockout's emergency.",
    )


class CheckinOut(Schema):
    at: dt.datetime
    channel: CheckinChannel
    outcome: CheckinOutcome = Field(
        description="counted: satisfied the deadline; early: before the window, did not "
        "count; locked: entered while check-ins were locked, refused."
    )
