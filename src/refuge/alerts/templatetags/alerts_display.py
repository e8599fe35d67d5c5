"""Filters for the emergency line's templates (and the dashboard and navigation, which include
them): staff names and elapsed durations, in the words of alerts.display."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template

from refuge.alerts import display

register = template.Library()


@register.filter
def staff_name(user: Any) -> str:
    return display.staff_name(user)


@register.filter
def elapsed(value: dt.timedelta | None) -> str:
    return display.elapsed(value)
