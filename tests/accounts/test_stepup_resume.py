"""After the re-authentication that an approval asks for, the approval goes on without a second
click: the refused POST is kept server-side under a nonce and resumed by a POST with a CSRF
token. A nonce works once, in its own session, for its own path, and lapses."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse

from refuge.accounts import stepup
from refuge.core import clock
from refuge.exports.models import ExportStatus
from tests.conftest import verified_login
from tests.exports.conftest import approved_export, request_team_export, streamed

pytestmark = pytest.mark.django_db


def approve_url(export):
    return reverse("exports:request_approve", args=[export.pk])


def confirm(client: Client) -> None:
    """What the re-authentication page records on success."""
    session = client.session
    now = clock.now().timestamp()
    session[stepup.STEP_UP_AT] = now
    session[stepup.STEP_UP_PASSKEY_AT] = now
    session.save()


def resume_url(response) -> str:
    location = response["Location"]
    assert location.startswith(reverse("accounts:step_up"))
    match = re.search(r"next=([^&]+)", location)
    assert match
    return match.group(1).replace("%2F", "/")


def nonce_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


@pytest.fixture
def export(cast):
    return request_team_export(cast.caseworker, cast.case.team)


@pytest.fixture
def coordinator(cast):
    return verified_login(Client(enforce_csrf_checks=False), cast.coordinator, step_up=False)


def test_a_refused_approval_leads_through_the_step_up_to_the_resume_page(export, coordinator):
    response = coordinator.post(approve_url(export))
    url = resume_url(response)
    assert url.startswith("/accounts/step-up/resume/")
    export.refresh_from_db()
    assert export.status == ExportStatus.PENDING


def test_the_resume_page_posts_the_kept_action_from_a_focused_button(export, coordinator):
    url = resume_url(coordinator.post(approve_url(export)))
    confirm(coordinator)
    page = coordinator.get(url).content.decode()
    assert f'action="{approve_url(export)}"' in page
    assert f'name="step_up_resume" value="{nonce_of(url)}"' in page
    assert "csrfmiddlewaretoken" in page
    assert '<button type="submit" autofocus>' in page
    assert "accounts/resume.js" in page


def test_the_resumed_post_approves_without_a_second_click_on_approve(export, coordinator):
    url = resume_url(coordinator.post(approve_url(export)))
    confirm(coordinator)
    response = coordinator.post(approve_url(export), {"step_up_resume": nonce_of(url)})
    assert response.status_code == 302
    export.refresh_from_db()
    assert export.status == ExportStatus.APPROVED


def test_the_resume_page_without_a_fresh_step_up_asks_for_it_and_resumes_nothing(
    export, coordinator
):
    url = resume_url(coordinator.post(approve_url(export)))
    page = coordinator.get(url).content.decode()
    assert "step_up_resume" not in page
    assert reverse("accounts:step_up") in page


def test_the_resumed_post_still_needs_its_csrf_token(cast, export):
    client = verified_login(Client(enforce_csrf_checks=True), cast.coordinator, step_up=False)
    client.get(reverse("exports:export_list"))  # sets the CSRF cookie
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    url = resume_url(client.post(approve_url(export), {"csrfmiddlewaretoken": token}))
    confirm(client)
    response = client.post(approve_url(export), {"step_up_resume": nonce_of(url)})
    assert response.status_code == 403
    export.refresh_from_db()
    assert export.status == ExportStatus.PENDING


def test_a_nonce_works_once(export, coordinator, cast):
    url = resume_url(coordinator.post(approve_url(export)))
    confirm(coordinator)
    coordinator.post(approve_url(export), {"step_up_resume": nonce_of(url)})
    again = coordinator.post(approve_url(export), {"step_up_resume": nonce_of(url)}, follow=True)
    assert "That confirmation has lapsed" in again.content.decode()


def test_a_nonce_of_another_session_resumes_nothing(cast, export, coordinator):
    url = resume_url(coordinator.post(approve_url(export)))
    other = verified_login(Client(), cast.coordinator)
    response = other.post(approve_url(export), {"step_up_resume": nonce_of(url)})
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:dashboard")
    export.refresh_from_db()
    assert export.status == ExportStatus.PENDING


def test_a_nonce_lapses(export, coordinator):
    url = resume_url(coordinator.post(approve_url(export)))
    with time_machine.travel(clock.now() + dt.timedelta(seconds=stepup.RESUME_SECONDS + 1)):
        confirm(coordinator)
        response = coordinator.post(approve_url(export), {"step_up_resume": nonce_of(url)})
    assert response["Location"] == reverse("cases:dashboard")
    export.refresh_from_db()
    assert export.status == ExportStatus.PENDING


def test_a_nonce_for_one_path_does_not_resume_another(cast, export, coordinator):
    other = request_team_export(cast.lawyer, cast.case.team)
    url = resume_url(coordinator.post(approve_url(export)))
    confirm(coordinator)
    coordinator.post(approve_url(other), {"step_up_resume": nonce_of(url)})
    other.refresh_from_db()
    assert other.status == ExportStatus.PENDING


def test_a_download_resumes_with_the_chosen_format_only(cast):
    export = approved_export(cast.caseworker, cast.coordinator, cast.case.team)
    client = verified_login(Client(), cast.caseworker, step_up=False)
    url_ = reverse("exports:request_download", args=[export.pk])
    url = resume_url(client.post(url_, {"format": "csv", "note": "not kept"}))
    kept = client.session[stepup.PENDING][nonce_of(url)]["fields"]
    assert kept == {"format": ["csv"]}
    confirm(client)
    response = client.post(url_, {"step_up_resume": nonce_of(url)})
    assert response["Content-Type"].startswith("text/csv")
    assert streamed(response).decode("utf-8").startswith("\ufeffcode")


def test_a_spent_or_foreign_nonce_has_no_resume_page(cast, export, coordinator):
    url = resume_url(coordinator.post(approve_url(export)))
    other = verified_login(Client(), cast.coordinator)
    assert other.get(url).status_code == 404
    assert coordinator.get(reverse("accounts:step_up_resume", args=["unknown"])).status_code == 404
