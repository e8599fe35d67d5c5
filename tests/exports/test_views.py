"""The exports page, through the web interface: every step a POST with a CSRF token, refusals
explained on the page, approval and download behind a recent re-authentication."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from refuge.exports import services
from refuge.exports.models import ExportRequest, ExportStatus
from tests.conftest import BIRCH_NAME, FALCON_NAME, verified_login
from tests.exports.conftest import (
    HERON_NAME,
    PURPOSE,
    approved_export,
    audit_actions,
    request_team_export,
    streamed,
    streamed_json,
)

pytestmark = pytest.mark.django_db

LIST = reverse("exports:export_list")


def _url(name, request):
    return reverse(f"exports:{name}", args=[request.pk])


@pytest.mark.parametrize("role", ["coordinator", "caseworker", "lawyer", "operator", "analyst"])
def test_staff_see_the_exports_page(cast, login, role):
    response = login(cast.by_role()[role]).get(LIST)

    assert response.status_code == 200
    assert b"Redacted export" in response.content


def test_roles_without_identities_are_not_offered_an_unredacted_export(cast, login):
    response = login(cast.operator).get(LIST)

    assert b"Request an unredacted export" not in response.content


def test_the_nav_links_to_the_exports_page(cast, login):
    response = login(cast.caseworker).get(reverse("cases:dashboard"))

    assert LIST.encode() in response.content


def test_a_redacted_export_downloads_at_once_without_identities(cast, login, other_case):
    response = login(cast.caseworker).post(
        reverse("exports:redacted_download"), {"redacted-format": "json"}
    )

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="refuge-redacted')
    assert response["Cache-Control"] == "no-store"
    body = streamed(response).decode()
    assert "FALCON" in body
    for secret in (FALCON_NAME, BIRCH_NAME, HERON_NAME, other_case.code):
        assert secret not in body
    assert audit_actions() == [services.DOWNLOADED]


def test_a_redacted_csv_downloads(cast, login):
    response = login(cast.caseworker).post(
        reverse("exports:redacted_download"), {"redacted-format": "csv"}
    )

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert b"FALCON" in streamed(response)


def test_an_unknown_case_code_is_explained_and_nothing_is_exported(cast, login, other_case):
    response = login(cast.caseworker).post(
        reverse("exports:redacted_download"),
        {"redacted-format": "json", "redacted-cases": f"{cast.case.code}, {other_case.code}"},
    )

    assert response.status_code == 400
    assert f"Unknown case code: {other_case.code}".encode() in response.content
    assert audit_actions() == []


def test_a_request_is_created_from_the_page(cast, login, nizhny):
    response = login(cast.caseworker).post(
        reverse("exports:request_create"),
        {"request-team": str(nizhny.pk), "request-purpose": PURPOSE},
    )

    assert response.status_code == 302
    request = ExportRequest.objects.get()
    assert (request.requested_by, request.team, request.purpose) == (
        cast.caseworker,
        nizhny,
        PURPOSE,
    )


def test_a_request_without_purpose_is_refused_on_the_page(cast, login, nizhny):
    response = login(cast.caseworker).post(
        reverse("exports:request_create"), {"request-team": str(nizhny.pk)}
    )

    assert response.status_code == 400
    assert b"This field is required." in response.content
    assert not ExportRequest.objects.exists()


def test_a_request_of_listed_cases_is_created(cast, login):
    login(cast.lawyer).post(
        reverse("exports:request_create"),
        {"request-cases": cast.case.code.lower(), "request-purpose": PURPOSE},
    )

    assert list(ExportRequest.objects.get().cases.all()) == [cast.case]


def test_coordinators_see_requests_waiting_for_them(cast, login, nizhny):
    request_team_export(cast.caseworker, nizhny)

    response = login(cast.coordinator).get(LIST)

    assert b"Waiting for your approval" in response.content
    assert PURPOSE.encode() in response.content


def test_the_dashboard_counts_waiting_requests_for_coordinators(cast, login, nizhny):
    request_team_export(cast.caseworker, nizhny)

    response = login(cast.coordinator).get(reverse("cases:dashboard"))

    assert b"1 export request is waiting" in response.content


def test_the_dashboard_does_not_count_a_coordinators_own_request(cast, login, nizhny):
    request_team_export(cast.coordinator, nizhny)

    response = login(cast.coordinator).get(reverse("cases:dashboard"))

    assert b"waiting for a coordinator" not in response.content


def test_approval_asks_for_a_recent_re_authentication(cast, login, nizhny):
    request = request_team_export(cast.caseworker, nizhny)

    response = login(cast.coordinator, step_up=False).post(_url("request_approve", request))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:step_up"))
    request.refresh_from_db()
    assert request.status == ExportStatus.PENDING


def test_a_second_coordinator_approves_on_the_page(cast, login, nizhny):
    request = request_team_export(cast.caseworker, nizhny)

    response = login(cast.coordinator).post(_url("request_approve", request))

    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == ExportStatus.APPROVED


def test_self_approval_is_refused_on_the_page_before_any_step_up(cast, login, nizhny):
    request = request_team_export(cast.coordinator, nizhny)

    response = login(cast.coordinator, step_up=False).post(_url("request_approve", request))

    assert response.status_code == 400
    assert b"A different coordinator must decide" in response.content


def test_a_requester_who_is_not_a_coordinator_cannot_approve(cast, login, nizhny):
    request = request_team_export(cast.caseworker, nizhny)

    response = login(cast.caseworker).post(_url("request_approve", request))

    assert response.status_code == 400
    assert b"Only a coordinator" in response.content


def test_another_staff_members_request_is_a_404(cast, login, nizhny):
    request = request_team_export(cast.caseworker, nizhny)

    response = login(cast.lawyer).post(_url("request_approve", request))

    assert response.status_code == 404


def test_a_rejection_with_its_reason_reaches_the_requester(cast, client_for, nizhny):
    request = request_team_export(cast.caseworker, nizhny)
    client_for(cast.coordinator).post(_url("request_reject", request), {"reason": "Too broad"})

    response = client_for(cast.caseworker).get(LIST)

    assert b"Too broad" in response.content
    request.refresh_from_db()
    assert request.status == ExportStatus.REJECTED


def test_a_rejection_without_reason_is_refused(cast, login, nizhny):
    request = request_team_export(cast.caseworker, nizhny)

    response = login(cast.coordinator).post(_url("request_reject", request), {"reason": ""})

    assert response.status_code == 400
    request.refresh_from_db()
    assert request.status == ExportStatus.PENDING


def test_download_asks_for_a_recent_re_authentication(cast, login, nizhny):
    request = approved_export(cast.caseworker, cast.coordinator, nizhny)

    response = login(cast.caseworker, step_up=False).post(
        _url("request_download", request), {"format": "json"}
    )

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:step_up"))
    request.refresh_from_db()
    assert request.status == ExportStatus.APPROVED


def test_the_requester_downloads_once(cast, login, nizhny):
    request = approved_export(cast.caseworker, cast.coordinator, nizhny)
    client = login(cast.caseworker)

    first = client.post(_url("request_download", request), {"format": "json"})
    second = client.post(_url("request_download", request), {"format": "json"})

    document = streamed_json(first)
    assert document["export"]["request_id"] == str(request.pk)
    assert FALCON_NAME in str(document)
    assert second.status_code == 400
    assert b"already been downloaded" in second.content


def test_the_approver_cannot_download(cast, login, nizhny):
    request = approved_export(cast.caseworker, cast.coordinator, nizhny)

    response = login(cast.coordinator).post(_url("request_download", request), {"format": "json"})

    assert response.status_code == 400
    assert b"Only the person who requested" in response.content


def test_an_approved_request_shows_its_download_button(cast, login, nizhny):
    approved_export(cast.caseworker, cast.coordinator, nizhny)

    response = login(cast.caseworker).get(LIST)

    assert b"Download once" in response.content


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("redacted_download", {"redacted-format": "json"}),
        ("request_create", {"request-purpose": PURPOSE}),
    ],
)
def test_every_form_needs_its_csrf_token(cast, name, data):
    client = verified_login(Client(enforce_csrf_checks=True), cast.caseworker)

    response = client.post(reverse(f"exports:{name}"), data)

    assert response.status_code == 403


@pytest.mark.parametrize("name", ["request_approve", "request_reject", "request_download"])
def test_every_request_action_needs_its_csrf_token(cast, nizhny, name):
    request = request_team_export(cast.caseworker, nizhny)
    client = verified_login(Client(enforce_csrf_checks=True), cast.coordinator)

    response = client.post(_url(name, request), {"reason": "x", "format": "json"})

    assert response.status_code == 403
    request.refresh_from_db()
    assert request.status == ExportStatus.PENDING


def test_the_page_needs_a_login(client):
    response = client.get(LIST)

    assert response.status_code == 302
