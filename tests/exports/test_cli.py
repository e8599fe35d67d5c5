"""`refuge export list|expire`: metadata only, never the purpose or any exported data."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from refuge.exports.models import ExportRequest, ExportStatus
from tests.exports.conftest import PURPOSE, approved_export, request_team_export

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("export", *args, stdout=out)
    return out.getvalue()


def test_the_list_shows_metadata_and_never_the_purpose(cast, nizhny):
    request = request_team_export(cast.caseworker, nizhny)

    output = run("list")

    assert str(request.pk) in output
    assert "caseworker" in output
    assert "team Nizhny team" in output
    assert PURPOSE not in output


def test_the_list_filters_by_status(cast, nizhny):
    request_team_export(cast.caseworker, nizhny)
    approved = approved_export(cast.lawyer, cast.coordinator, nizhny)

    output = run("list", "--status", "approved")

    assert str(approved.pk) in output
    assert "caseworker" not in output


def test_an_unknown_status_is_explained(cast):
    with pytest.raises(CommandError, match="Unknown status"):
        run("list", "--status", "spent")


def test_an_empty_list_says_so(db):
    assert run("list").strip() == "no export requests"


def test_expire_marks_overdue_requests(cast, nizhny, time_machine):
    time_machine.move_to("2026-03-01 10:00Z", tick=False)
    request_team_export(cast.caseworker, nizhny)
    time_machine.move_to("2026-03-03 10:00Z", tick=False)

    assert run("expire").strip() == "1 request(s) expired"
    assert ExportRequest.objects.get().status == ExportStatus.EXPIRED
