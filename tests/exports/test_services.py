"""The two-person rule, directly on the services: who may request, approve, reject and download,
once, within the window; every step and every refusal audited, never with content."""

from __future__ import annotations

import datetime as dt

import pytest

from refuge.core.errors import DomainError
from refuge.exports import services
from refuge.exports.models import ExportRequest, ExportStatus
from refuge.security.models import AuditEntry
from tests.exports.conftest import (
    PURPOSE,
    approved_export,
    audit_actions,
    last_audit,
    request_team_export,
)

pytestmark = pytest.mark.django_db


def test_a_request_starts_pending_with_its_purpose_encrypted(cast, nizhny):
    request = request_team_export(cast.caseworker, nizhny)

    stored = ExportRequest.objects.values("purpose_ct").get(pk=request.pk)
    assert request.status == ExportStatus.PENDING
    assert PURPOSE.encode() not in bytes(stored["purpose_ct"])
    assert ExportRequest.objects.get(pk=request.pk).purpose == PURPOSE


def test_a_purpose_is_required(cast, nizhny):
    with pytest.raises(DomainError) as refused:
        services.export_request_create(actor=cast.caseworker, purpose="   ", team=nizhny)

    assert "purpose" in refused.value.field_errors
    assert not ExportRequest.objects.exists()


def test_a_team_or_cases_are_required(cast):
    with pytest.raises(DomainError):
        services.export_request_create(actor=cast.caseworker, purpose=PURPOSE)

    assert not ExportRequest.objects.exists()


def test_a_team_and_cases_together_are_refused(cast, nizhny):
    with pytest.raises(DomainError):
        services.export_request_create(
            actor=cast.caseworker, purpose=PURPOSE, team=nizhny, cases=[cast.case]
        )


def test_staff_cannot_name_another_team(cast, other_case):
    with pytest.raises(DomainError) as refused:
        request_team_export(cast.caseworker, other_case.team)

    assert "team" in refused.value.field_errors


@pytest.mark.parametrize("role", ["operator", "analyst", "admin"])
def test_roles_that_never_see_identities_cannot_request(cast, nizhny, role):
    with pytest.raises(DomainError):
        request_team_export(cast.by_role()[role], nizhny)

    assert not ExportRequest.objects.exists()


def test_the_requester_cannot_approve_their_own_request(cast, nizhny):
    request = request_team_export(cast.coordinator, nizhny)

    with pytest.raises(DomainError, match="different coordinator"):
        services.export_request_approve(actor=cast.coordinator, request=request)

    request.refresh_from_db()
    assert request.status == ExportStatus.PENDING
    assert last_audit(services.REFUSED) == {"step": "approve", "why": "own_request"}


@pytest.mark.parametrize("role", ["caseworker", "lawyer", "operator", "analyst"])
def test_a_non_coordinator_cannot_approve(cast, nizhny, coordinator2, role):
    request = request_team_export(coordinator2, nizhny)

    with pytest.raises(DomainError, match="Only a coordinator"):
        services.export_request_approve(actor=cast.by_role()[role], request=request)

    request.refresh_from_db()
    assert request.status == ExportStatus.PENDING


def test_the_database_refuses_a_self_decided_request(cast, nizhny):
    # Defence in depth: even a write that skips the services cannot break the rule.
    from django.db import IntegrityError, transaction

    request = request_team_export(cast.coordinator, nizhny)
    with pytest.raises(IntegrityError), transaction.atomic():
        ExportRequest.objects.filter(pk=request.pk).update(decided_by=cast.coordinator)


def test_a_second_coordinator_approves_and_the_window_starts(cast, nizhny, time_machine):
    time_machine.move_to("2026-03-01 10:00Z", tick=False)
    request = request_team_export(cast.caseworker, nizhny)
    time_machine.move_to("2026-03-01 15:00Z", tick=False)

    approved = services.export_request_approve(actor=cast.coordinator, request=request)

    assert approved.status == ExportStatus.APPROVED
    assert approved.decided_by == cast.coordinator
    assert approved.expires_at == dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


def test_a_decided_request_cannot_be_approved_again(cast, nizhny, coordinator2):
    request = approved_export(cast.caseworker, cast.coordinator, nizhny)

    with pytest.raises(DomainError, match="already been decided"):
        services.export_request_approve(actor=coordinator2, request=request)


def test_a_rejection_needs_a_reason(cast, nizhny):
    request = request_team_export(cast.caseworker, nizhny)

    with pytest.raises(DomainError) as refused:
        services.export_request_reject(actor=cast.coordinator, request=request, reason=" ")

    assert "reason" in refused.value.field_errors
    request.refresh_from_db()
    assert request.status == ExportStatus.PENDING


def test_a_rejected_request_cannot_be_downloaded(cast, nizhny):
    request = request_team_export(cast.caseworker, nizhny)
    services.export_request_reject(actor=cast.coordinator, request=request, reason="Too broad")

    with pytest.raises(DomainError, match="rejected"):
        services.export_request_download_start(actor=cast.caseworker, request=request)


def test_a_pending_request_cannot_be_downloaded(cast, nizhny):
    request = request_team_export(cast.caseworker, nizhny)

    with pytest.raises(DomainError, match="not been approved"):
        services.export_request_download_start(actor=cast.caseworker, request=request)


def test_only_the_requester_downloads(cast, nizhny, coordinator2):
    request = approved_export(cast.caseworker, cast.coordinator, nizhny)

    with pytest.raises(DomainError, match="Only the person who requested"):
        services.export_request_download_start(actor=coordinator2, request=request)


