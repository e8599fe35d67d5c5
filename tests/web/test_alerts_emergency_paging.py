"""The emergency's page says who was paged, on which channel, when, and whether it was delivered
(sent, failed with the attempt and the next try, cancelled), in words: never a raw value."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from refuge.alerts.models import StaffChannel
from refuge.alerts.services import delivery, escalation, response
from tests.alerts import conftest as alerts_fixtures
from tests.web.test_alerts_emergency import detail_url, open_call

pytestmark = pytest.mark.django_db
# The emergency line's fixtures: notifications in memory, the scenario's policy, a still clock.
recorder = alerts_fixtures.recorder
default_policy = alerts_fixtures.default_policy
at_call_time = alerts_fixtures.at_call_time


@pytest.fixture
def paged(cast, default_policy, recorder, at_call_time):  # type: ignore[no-untyped-def]
    """BIRCH's call; the on-call operator (Olga Line, by e-mail) is paged at once."""
    cast.operator.first_name, cast.operator.last_name = "Olga", "Line"
    cast.operator.save()
    StaffChannel.objects.create(user=cast.operator, kind="email", target="op@example.org")
    emergency = open_call(cast)
    escalation.escalation_tick()
    delivery.deliver_due()
    return emergency


def facts(body: str, kind: str) -> list[str]:
    """The text of the timeline entries of one event kind."""
    entries = re.findall(rf'<li class="kind-{kind}">(.*?)</li>', body, flags=re.DOTALL)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", entry)) for entry in entries]


def test_a_sent_notification_names_the_recipient_channel_and_delivery(paged, cast, login):
    body = login(cast.lawyer).get(detail_url(paged)).content.decode()
    [sent] = facts(body, "notification_sent")
    assert "To Olga Line" in sent
    assert "Channel E-mail" in sent
    assert "Delivery sent" in sent


def test_a_failed_notification_says_the_attempt_and_the_next_try(
    paged, cast, login, recorder, at_call_time
):
    StaffChannel.objects.create(user=cast.lawyer, kind="telegram", target="tgram://bot/1")
    recorder.fail_kinds = {"telegram"}
    at_call_time.shift(dt.timedelta(minutes=5))
    escalation.escalation_tick()  # step 2: the case's lawyer
    delivery.deliver_due()
    body = login(cast.coordinator).get(detail_url(paged)).content.decode()
    [failed] = facts(body, "notification_failed")
    assert "To lawyer" in failed
    assert "Channel Telegram" in failed
    assert "failed (attempt 1)" in failed
    assert "Next try" in failed


def test_a_failure_then_cancelled_by_the_acknowledgement_says_so(
    paged, cast, login, recorder, at_call_time
):
    StaffChannel.objects.create(user=cast.lawyer, kind="telegram", target="tgram://bot/1")
    recorder.fail_kinds = {"telegram"}
    at_call_time.shift(dt.timedelta(minutes=5))
    escalation.escalation_tick()
    delivery.deliver_due()
    response.emergency_acknowledge(actor=cast.operator, emergency=paged)
    body = login(cast.coordinator).get(detail_url(paged)).content.decode()
    [failed] = facts(body, "notification_failed")
    assert "Next try" not in failed
    assert "Then cancelled (acknowledged or resolved first)" in failed


def test_the_step_says_whom_it_paged(paged, cast, login):
    body = login(cast.operator).get(detail_url(paged)).content.decode()
    [step] = facts(body, "escalated")
    assert "Step 1" in step
    assert "Target On-call operator" in step
    assert "Paged Olga Line" in step


def test_who_was_paged_is_summed_up_in_a_table(paged, cast, login, recorder, at_call_time):
    StaffChannel.objects.create(user=cast.lawyer, kind="telegram", target="tgram://bot/1")
    recorder.fail_kinds = {"telegram"}
    at_call_time.shift(dt.timedelta(minutes=5))
    escalation.escalation_tick()
    delivery.deliver_due()
    body = login(cast.operator).get(detail_url(paged)).content.decode()
    table = body[body.index('id="paged-heading"') : body.index('id="events-heading"')]
    rows = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)) for r in table.split("<tr>")[2:]]
    assert "Olga Line" in rows[0]
    assert "E-mail" in rows[0]
    assert " sent " in rows[0]
    assert "lawyer" in rows[1]
    assert "Telegram" in rows[1]
    assert "failed, retrying" in rows[1]
    assert "1 failed attempt" in rows[1]
    assert "next try" in rows[1]


def test_nobody_paged_yet_is_said_in_words(cast, login):
    emergency = open_call(cast)
    emergency.notifications.all().delete()  # as if its first step had not fired yet
    body = login(cast.operator).get(detail_url(emergency)).content.decode()
    assert "Nobody has been paged yet" in body


@pytest.mark.parametrize(
    ("acknowledge", "words"),
    [
        (
            lambda cast, e: response.emergency_acknowledge(actor=cast.lawyer, emergency=e),
            "Via staff interface",
        ),
        (
            lambda cast, e: response.emergency_acknowledge(
                actor=cast.lawyer, emergency=e, via=response.VIA_API
            ),
            "Via API",
        ),
    ],
)
def test_how_an_acknowledgement_arrived_is_said_in_words(acknowledge, words, cast, login):
    emergency = open_call(cast)
    acknowledge(cast, emergency)
    body = login(cast.operator).get(detail_url(emergency)).content.decode()
    [acknowledged] = facts(body, "acknowledged")
    assert words in acknowledged


def test_no_raw_value_reaches_the_page(paged, cast, login):
    response.emergency_acknowledge(actor=cast.lawyer, emergency=paged)
    body = login(cast.operator).get(detail_url(paged)).content.decode()
    text = re.sub(r"<[^>]+>", " ", body)
    for raw in ("email", " ui ", "on_call", "notification_sent", "acknowledged_at", "None"):
        assert raw not in text
