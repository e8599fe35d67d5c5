"""{% sos_presses emergency as presses %}: how often SOS was pressed for an emergency the page
shows (its SOS alerts and the repeats counted on them)."""

from __future__ import annotations

from django import template

from refuge.alerts import selectors_checkins
from refuge.alerts.models import Emergency

register = template.Library()


@register.simple_tag
def sos_presses(emergency: Emergency) -> int:
    return selectors_checkins.sos_presses(emergency=emergency)