def test_an_export_downloads_once(cast, nizhny):
    request = approved_export(cast.caseworker, cast.coordinator, nizhny)
    services.export_request_download_start(actor=cast.caseworker, request=request)

    with pytest.raises(DomainError, match="already been downloaded"):
        services.export_request_download_start(actor=cast.caseworker, request=request)

    assert last_audit(services.REFUSED) == {"step": "download", "why": "spent"}


def test_a_stale_copy_of_the_request_cannot_download_twice(cast, nizhny):
    # Two downloads racing with the same approved row: the conditional update lets one through.
    request = approved_export(cast.caseworker, cast.coordinator, nizhny)
    stale = ExportRequest.objects.get(pk=request.pk)
    services.export_request_download_start(actor=cast.caseworker, request=request)

    with pytest.raises(DomainError):
        services.export_request_download_start(actor=cast.caseworker, request=stale)

    assert audit_actions().count(services.DOWNLOADED) == 1


def test_an_undecided_request_expires_after_the_window(cast, nizhny, time_machine):
    time_machine.move_to("2026-03-01 10:00Z", tick=False)
    request = request_team_export(cast.caseworker, nizhny)
    time_machine.move_to("2026-03-02 10:00:01Z", tick=False)

    with pytest.raises(DomainError, match="expired"):
        services.export_request_approve(actor=cast.coordinator, request=request)

    request.refresh_from_db()
    assert request.status == ExportStatus.EXPIRED
    assert last_audit(services.EXPIRED) == {"was": "pending"}


def test_an_approved_export_expires_if_not_downloaded_in_time(cast, nizhny, time_machine):
    time_machine.move_to("2026-03-01 10:00Z", tick=False)
    request = approved_export(cast.caseworker, cast.coordinator, nizhny)
    time_machine.move_to("2026-03-02 10:00:01Z", tick=False)

    with pytest.raises(DomainError, match="window has closed"):
        services.export_request_download_start(actor=cast.caseworker, request=request)

    request.refresh_from_db()
    assert request.status == ExportStatus.EXPIRED


def test_a_download_just_inside_the_window_works(cast, nizhny, time_machine):
    time_machine.move_to("2026-03-01 10:00Z", tick=False)
    request = approved_export(cast.caseworker, cast.coordinator, nizhny)
    time_machine.move_to("2026-03-02 09:59Z", tick=False)

    services.export_request_download_start(actor=cast.caseworker, request=request)

    request.refresh_from_db()
    assert request.status == ExportStatus.DOWNLOADED


def test_the_window_follows_the_setting(cast, nizhny, settings, time_machine):
    settings.EXPORT_DOWNLOAD_HOURS = 2
    time_machine.move_to("2026-03-01 10:00Z", tick=False)
    request = request_team_export(cast.caseworker, nizhny)

    assert request.expires_at == dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def test_the_worker_job_expires_overdue_requests(cast, nizhny, time_machine):
    from refuge.exports import tasks

    time_machine.move_to("2026-03-01 10:00Z", tick=False)
    pending = request_team_export(cast.caseworker, nizhny)
    approved = approved_export(cast.lawyer, cast.coordinator, nizhny)
    time_machine.move_to("2026-03-03 00:00Z", tick=False)

    tasks.expire_requests({})

    statuses = set(
        ExportRequest.objects.filter(pk__in=[pending.pk, approved.pk]).values_list(
            "status", flat=True
        )
    )
    assert statuses == {ExportStatus.EXPIRED}
    assert audit_actions().count(services.EXPIRED) == 2


def test_every_step_is_audited_in_order(cast, nizhny):
    request = approved_export(cast.caseworker, cast.coordinator, nizhny)
    services.export_request_download_start(actor=cast.caseworker, request=request)

    assert audit_actions() == [services.REQUESTED, services.APPROVED, services.DOWNLOADED]


def test_a_rejection_is_audited_without_its_reason(cast, nizhny):
    request = request_team_export(cast.caseworker, nizhny)
    services.export_request_reject(actor=cast.coordinator, request=request, reason="Too broad")

    entry = AuditEntry.objects.get(action=services.REJECTED)
    assert "Too broad" not in entry.detail
    assert entry.actor_id == cast.coordinator.pk


def test_the_audit_never_holds_the_purpose_or_exported_content(cast, nizhny):
    from tests.conftest import BIRCH_NAME, FALCON_NAME, FALCON_PHONE

    request = approved_export(cast.caseworker, cast.coordinator, nizhny)
    services.export_request_download_start(actor=cast.caseworker, request=request)

    details = " ".join(AuditEntry.objects.values_list("detail", flat=True))
    for secret in (PURPOSE, FALCON_NAME, FALCON_PHONE, BIRCH_NAME):
        assert secret not in details


def test_the_download_audit_names_the_cases_and_revealed_people(cast, nizhny):
    request = approved_export(cast.caseworker, cast.coordinator, nizhny)
    services.export_request_download_start(actor=cast.caseworker, request=request, fmt="csv")

    detail = last_audit(services.DOWNLOADED)
    assert detail["kind"] == "unredacted"
    assert detail["format"] == "csv"
    assert detail["case_ids"] == [str(cast.case.pk)]
    assert set(detail["revealed_people"]) == {str(cast.falcon.pk), str(cast.birch.pk)}


def test_an_unknown_format_is_refused(cast, nizhny):
    request = approved_export(cast.caseworker, cast.coordinator, nizhny)

    with pytest.raises(DomainError):
        services.export_request_download_start(actor=cast.caseworker, request=request, fmt="xml")

    request.refresh_from_db()
    assert request.status == ExportStatus.APPROVED
