"""Request and response schemas of a person's check-in schedule in the API (api.checkins)."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Schema
from pydantic import AwareDatetime

from refuge.accounts.api import NO_NUL, InputSchema
from refuge.alerts.api.setup_schemas import ScheduleKind
from refuge.alerts.services import checkins
from refuge.cases.api.schemas import PersonRefOut


class ScheduleOut(Schema):
    person: PersonRefOut
    kind: ScheduleKind
    interval_hours: int | None
    daily_time: dt.time | None = Field(description="In the person's time zone.")
    time_zone: str
    grace_minutes: int
    paused: bool
    paused_until: dt.datetime | None
    next_deadline: dt.datetime | None
    alert_at: dt.datetime | None = Field(description="Deadline + grace: missed after this.")
    last_checkin_at: dt.datetime | None
    pin_set: bool
    duress_pin_set: bool
    live_links: int = Field(description="Personal links that work (0 or 1).")


class ScheduleIn(InputSchema):
    kind: ScheduleKind
    interval_hours: int | None = Field(None, description="For kind=interval.")
    daily_time: dt.time | None = Field(None, description="For kind=daily, e.g. 21:00.")
    time_zone: str = Field(max_length=64, pattern=NO_NUL, examples=["Europe/Moscow"])
    grace_minutes: int = Field(120)


class PauseIn(InputSchema):
    until: AwareDatetime | None = Field(None, description="Null: until resumed.")


class PinsIn(InputSchema):
    pin: str = Field(max_length=checkins.MAX_PIN_INPUT, description="4 to 8 digits.")
    duress_pin: str | None = Field(
        None, max_length=checkins.MAX_PIN_INPUT, description="4 to 8 digits; null: none."
    )


class LinkOut(Schema):
    url: str = Field(description="The person's own page. Shown once; it cannot be read again.")
