"""Calls logged without paging, and the call time entered on "Log a call": logging only, who
sees a logged call, turning it into an emergency with one click, and the checks on the time."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.urls import reverse

from refuge.alerts.models import CallRecord, Emergency, EmergencySource, Notification
from refuge.alerts.services import calls
from refuge.security.models import AuditEntry
from tests.alerts import conftest as alerts_fixtures
from tests.alerts.conftest import CALL_TIME
from tests.web.test_alerts_emergency import HEARD, HINT, open_call

pytestmark = pytest.mark.django_db
at_call_time = alerts_fixtures.at_call_time

CALL = "/alerts/call/"
CALLS = "/alerts/calls/"
MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")


def log_only(client, **extra):  # type: ignore[no-untyped-def]
    return client.post(CALL, {"heard": HEARD, "location_hint": HINT, "action": "log", **extra})


def probing_call(cast) -> CallRecord:  # type: ignore[no-untyped-def]
    return calls.call_log(actor=cast.operator, caller=None, heard=HEARD, location_hint=HINT)


def call_url(call: CallRecord, action: str = "") -> str:
    name = f"alerts:call_{action}" if action else "alerts:call_detail"
    return reverse(name, args=[call.pk])


# --- Logging only ---------------------------------------------------------------------------------


def test_the_logged_calls_have_their_addresses(cast):
    call = probing_call(cast)
    assert reverse("alerts:call_list") == CALLS
    assert call_url(call) == f"/alerts/calls/{call.pk}/"
    assert call_url(call, "escalate") == f"/alerts/calls/{call.pk}/escalate/"


@pytest.mark.parametrize("role", ["operator", "coordinator"])
def test_a_call_can_be_logged_without_paging_anyone(role, cast, login):
    response = log_only(login(cast.by_role()[role]))
    call = CallRecord.objects.get()
    assert response.status_code == 302
    assert response["Location"] == call_url(call)
    assert (call.heard, call.location_hint) == (HEARD, HINT)
    assert call.logged_by == cast.by_role()[role]
    assert call.caller is None
    assert not Emergency.objects.exists()
    assert not Notification.objects.exists()


def test_what_was_heard_is_encrypted_at_rest(cast, login):
    log_only(login(cast.operator))
    row = CallRecord.objects.values("heard_ct", "location_hint_ct").get()
    assert HEARD.encode() not in bytes(row["heard_ct"])
    assert HINT.encode() not in bytes(row["location_hint_ct"])


def test_logging_a_call_is_audited_without_its_text(cast, login):
    log_only(login(cast.operator))
    entry = AuditEntry.objects.get(action="refuge.alerts.call.logged")
    assert entry.actor_label == "operator"
    assert entry.object_id == str(CallRecord.objects.get().pk)
    assert HEARD not in entry.detail


def test_a_call_logged_without_what_was_heard_is_refused(cast, login):
    response = login(cast.operator).post(CALL, {"heard": "   ", "action": "log"})
    assert response.status_code == 400
    assert "Write down what was heard" in response.content.decode()
    assert not CallRecord.objects.exists()


# --- Who sees it ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["operator", "coordinator"])
def test_the_line_sees_the_call_with_what_was_heard(role, cast, login):
    call = probing_call(cast)
    client = login(cast.by_role()[role])
    assert call.code in client.get(CALLS).content.decode()
    page = client.get(call_url(call)).content.decode()
    assert HEARD in page
    assert HINT in page
    assert "Unknown caller" in page


def test_reading_a_logged_call_is_audited(cast, login):
    call = probing_call(cast)
    login(cast.coordinator).get(call_url(call))
    entry = AuditEntry.objects.get(action="refuge.alerts.call.viewed")
    assert (entry.object_id, entry.actor_label) == (str(call.pk), "coordinator")


@pytest.mark.parametrize("role", ["caseworker", "lawyer", "outsider"])
def test_other_staff_get_404_for_a_call_they_did_not_log(role, cast, login):
    call = probing_call(cast)
    client = login(cast.by_role()[role])
    assert client.get(call_url(call)).status_code == 404
    assert client.post(call_url(call, "escalate")).status_code == 404
    assert call.code not in client.get(CALLS).content.decode()
    assert not Emergency.objects.exists()


def test_a_case_worker_sees_the_call_they_logged(cast, login):
    client = login(cast.caseworker)
    log_only(client, people=[str(cast.falcon.pk)])
    call = CallRecord.objects.get()
    assert client.get(call_url(call)).status_code == 200


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_roles_without_emergencies_are_told_they_cannot_use_the_call_log(role, cast, login):
    call = probing_call(cast)
    client = login(cast.by_role()[role])
    refused = client.get(CALLS)
    assert refused.status_code == 403
    assert "Emergencies are handled by hotline operators" in refused.content.decode()
    assert client.get(call_url(call)).status_code == 404  # a call: outside their need-to-know


# --- Turning it into an emergency -----------------------------------------------------------------


def test_one_click_turns_the_call_into_an_emergency_with_its_time_and_text(
    cast, login, at_call_time
):
    call = probing_call(cast)
    at_call_time.shift(dt.timedelta(minutes=20))
    response = login(cast.operator).post(call_url(call, "escalate"))
    emergency = Emergency.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("alerts:emergency_detail", args=[emergency.pk])
    assert emergency.source == EmergencySource.CALL
    assert emergency.reported_at == CALL_TIME
    assert emergency.opened_at == CALL_TIME + dt.timedelta(minutes=20)
    assert (emergency.heard, emergency.location_hint) == (HEARD, HINT)
    assert emergency.notifications.exists()  # pages as usual, at once
    call.refresh_from_db()
    assert call.emergency == emergency
    assert call.escalated_by == cast.operator


def test_the_emergency_page_links_back_to_the_call_and_shows_both_times(cast, login, at_call_time):
    call = probing_call(cast)
    at_call_time.shift(dt.timedelta(minutes=20))
    client = login(cast.operator)
    page = client.get(client.post(call_url(call, "escalate"))["Location"]).content.decode()
    assert f'href="{call_url(call)}"' in page
    assert "Call or SOS at" in page  # opened 20 minutes after the call came in


def test_escalating_is_audited(cast, login):
    call = probing_call(cast)
    login(cast.coordinator).post(call_url(call, "escalate"))
    entry = AuditEntry.objects.get(action="refuge.alerts.call.escalated")
    assert entry.actor_label == "coordinator"
    assert Emergency.objects.get().code in entry.detail
    assert HEARD not in entry.detail


def test_a_second_click_opens_nothing_more(cast, login):
    call = probing_call(cast)
    client = login(cast.operator)
    first = client.post(call_url(call, "escalate"))
    second = client.post(call_url(call, "escalate"))
    assert second.status_code == 302
    assert second["Location"] == first["Location"]
    assert Emergency.objects.count() == 1


def test_a_call_about_a_person_in_an_open_emergency_joins_it(cast, login):
    emergency = open_call(cast)
    call = calls.call_log(actor=cast.operator, caller=cast.falcon, heard="Breathing, then a click")
    login(cast.operator).post(call_url(call, "escalate"))
    assert list(Emergency.objects.all()) == [emergency]
    call.refresh_from_db()
    assert call.emergency == emergency


def test_the_list_offers_the_button_until_the_call_is_turned(cast, login):
    call = probing_call(cast)
    client = login(cast.operator)
    button = f'action="{call_url(call, "escalate")}"'
    assert button in client.get(CALLS).content.decode()
    client.post(call_url(call, "escalate"))
    body = client.get(CALLS).content.decode()
    assert button not in body
    assert Emergency.objects.get().code in body


# --- The call time --------------------------------------------------------------------------------


def test_the_call_time_is_read_in_the_operators_time_zone(cast, login, at_call_time):
    cast.operator.time_zone = "Europe/Moscow"
    cast.operator.save()
    client = login(cast.operator)
    client.post(
        CALL, {"heard": HEARD, "people": [str(cast.falcon.pk)], "received_at": "2026-03-10T14:40"}
    )
    emergency = Emergency.objects.get()
    assert emergency.reported_at == dt.datetime(2026, 3, 10, 14, 40, tzinfo=MOSCOW)
    assert emergency.opened_at == CALL_TIME


def test_a_logged_call_keeps_the_entered_time(cast, login, at_call_time):
    cast.operator.time_zone = "Europe/Moscow"
    cast.operator.save()
    log_only(login(cast.operator), received_at="2026-03-10T13:05")
    call = CallRecord.objects.get()
    assert call.received_at == dt.datetime(2026, 3, 10, 13, 5, tzinfo=MOSCOW)
    assert call.logged_at == CALL_TIME


@pytest.mark.parametrize("action", ["open", "log"])
@pytest.mark.parametrize(
    ("received_at", "words"),
    [
        ("2026-03-10T18:00", "cannot have come in the future"),
        ("2026-02-01T12:00", "up to 7 days after it came in"),
        ("yesterday", "Enter a valid date/time."),
    ],
)
@pytest.mark.usefixtures("at_call_time")
def test_a_wrong_call_time_is_refused_with_a_reason(action, received_at, words, cast, login):
    response = login(cast.operator).post(
        CALL, {"heard": HEARD, "action": action, "received_at": received_at}
    )
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not Emergency.objects.exists()
    assert not CallRecord.objects.exists()


def test_an_unknown_button_value_is_refused_not_guessed(cast, login):
    response = login(cast.operator).post(CALL, {"heard": HEARD, "action": "page-everyone"})
    assert response.status_code == 400
    assert "Choose “Open the emergency” or “Log the call only”." in response.content.decode()
    assert not Emergency.objects.exists()
    assert not CallRecord.objects.exists()
