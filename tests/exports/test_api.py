"""The exports API: the same rules as the page. Approving and downloading need a
re-authenticated browser session; a bearer token gets 403 there."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from refuge.accounts import tokens
from refuge.exports import services
from refuge.exports.api.schemas import RedactedExportOut, UnredactedExportOut
from refuge.exports.models import ExportRequest, ExportStatus
from tests.api.conftest import Api
from tests.conftest import BIRCH_NAME, FALCON_NAME, verified_login
from tests.exports.conftest import (
    PURPOSE,
    approved_export,
    audit_actions,
    request_team_export,
    streamed,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_as():
    """An API client per user, authenticated with a real bearer token."""

    def _api_as(user) -> Api:
        _token, plaintext = tokens.token_create(actor=None, user=user, name="tests")
        return Api(Client(), plaintext)

    return _api_as


@pytest.fixture
def session_api():
    def _session_api(user, *, step_up=True) -> Api:
        return Api(verified_login(Client(), user, step_up=step_up))

    return _session_api


def test_a_redacted_export_streams_without_identities(cast, api_as, other_case):
    response = api_as(cast.lawyer).post("exports/redacted", {})

    assert response.status_code == 200
    body = streamed(response).decode()
    document = RedactedExportOut.model_validate_json(body)
    assert [c.code for c in document.cases] == [cast.case.code]
    assert FALCON_NAME not in body
    assert BIRCH_NAME not in body


def test_a_redacted_export_of_a_hidden_case_is_refused(cast, api_as, other_case):
    response = api_as(cast.lawyer).post("exports/redacted", {"case_ids": [str(other_case.pk)]})

    assert response.status_code == 422
    assert "case_ids" in response.json()["errors"]
    assert audit_actions() == []


def test_an_export_request_is_created(cast, api_as, nizhny):
    response = api_as(cast.caseworker).post(
        "exports", {"team_id": str(nizhny.pk), "purpose": PURPOSE}
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["purpose"], body["team"]["name"]) == (
        "pending",
        PURPOSE,
        "Nizhny team",
    )


def test_a_blank_purpose_is_refused(cast, api_as, nizhny):
    response = api_as(cast.caseworker).post("exports", {"team_id": str(nizhny.pk), "purpose": ""})

    assert response.status_code == 422
    assert "purpose" in response.json()["errors"]
    assert not ExportRequest.objects.exists()


def test_another_teams_id_is_refused(cast, api_as, other_case):
    response = api_as(cast.caseworker).post(
        "exports", {"team_id": str(other_case.team_id), "purpose": PURPOSE}
    )

    assert response.status_code == 422
    assert "team_id" in response.json()["errors"]


def test_an_operator_cannot_request(cast, api_as, nizhny):
    response = api_as(cast.operator).post("exports", {"team_id": str(nizhny.pk), "purpose": "x"})

    assert response.status_code == 422
    assert not ExportRequest.objects.exists()


def test_the_list_holds_ones_own_requests(cast, api_as, nizhny):
    request_team_export(cast.caseworker, nizhny)
    request_team_export(cast.lawyer, nizhny)

    body = api_as(cast.lawyer).get("exports").json()

    assert [i["requested_by"]["username"] for i in body["items"]] == ["lawyer"]


def test_coordinators_list_what_awaits_them(cast, api_as, nizhny):
    request_team_export(cast.caseworker, nizhny)
    request_team_export(cast.coordinator, nizhny)

    body = api_as(cast.coordinator).get("exports", {"awaiting_me": "true"}).json()

    assert [i["requested_by"]["username"] for i in body["items"]] == ["caseworker"]


def test_another_staff_members_request_is_a_404(cast, api_as, nizhny):
    request = request_team_export(cast.caseworker, nizhny)

    assert api_as(cast.outsider).get(f"exports/{request.pk}").status_code == 404


def test_a_token_cannot_approve(cast, api_as, nizhny):
    request = request_team_export(cast.caseworker, nizhny)

    response = api_as(cast.coordinator).post(f"exports/{request.pk}/approve")

    assert response.status_code == 403
    request.refresh_from_db()
    assert request.status == ExportStatus.PENDING


def test_a_session_without_step_up_cannot_approve(cast, session_api, nizhny):
    request = request_team_export(cast.caseworker, nizhny)

    response = session_api(cast.coordinator, step_up=False).post(f"exports/{request.pk}/approve")

    assert response.status_code == 403
    assert "Re-authentication required" in response.json()["detail"]


def test_a_re_authenticated_coordinator_approves(cast, session_api, nizhny):
    request = request_team_export(cast.caseworker, nizhny)

    response = session_api(cast.coordinator).post(f"exports/{request.pk}/approve")

    assert response.status_code == 200
    assert response.json()["status"] == "approved"
    assert response.json()["decided_by"]["username"] == "coordinator"


def test_self_approval_is_refused(cast, session_api, nizhny):
    request = request_team_export(cast.coordinator, nizhny)

    response = session_api(cast.coordinator).post(f"exports/{request.pk}/approve")

    assert response.status_code == 422
    assert "two-person rule" in response.json()["detail"]


def test_a_non_coordinator_cannot_approve(cast, session_api, nizhny):
    request = request_team_export(cast.caseworker, nizhny)

    response = session_api(cast.caseworker).post(f"exports/{request.pk}/approve")

    assert response.status_code == 422
    assert "Only a coordinator" in response.json()["detail"]


def test_a_rejection_needs_a_reason(cast, api_as, nizhny):
    request = request_team_export(cast.caseworker, nizhny)

    response = api_as(cast.coordinator).post(f"exports/{request.pk}/reject", {"reason": " "})

    assert response.status_code == 422
    assert "reason" in response.json()["errors"]


def test_a_coordinator_rejects_with_a_reason(cast, api_as, nizhny):
    request = request_team_export(cast.caseworker, nizhny)

    response = api_as(cast.coordinator).post(f"exports/{request.pk}/reject", {"reason": "No"})

    assert response.json()["status"] == "rejected"
    assert api_as(cast.caseworker).get(f"exports/{request.pk}").json()["decision_reason"] == "No"


def test_a_token_cannot_download(cast, api_as, nizhny):
    request = approved_export(cast.caseworker, cast.coordinator, nizhny)

    response = api_as(cast.caseworker).post(f"exports/{request.pk}/download")

    assert response.status_code == 403
    request.refresh_from_db()
    assert request.status == ExportStatus.APPROVED


def test_the_requester_downloads_once_in_a_re_authenticated_session(cast, session_api, nizhny):
    request = approved_export(cast.caseworker, cast.coordinator, nizhny)
    api = session_api(cast.caseworker)

    first = api.post(f"exports/{request.pk}/download")
    second = api.post(f"exports/{request.pk}/download")

    document = UnredactedExportOut.model_validate_json(streamed(first))
    assert document.export.request_id == request.pk
    assert {p.identity.legal_name for p in document.cases[0].people if p.identity} == {
        FALCON_NAME,
        BIRCH_NAME,
    }
    assert second.status_code == 422
    assert "already been downloaded" in json.loads(second.content)["detail"]
    assert audit_actions().count(services.DOWNLOADED) == 1


def test_an_expired_request_reads_expired(cast, api_as, nizhny, time_machine):
    time_machine.move_to("2026-03-01 10:00Z", tick=False)
    request = request_team_export(cast.caseworker, nizhny)
    time_machine.move_to("2026-03-05 10:00Z", tick=False)

    assert api_as(cast.caseworker).get(f"exports/{request.pk}").json()["status"] == "expired"
