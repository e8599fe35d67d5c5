"""Calls logged without paging, over the API: log, list, read (audited), turn into an emergency;
the line sees them, an outsider gets 404, roles without emergencies cannot log one."""

from __future__ import annotations

import pytest

from refuge.alerts.models import CallRecord, Emergency, Notification
from refuge.alerts.services import calls
from refuge.security.models import AuditEntry
from tests.alerts import conftest as alerts_fixtures
from tests.alerts.conftest import CALL_TIME
from tests.conftest import FALCON_NAME

pytestmark = pytest.mark.django_db
at_call_time = alerts_fixtures.at_call_time

HEARD = "A man asked whether FALCON still lives here, then hung up"


def probing_call(cast) -> CallRecord:  # type: ignore[no-untyped-def]
    return calls.call_log(actor=cast.operator, caller=None, heard=HEARD, people=[cast.falcon])


@pytest.mark.parametrize("role", ["operator", "coordinator"])
def test_the_line_logs_a_call_without_paging(role, cast, api_as, at_call_time):
    created = api_as(cast.by_role()[role]).post(
        "calls",
        {
            "heard": HEARD,
            "people": [str(cast.falcon.pk)],
            "received_at": "2026-03-10T11:40:00Z",
        },
    )
    assert created.status_code == 201
    body = created.json()
    assert body["heard"] == HEARD
    assert body["received_at"] == "2026-03-10T11:40:00Z"
    assert body["logged_at"] == "2026-03-10T12:00:00Z"
    assert body["caller"] is None
    assert [p["pseudonym"] for p in body["people"]] == ["FALCON"]
    assert body["emergency"] is None
    assert body["logged_by"]["username"] == role
    assert not Emergency.objects.exists()
    assert not Notification.objects.exists()
    assert FALCON_NAME not in created.content.decode()


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_roles_without_emergencies_cannot_log_a_call(role, cast, api_as):
    refused = api_as(cast.by_role()[role]).post("calls", {"heard": HEARD})
    assert refused.status_code == 422
    assert "Your role cannot log calls" in refused.json()["detail"]
    assert not CallRecord.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"heard": ""}, "heard"),
        ({"heard": "x", "received_at": "2026-03-01T12:00:00Z"}, "received_at"),
        ({"heard": "x", "received_at": "2026-03-10T12:30:00Z"}, "received_at"),
    ],
)
def test_bad_input_is_422_and_logs_nothing(body, field, cast, api_as, at_call_time):
    refused = api_as(cast.operator).post("calls", body)
    assert refused.status_code == 422
    assert refused.json()["errors"][field]
    assert not CallRecord.objects.exists()


@pytest.mark.parametrize("role", ["operator", "coordinator"])
def test_the_line_lists_and_reads_logged_calls(role, cast, api_as):
    call = probing_call(cast)
    api = api_as(cast.by_role()[role])
    listed = api.get("calls").json()
    assert [item["code"] for item in listed["items"]] == [call.code]
    assert "heard" not in listed["items"][0]
    one = api.get(f"calls/{call.pk}").json()
    assert one["heard"] == HEARD
    assert one["sealed"] is False
    entry = AuditEntry.objects.get(action="refuge.alerts.call.viewed")
    assert entry.actor_label == role


@pytest.mark.parametrize("role", ["caseworker", "lawyer", "outsider", "analyst", "admin"])
def test_other_staff_list_nothing_and_get_404(role, cast, api_as):
    call = probing_call(cast)
    api = api_as(cast.by_role()[role])
    assert api.get("calls").json()["items"] == []
    assert api.get(f"calls/{call.pk}").status_code == 404
    assert api.post(f"calls/{call.pk}/escalate").status_code == 404
    assert not Emergency.objects.exists()


def test_turning_a_call_into_an_emergency(cast, api_as, at_call_time):
    call = probing_call(cast)
    api = api_as(cast.operator)
    created = api.post(f"calls/{call.pk}/escalate")
    assert created.status_code == 201
    emergency = created.json()
    assert emergency["source"] == "call"
    assert emergency["heard"] == HEARD
    assert emergency["reported_at"] == CALL_TIME.isoformat().replace("+00:00", "Z")
    assert [c["code"] for c in emergency["calls"]] == [call.code]
    assert api.get(f"calls/{call.pk}").json()["emergency"]["code"] == emergency["code"]
    assert api.get("calls", {"escalated": "false"}).json()["items"] == []
    again = api.post(f"calls/{call.pk}/escalate")
    assert again.status_code == 422
    assert emergency["code"] in again.json()["detail"]
    assert Emergency.objects.count() == 1
