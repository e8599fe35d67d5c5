"""Case codes never break at their hyphen: every page shows them as one unbreakable word."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

CSS = Path(__file__).resolve().parents[2] / "src" / "refuge" / "static" / "refuge" / "refuge.css"


def code_span(case) -> str:
    return f'<span class="code">{case.code}</span>'


@pytest.mark.parametrize("name", ["cases:dashboard", "cases:list"])
def test_lists_show_the_code_as_one_word(cast, login, name):
    page = login(cast.caseworker).get(reverse(name)).content.decode()
    assert code_span(cast.case) in page


def test_the_case_heading_shows_the_code_as_one_word(cast, login):
    page = login(cast.caseworker).get(reverse("cases:detail", args=[cast.case.pk]))
    assert re.search(rf"<h1>Case {re.escape(code_span(cast.case))}</h1>", page.content.decode())


def test_the_stylesheet_never_wraps_a_code():
    rule = re.search(r"\.code \{([^}]*)\}", CSS.read_text())
    assert rule
    assert "white-space: nowrap" in rule.group(1)
