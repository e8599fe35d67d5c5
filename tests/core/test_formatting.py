"""One unambiguous date format per language (refuge/config/formats, refuge.core.formatting)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template import Context, Template
from django.utils import formats, translation

from refuge.cases.models import CaseType
from refuge.core import formatting

MOMENT = dt.datetime(2026, 12, 8, 9, 15, 2)  # a Tuesday
MAY = dt.date(2026, 5, 7)


def render(source: str, language: str, **context: object) -> str:
    with translation.override(language):
        return Template(source).render(Context(context))


@pytest.mark.parametrize(
    ("language", "name", "expected"),
    [
        ("en", "DATE_FORMAT", "8 Dec 2026"),
        ("en", "SHORT_DATE_FORMAT", "8 Dec 2026"),
        ("en", "DATETIME_FORMAT", "8 Dec 2026, 09:15"),
        ("en", "SHORT_DATETIME_FORMAT", "8 Dec 2026, 09:15"),
        ("en", "TIME_FORMAT", "09:15"),
        ("ru", "DATE_FORMAT", "8 дек. 2026"),
        ("ru", "SHORT_DATE_FORMAT", "8 дек. 2026"),
        ("ru", "DATETIME_FORMAT", "8 дек. 2026, 09:15"),
        ("ru", "SHORT_DATETIME_FORMAT", "8 дек. 2026, 09:15"),
        ("ru", "TIME_FORMAT", "09:15"),
    ],
)
def test_every_named_format_is_day_month_year_with_a_24_hour_clock(language, name, expected):
    with translation.override(language):
        assert formats.date_format(MOMENT, name) == expected


def test_russian_month_abbreviations_follow_the_russian_rules():
    with translation.override("ru"):
        assert formats.date_format(MAY, "DATE_FORMAT") == "7 мая 2026"
        assert formats.date_format(dt.date(2026, 9, 1), "DATE_FORMAT") == "1 сент. 2026"


def test_the_date_filter_uses_the_named_formats_in_templates():
    source = '{{ value|date:"DATETIME_FORMAT" }}'
    assert render(source, "en", value=MOMENT) == "8 Dec 2026, 09:15"
    assert render(source, "ru", value=MOMENT) == "8 дек. 2026, 09:15"


def test_seconds_are_shown_where_they_matter():
    source = "{% load refuge_formats %}{{ value|datetime_seconds }}"
    assert render(source, "en", value=MOMENT) == "8 Dec 2026, 09:15:02"
    assert render(source, "ru", value=MOMENT) == "8 дек. 2026, 09:15:02"


def test_a_spelled_out_date_declines_the_russian_month():
    with translation.override("ru"):
        assert formatting.weekday_datetime(MOMENT) == "Вторник, 8 декабря 2026, 09:15"
    with translation.override("en"):
        assert formatting.weekday_datetime(MOMENT) == "Tuesday, 8 December 2026, 09:15"


def test_a_day_inside_a_russian_sentence_reads_as_a_common_noun():
    with translation.override("ru"):
        assert formatting.weekday_date(MOMENT) == "Вторник, 8 декабря"
        assert formatting.weekday_date(MOMENT, in_sentence=True) == "вторник, 8 декабря"
    with translation.override("en"):
        assert formatting.weekday_date(MOMENT, in_sentence=True) == "Tuesday, 8 December"


def test_an_unknown_format_name_is_refused():
    with pytest.raises(ValueError, match="unknown format name"):
        formatting.named_format("DATE_FORMAT")


def test_a_choice_value_reads_as_its_translated_label():
    with translation.override("ru"):
        assert formatting.label(CaseType, "evacuation") == "Эвакуация и переселение"


def test_an_unknown_or_empty_choice_value_never_shows_raw():
    with translation.override("en"):
        assert formatting.label(CaseType, "teleport") == "unknown"
        assert formatting.label(CaseType, "") == "—"
