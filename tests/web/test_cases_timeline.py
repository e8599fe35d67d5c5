"""Adding notes and calls to a case's timeline: plain POST with redirect, htmx partial swap,
audit entries, refusals that change nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from refuge.cases.models import CaseType, TimelineEntry
from refuge.core import clock
from refuge.security.models import AuditEntry
from tests.factories import CaseFactory, TimelineEntryFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def add_url(case):
    return reverse("cases:timeline_add", args=[case.pk])


def notes(case, kind=TimelineEntry.Kind.NOTE):
    return [entry.text for entry in TimelineEntry.objects.filter(case=case, kind=kind)]


def audit_actions(user):
    return list(AuditEntry.objects.filter(actor_id=user.pk).values_list("action", flat=True))


def test_a_note_posted_without_javascript_lands_in_the_timeline(cast, login):
    response = login(cast.caseworker).post(
        add_url(cast.case), {"kind": "note", "text": "Safe flat checked"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:detail", args=[cast.case.pk]) + "#timeline"
    assert notes(cast.case) == ["Safe flat checked"]


def test_a_note_posted_without_javascript_is_shown_after_the_redirect(cast, login):
    client = login(cast.caseworker)
    response = client.post(
        add_url(cast.case), {"kind": "note", "text": "Safe flat checked"}, follow=True
    )
    page = response.content.decode()
    assert "Safe flat checked" in page
    assert "Added to the timeline." in page


def test_a_note_posted_without_javascript_is_audited(cast, login):
    login(cast.caseworker).post(add_url(cast.case), {"kind": "note", "text": "Safe flat checked"})
    entry = TimelineEntry.objects.get(case=cast.case, kind="note")
    audit = AuditEntry.objects.get(action="refuge.cases.note.added")
    assert audit.actor_id == cast.caseworker.pk
    assert audit.object_id == str(entry.pk)


def test_a_note_posted_with_htmx_returns_the_updated_timeline_fragment(cast, login):
    response = login(cast.caseworker).post(
        add_url(cast.case), {"kind": "note", "text": "Safe flat checked"}, headers=HTMX
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert page.lstrip().startswith('<section id="timeline"')
    assert "<html" not in page
    assert "Safe flat checked" in page
    assert notes(cast.case) == ["Safe flat checked"]


def test_a_note_posted_with_htmx_is_audited(cast, login):
    login(cast.caseworker).post(
        add_url(cast.case), {"kind": "note", "text": "Safe flat checked"}, headers=HTMX
    )
    assert audit_actions(cast.caseworker) == ["refuge.cases.note.added"]


def test_the_htmx_fragment_comes_back_with_an_empty_form(cast, login):
    response = login(cast.caseworker).post(
        add_url(cast.case), {"kind": "note", "text": "Safe flat checked"}, headers=HTMX
    )
    page = response.content.decode()
    assert '<textarea name="text" cols="40" rows="4" required id="id_text">\n</textarea>' in page


def test_a_call_is_recorded_as_a_call(cast, login):
    login(cast.lawyer).post(add_url(cast.case), {"kind": "call", "text": "Mother called"})
    assert notes(cast.case, kind=TimelineEntry.Kind.CALL) == ["Mother called"]
    assert audit_actions(cast.lawyer) == ["refuge.cases.call.added"]


def test_a_call_taken_earlier_keeps_its_time(cast, login):
    earlier = timezone.localtime(clock.now()) - dt.timedelta(hours=2)
    login(cast.lawyer).post(
        add_url(cast.case),
        {
            "kind": "call",
            "text": "Mother called",
            "occurred_at": earlier.strftime("%Y-%m-%dT%H:%M"),
        },
    )
    entry = TimelineEntry.objects.get(case=cast.case, kind="call")
    assert abs(entry.occurred_at - earlier) < dt.timedelta(minutes=1)


def test_an_operator_can_log_a_call_on_an_emergency_case(cast, login):
    emergency = CaseFactory(case_type=CaseType.EMERGENCY, people=[cast.falcon, cast.birch])
    response = login(cast.operator).post(
        add_url(emergency), {"kind": "call", "text": "Screaming in the background"}
    )
    assert response.status_code == 302
    assert notes(emergency, kind=TimelineEntry.Kind.CALL) == ["Screaming in the background"]
    assert audit_actions(cast.operator) == ["refuge.cases.call.added"]


def test_an_operator_cannot_log_a_call_on_an_evacuation_case(cast, login):
    response = login(cast.operator).post(
        add_url(cast.case), {"kind": "call", "text": "Screaming in the background"}
    )
    assert response.status_code == 404
    assert notes(cast.case, kind=TimelineEntry.Kind.CALL) == []


def test_an_empty_note_is_refused_with_a_message_and_400(cast, login):
    response = login(cast.caseworker).post(add_url(cast.case), {"kind": "note", "text": "   "})
    assert response.status_code == 400
    assert "Write something first." in response.content.decode()
    assert notes(cast.case) == []
    assert audit_actions(cast.caseworker) == []


def test_an_unknown_kind_is_refused_and_nothing_is_written(cast, login):
    response = login(cast.caseworker).post(add_url(cast.case), {"kind": "status", "text": "x"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not TimelineEntry.objects.filter(case=cast.case).exists()


def test_a_time_in_the_future_is_refused(cast, login):
    later = timezone.localtime(clock.now()) + dt.timedelta(days=1)
    response = login(cast.caseworker).post(
        add_url(cast.case),
        {"kind": "call", "text": "Call", "occurred_at": later.strftime("%Y-%m-%dT%H:%M")},
    )
    assert response.status_code == 400
    assert "This time is in the future." in response.content.decode()
    assert notes(cast.case, kind=TimelineEntry.Kind.CALL) == []


def test_a_refused_note_keeps_what_was_typed(cast, login):
    later = timezone.localtime(clock.now()) + dt.timedelta(days=1)
    response = login(cast.caseworker).post(
        add_url(cast.case),
        {"kind": "note", "text": "Keep me", "occurred_at": later.strftime("%Y-%m-%dT%H:%M")},
    )
    assert "Keep me</textarea>" in response.content.decode()


def test_a_refused_htmx_note_comes_back_in_the_fragment_with_its_errors(cast, login):
    response = login(cast.caseworker).post(
        add_url(cast.case), {"kind": "note", "text": "   "}, headers=HTMX
    )
    page = response.content.decode()
    # htmx swaps only 2xx responses, so the refusal travels as a 200 fragment.
    assert response.status_code == 200
    assert page.lstrip().startswith('<section id="timeline"')
    assert "Write something first." in page
    assert notes(cast.case) == []


def test_the_timeline_shows_author_kind_and_text(cast, login):
    TimelineEntryFactory(case=cast.case, kind="call", author=cast.lawyer, text="Police refused")
    page = login(cast.caseworker).get(reverse("cases:detail", args=[cast.case.pk])).content
    text = page.decode()
    assert "Police refused" in text
    assert "lawyer" in text
    assert "<strong>Call</strong>" in text


def test_the_detail_page_with_a_long_timeline_takes_a_bounded_number_of_queries(
    cast, login, django_assert_max_num_queries
):
    for number in range(30):
        TimelineEntryFactory(case=cast.case, author=cast.lawyer, text=f"Note {number}")
    client = login(cast.caseworker)
    client.get(reverse("cases:detail", args=[cast.case.pk]))
    # 16: one of them loads the session's second-factor device (django-otp), one reads the open
    # emergencies for the navigation badge (alerts.context_processors).
    with django_assert_max_num_queries(16):
        response = client.get(reverse("cases:detail", args=[cast.case.pk]))
    assert "Note 29" in response.content.decode()
