"""Shared pieces of the export tests: a second coordinator (the two-person rule needs one), a
case of another team, secrets in the case's narrative, and helpers to read streamed files."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.http import HttpResponseBase
from django.test import Client

from refuge.accounts.models import Role, Team, User
from refuge.cases.models import Case
from refuge.exports import services
from refuge.exports.models import ExportRequest
from refuge.security.models import AuditEntry
from tests.conftest import Cast, verified_login
from tests.factories import (
    CaseFactory,
    PersonFactory,
    TaskFactory,
    TimelineEntryFactory,
    UserFactory,
)

SUMMARY_SECRET = "Summary: hidden at Aunt Madina's flat"
NOTE_SECRET = "Note: the new safe flat is on Testovaya"
TASK_SECRET = "Task: buy a ticket for Rustam"
HERON_NAME = "Other Team Secretname"
PURPOSE = "Dossier for the ECHR application"


@pytest.fixture
def coordinator2(cast: Cast) -> User:
    return UserFactory(username="coordinator2", role=Role.COORDINATOR)


@pytest.fixture
def narrative(cast: Cast) -> None:
    """Secrets in the team case's summary, timeline and tasks."""
    cast.case.summary = SUMMARY_SECRET
    cast.case.save()
    TimelineEntryFactory(case=cast.case, text=NOTE_SECRET)
    TaskFactory(case=cast.case, title=TASK_SECRET, assignee=cast.lawyer)


@pytest.fixture
def other_case(cast: Cast) -> Case:
    """A case of the Moscow team (the outsider's), whose person nobody on Nizhny may see."""
    heron = PersonFactory(pseudonym="HERON", legal_name=HERON_NAME)
    return CaseFactory(team=Team.objects.get(name="Moscow team"), people=[heron])


@pytest.fixture
def nizhny(cast: Cast) -> Team:
    return Team.objects.get(name="Nizhny team")


def request_team_export(actor: User, team: Team, purpose: str = PURPOSE) -> ExportRequest:
    return services.export_request_create(actor=actor, purpose=purpose, team=team)


def approved_export(requester: User, approver: User, team: Team) -> ExportRequest:
    request = request_team_export(requester, team)
    return services.export_request_approve(actor=approver, request=request)


@pytest.fixture
def client_for() -> Callable[..., Client]:
    """A separate browser per user, signed in with a verified second factor."""

    def _client_for(user: User, *, step_up: bool = True) -> Client:
        return verified_login(Client(), user, step_up=step_up)

    return _client_for


def streamed(response: HttpResponseBase) -> bytes:
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


def streamed_json(response: HttpResponseBase) -> Any:
    return json.loads(streamed(response))


def audit_actions(prefix: str = "refuge.exports.") -> list[str]:
    return list(
        AuditEntry.objects.filter(action__startswith=prefix)
        .order_by("seq")
        .values_list("action", flat=True)
    )


def last_audit(action: str) -> dict[str, Any]:
    entry = AuditEntry.objects.filter(action=action).order_by("-seq").first()
    assert entry is not None, action
    return json.loads(entry.detail)
