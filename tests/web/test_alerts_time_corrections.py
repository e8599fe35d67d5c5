"""Correcting an emergency's response times afterwards: a reason is required, the original time
stays on the timeline ("time corrected from X to Y by Z: reason"), the correction is audited, and
impossible times are refused with the reason."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from refuge.alerts.models import Emergency, EmergencyEvent
from refuge.alerts.services import corrections, response
from refuge.core.errors import DomainError
from refuge.security.models import AuditEntry
from tests.alerts import conftest as alerts_fixtures
from tests.alerts.conftest import CALL_TIME
from tests.web.test_alerts_emergency import detail_url, open_call

pytestmark = pytest.mark.django_db
at_call_time = alerts_fixtures.at_call_time

REASON = "Pressed On site only after calming the neighbours down"


@pytest.fixture
def on_site(cast, at_call_time):  # type: ignore[no-untyped-def]
    """BIRCH's call at 12:00 UTC; the lawyer acknowledges at 12:04, is on site at 12:30."""
    emergency = open_call(cast)
    at_call_time.shift(dt.timedelta(minutes=4))
    response.emergency_acknowledge(actor=cast.lawyer, emergency=emergency)
    at_call_time.shift(dt.timedelta(minutes=26))
    response.emergency_on_site(actor=cast.lawyer, emergency=emergency)
    at_call_time.shift(dt.timedelta(minutes=5))
    return emergency


def correct(client, emergency, **form):  # type: ignore[no-untyped-def]
    url = reverse("alerts:emergency_time_correct", args=[emergency.pk])
    return client.post(url, {"field": "on_site_at", "reason": REASON, **form})


@pytest.mark.parametrize("role", ["lawyer", "caseworker", "coordinator", "operator"])
def test_staff_who_act_on_it_correct_the_on_site_time(role, on_site, cast, login):
    reply = correct(login(cast.by_role()[role]), on_site, at="2026-03-10T15:22")  # MSK
    assert reply.status_code == 302
    assert reply["Location"] == detail_url(on_site) + "#times"
    on_site.refresh_from_db()
    assert on_site.on_site_at == CALL_TIME + dt.timedelta(minutes=22)


def test_the_outsider_gets_404_and_changes_nothing(on_site, cast, login):
    assert correct(login(cast.outsider), on_site, at="2026-03-10T15:22").status_code == 404
    on_site.refresh_from_db()
    assert on_site.on_site_at == CALL_TIME + dt.timedelta(minutes=30)


def test_the_original_time_stays_on_the_timeline_with_who_and_why(on_site, cast, login):
    client = login(cast.lawyer)
    correct(client, on_site, at="2026-03-10T15:22")
    event = on_site.events.get(kind=EmergencyEvent.Kind.TIME_CORRECTED)
    assert event.data["from"] == (CALL_TIME + dt.timedelta(minutes=30)).isoformat()
    assert event.data["to"] == (CALL_TIME + dt.timedelta(minutes=22)).isoformat()
    assert REASON not in str(event.data)  # the reason is encrypted like a note
    body = client.get(detail_url(on_site)).content.decode()
    [entry] = re.findall(r'<li class="kind-time_corrected">(.*?)</li>', body, flags=re.DOTALL)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", entry))
    assert "Time On site" in text
    assert "From 10 Mar 2026, 15:30" in text
    assert "To 10 Mar 2026, 15:22" in text
    assert "lawyer" in text
    assert f"Reason: {REASON}" in text
    assert "corrected; first recorded 10 Mar 2026, 15:30:00" in body


def test_a_correction_is_audited_without_its_reason(on_site, cast, login):
    correct(login(cast.coordinator), on_site, at="2026-03-10T15:22")
    entry = AuditEntry.objects.get(action="refuge.alerts.emergency.time_corrected")
    assert entry.actor_label == "coordinator"
    assert "on_site_at" in entry.detail
    assert REASON not in entry.detail


