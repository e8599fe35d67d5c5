"""`{% load refuge_formats %}`: the display helpers of refuge.core.formatting as filters.

{{ event.at|datetime_seconds }}   7 Dec 2026, 09:15:02
{{ deadline|weekday_datetime }}   Tuesday, 8 December 2026, 21:00
{{ case.code|code }}              <span class="code">K-7F3Q</span>, never broken at the hyphen
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from refuge.core import formatting

register = template.Library()


@register.filter(expects_localtime=True)
def datetime_seconds(value: dt.datetime | None) -> str:
    return formatting.datetime_seconds(value) if value else ""


@register.filter(expects_localtime=True)
def weekday_datetime(value: dt.datetime | None) -> str:
    return formatting.weekday_datetime(value) if value else ""


@register.filter
def code(value: object) -> SafeString:
    """A case or emergency code as one unbreakable word (CSS .code: white-space nowrap); safe to
    pass into {% blocktranslate with ... %}."""
    return format_html('<span class="code">{}</span>', value)
