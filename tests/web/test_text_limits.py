"""Text over a limit is refused with a message the user sees, and what was typed is kept:
the timeline (with and without htmx), a request body over REFUGE_MAX_REQUEST_BYTES, a person's
notes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from refuge.cases.models import TimelineEntry
from refuge.people.models import ProtectedPerson

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
TOO_LONG = "Долгий рассказ. " * 1300  # 20,800 characters: over the 20,000 of a note


def add_url(case):
    return reverse("cases:timeline_add", args=[case.pk])


def test_an_overlong_note_without_javascript_says_so_at_the_top_and_keeps_the_text(cast, login):
    response = login(cast.caseworker).post(add_url(cast.case), {"kind": "note", "text": TOO_LONG})
    page = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was saved." in page
    assert 'href="#timeline"' in page
    assert "Keep this under 20000 characters" in page
    assert TOO_LONG.strip() in page
    assert not TimelineEntry.objects.filter(kind="note").exists()


def opening_tag(page: str, name: str) -> str:
    start = page.index(f'name="{name}"')
    return page[page.rindex("<", 0, start) : page.index(">", start)]


def test_the_refused_field_gets_the_focus_so_the_page_opens_there(cast, login):
    response = login(cast.caseworker).post(add_url(cast.case), {"kind": "note", "text": TOO_LONG})
    assert "autofocus" in opening_tag(response.content.decode(), "text")


def test_an_overlong_note_with_htmx_comes_back_in_the_form_with_the_reason(cast, login):
    response = login(cast.caseworker).post(
        add_url(cast.case), {"kind": "note", "text": TOO_LONG}, headers=HTMX
    )
    page = response.content.decode()
    assert response.status_code == 200  # htmx swaps only 2xx answers
    assert "Keep this under 20000 characters" in page
    assert TOO_LONG.strip() in page


def test_a_body_over_the_request_limit_with_htmx_is_413_with_a_plain_message(cast, login, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = login(cast.caseworker).post(
        add_url(cast.case), {"kind": "note", "text": "x" * 20_000}, headers=HTMX
    )
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/plain")
    assert "too large (more than 9.8\xa0KB)" in response.content.decode()
    assert not TimelineEntry.objects.filter(kind="note").exists()


def test_a_body_over_the_request_limit_without_javascript_gets_a_page_saying_so(
    cast, login, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = login(cast.caseworker).post(
        add_url(cast.case), {"kind": "note", "text": "x" * 20_000}
    )
    page = response.content.decode()
    assert response.status_code == 413
    assert "Nothing was saved." in page
    assert "Back button" in page


def test_a_body_over_the_request_limit_is_explained_in_russian(cast, login, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = login(cast.caseworker).post(
        add_url(cast.case),
        {"kind": "note", "text": "x" * 20_000},
        headers={**HTMX, "Accept-Language": "ru"},
    )
    assert "Ничего не сохранено" in response.content.decode()


def test_every_staff_page_loads_the_script_that_reports_failed_htmx_requests(cast, login):
    page = login(cast.caseworker).get(reverse("cases:detail", args=[cast.case.pk]))
    body = page.content.decode()
    assert "refuge/forms.js" in body
    assert "data-request-failed=" in body


def test_overlong_person_notes_are_refused_with_the_text_kept_and_focused(cast, login):
    notes = "n" * 20_001
    response = login(cast.caseworker).post(
        reverse("people:create"),
        {"pseudonym": "WREN", "risk_level": "high", "languages": ["ru"], "notes": notes},
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "Keep this under 20000 characters" in page
    assert notes in page
    assert "autofocus" in opening_tag(page, "notes")
    assert not ProtectedPerson.objects.filter(pseudonym="WREN").exists()