def test_a_second_correction_keeps_the_first_recorded_time(on_site, cast, login):
    client = login(cast.lawyer)
    correct(client, on_site, at="2026-03-10T15:22")
    correct(client, on_site, at="2026-03-10T15:24")
    body = client.get(detail_url(on_site)).content.decode()
    assert "corrected; first recorded 10 Mar 2026, 15:30:00" in body
    assert on_site.events.filter(kind=EmergencyEvent.Kind.TIME_CORRECTED).count() == 2


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"at": "2026-03-10T15:22", "reason": " "}, "Say why the time is corrected."),
        ({"at": "2026-03-10T15:50"}, "The corrected time cannot be in the future."),
        ({"at": "2026-03-10T14:55"}, "It cannot be earlier than the call"),
        ({"at": "2026-03-10T15:30"}, "That is the time already recorded."),
        ({"at": "2026-03-10T15:22", "field": "en_route_at"}, "Select a valid choice."),
        ({"at": "in a while"}, "Enter a valid date/time."),
    ],
)
def test_an_impossible_correction_is_refused_with_the_reason(form, words, on_site, cast, login):
    reply = correct(login(cast.lawyer), on_site, **form)
    assert reply.status_code == 400
    assert words in reply.content.decode()
    on_site.refresh_from_db()
    assert on_site.on_site_at == CALL_TIME + dt.timedelta(minutes=30)
    assert not on_site.events.filter(kind=EmergencyEvent.Kind.TIME_CORRECTED).exists()


def test_a_response_time_cannot_move_after_the_resolution(on_site, cast, at_call_time):
    response.emergency_resolve(actor=cast.coordinator, emergency=on_site, outcome="safe")
    at_call_time.shift(dt.timedelta(minutes=10))
    with pytest.raises(DomainError) as refused:
        corrections.emergency_time_correct(
            actor=cast.lawyer,
            emergency=on_site,
            field="acknowledged_at",
            at=CALL_TIME + dt.timedelta(minutes=36),
            reason=REASON,
        )
    assert "cannot be later than the resolution" in refused.value.field_errors["at"][0]


def test_the_response_steps_are_corrected_independently(on_site, cast):
    """An "On site" pressed late is the point of correcting it: it may move before the
    acknowledgement, which was stamped when the responder took over."""
    corrections.emergency_time_correct(
        actor=cast.lawyer,
        emergency=on_site,
        field="on_site_at",
        at=CALL_TIME + dt.timedelta(minutes=2),
        reason=REASON,
    )
    on_site.refresh_from_db()
    assert on_site.on_site_at < on_site.acknowledged_at


def test_the_call_time_cannot_move_after_the_first_response(on_site, cast):
    with pytest.raises(DomainError) as refused:
        corrections.emergency_time_correct(
            actor=cast.operator,
            emergency=on_site,
            field="reported_at",
            at=CALL_TIME + dt.timedelta(minutes=1),
            reason="typo",
        )
    assert "cannot come in after it was logged or answered" in refused.value.field_errors["at"][0]


def test_the_call_time_can_be_corrected_for_a_call_but_not_for_an_sos(on_site, cast):
    corrections.emergency_time_correct(
        actor=cast.operator,
        emergency=on_site,
        field="reported_at",
        at=CALL_TIME - dt.timedelta(minutes=3),
        reason="The call came in before I could type",
    )
    on_site.refresh_from_db()
    assert on_site.reported_at == CALL_TIME - dt.timedelta(minutes=3)
    Emergency.objects.filter(pk=on_site.pk).update(source="sos")
    with pytest.raises(DomainError, match="never recorded"):
        corrections.emergency_time_correct(
            actor=cast.operator,
            emergency=on_site,
            field="reported_at",
            at=CALL_TIME - dt.timedelta(minutes=5),
            reason="no",
        )


def test_a_resolved_emergency_can_still_be_corrected(on_site, cast, login):
    response.emergency_resolve(actor=cast.coordinator, emergency=on_site, outcome="safe")
    assert correct(login(cast.lawyer), on_site, at="2026-03-10T15:22").status_code == 302


def test_the_form_offers_only_the_recorded_times(cast, login):
    body = login(cast.operator).get(detail_url(open_call(cast))).content.decode()
    form = body[body.index('id="correct"') : body.index("</details>", body.index('id="correct"'))]
    assert 'value="reported_at"' in form
    assert 'value="on_site_at"' not in form
