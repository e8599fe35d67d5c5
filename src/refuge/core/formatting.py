"""Dates, times and enum-like values as people read them.

One unambiguous date format per language, set centrally in refuge/config/formats/<lang>/ and
used through Django's named formats: `{{ value|date:"DATETIME_FORMAT" }}` in templates and
`django.utils.formats.date_format(value, "DATETIME_FORMAT")` in Python give "7 Dec 2026, 09:15"
in English and "7 дек. 2026, 09:15" in Russian. Literal format strings ("j M Y", "%d/%m/%Y")
do not belong in display code.

This module adds what Django does not name (templates: `{% load refuge_formats %}`). Its
functions format the value as given: convert it first to the zone it is read in
(`timezone.localtime(value, zone)`); the template filters receive it in the viewer's zone.

- `datetime_seconds(value)`: "7 Dec 2026, 09:15:02", for timings where seconds matter.
- `weekday_datetime(value)`: spelled out, "Tuesday, 8 December 2026, 21:00" /
  "Вторник, 8 декабря 2026, 21:00" (the month in the genitive, as Russian dates need).
- `weekday_date(value)`: the day without the year, "Tuesday, 8 December" / «Вторник, 8 декабря»;
  inside a sentence a Russian weekday is a common noun, in lower case («вторник, 8 декабря»).
- `label(choices, value)`: the translated label of a stored choice value, never the raw value.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import Choices
from django.utils import formats
from django.utils.translation import get_language, pgettext, pgettext_lazy

# Refuge's catalogue replaces Django's Russian month abbreviations ("Дек.", "Сен.", "Май") with
# CLDR's ("дек.", "сент.", "мая"); listing them here keeps them in `make messages`.
MONTH_ABBREVIATIONS = (
    pgettext_lazy("abbrev. month", "Jan."),
    pgettext_lazy("abbrev. month", "Feb."),
    pgettext_lazy("abbrev. month", "March"),
    pgettext_lazy("abbrev. month", "April"),
    pgettext_lazy("abbrev. month", "May"),
    pgettext_lazy("abbrev. month", "June"),
    pgettext_lazy("abbrev. month", "July"),
    pgettext_lazy("abbrev. month", "Aug."),
    pgettext_lazy("abbrev. month", "Sept."),
    pgettext_lazy("abbrev. month", "Oct."),
    pgettext_lazy("abbrev. month", "Nov."),
    pgettext_lazy("abbrev. month", "Dec."),
)
EXTRA_FORMATS = (
    "DATETIME_SECONDS_FORMAT",
    "WEEKDAY_DATETIME_FORMAT",
    "WEEKDAY_DATE_FORMAT",
)


def named_format(name: str) -> str:
    """One of Refuge's extra named formats in the active language (English when the language
    has none)."""
    if name not in EXTRA_FORMATS:
        raise ValueError(f"unknown format name {name!r}")
    for language in (get_language() or settings.LANGUAGE_CODE, "en"):
        for module in formats.get_format_modules(lang=language):
            value = getattr(module, name, None)
            if isinstance(value, str):
                return value
    raise LookupError(name)  # pragma: no cover - the English module defines every name


def datetime_seconds(value: dt.datetime) -> str:
    return formats.date_format(value, named_format("DATETIME_SECONDS_FORMAT"))


def weekday_datetime(value: dt.datetime) -> str:
    return formats.date_format(value, named_format("WEEKDAY_DATETIME_FORMAT"))


def weekday_date(value: dt.datetime, *, in_sentence: bool = False) -> str:
    text = formats.date_format(value, named_format("WEEKDAY_DATE_FORMAT"))
    if in_sentence and (get_language() or "").startswith("ru"):
        return text[:1].lower() + text[1:]
    return text


def label(choices: type[Choices], value: Any) -> str:
    """The translated label of a stored value; an unknown value reads as a dash, never raw."""
    try:
        return str(choices(value).label)
    except ValueError:
        return "—" if value in (None, "") else pgettext("unknown stored value", "unknown")
