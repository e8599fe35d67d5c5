"""Step-up: revealing a legal identity needs a fresh re-authentication that returns to the page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from refuge.accounts import stepup
from refuge.core import clock
from tests.accounts.test_second_factor import PASSWORD, code_for
from tests.conftest import FALCON_NAME, Cast
from tests.factories import TotpDeviceFactory

pytestmark = pytest.mark.django_db


def detail_url(cast: Cast) -> str:
    return reverse("people:detail", args=[cast.falcon.pk])


def test_identity_is_hidden_until_step_up(cast: Cast, login) -> None:
    client = login(cast.caseworker, step_up=False)

    page = client.get(detail_url(cast)).content.decode()

    assert FALCON_NAME not in page
    assert reverse("accounts:step_up") in page


def test_identity_is_shown_after_step_up(cast: Cast, login) -> None:
    client = login(cast.caseworker, step_up=True)

    page = client.get(detail_url(cast)).content.decode()

    assert FALCON_NAME in page


def test_step_up_expires(cast: Cast, login) -> None:
    client = login(cast.caseworker, step_up=True)

    with time_machine.travel(clock.now() + dt.timedelta(seconds=301)):
        page = client.get(detail_url(cast)).content.decode()

    assert FALCON_NAME not in page


def test_editing_a_person_redirects_to_step_up(cast: Cast, login) -> None:
    client = login(cast.caseworker, step_up=False)
    url = reverse("people:edit", args=[cast.falcon.pk])

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:step_up"))
    assert "next=" in response["Location"]


def test_outsider_still_gets_404_without_step_up(cast: Cast, login) -> None:
    client = login(cast.outsider, step_up=False)

    response = client.get(reverse("people:edit", args=[cast.falcon.pk]))

    assert response.status_code == 404


@pytest.fixture
def demo_caseworker(cast: Cast, settings: Any) -> TOTPDevice:
    """Demo mode: the caseworker re-authenticates with password and TOTP (passkeys relaxed)."""
    settings.DEMO_MODE = True
    cast.caseworker.set_password(PASSWORD)
    cast.caseworker.save()
    return TotpDeviceFactory(user=cast.caseworker)


def test_step_up_with_password_and_code_returns_to_the_page(
    cast: Cast, login, demo_caseworker: TOTPDevice
) -> None:
    client = login(cast.caseworker, step_up=False)
    before = client.session.session_key

    response = client.post(
        reverse("accounts:step_up"),
        {"password": PASSWORD, "code": code_for(demo_caseworker), "next": detail_url(cast)},
    )

    assert response.status_code == 302
    assert response["Location"] == detail_url(cast)
    assert client.session.session_key != before
    assert FALCON_NAME in client.get(detail_url(cast)).content.decode()


def test_step_up_refuses_a_wrong_password(cast: Cast, login, demo_caseworker: TOTPDevice) -> None:
    client = login(cast.caseworker, step_up=False)

    response = client.post(
        reverse("accounts:step_up"),
        {"password": "wrong", "code": code_for(demo_caseworker), "next": detail_url(cast)},
    )

    assert response.status_code == 400
    assert stepup.STEP_UP_AT not in client.session


def test_step_up_never_returns_to_another_site(
    cast: Cast, login, demo_caseworker: TOTPDevice
) -> None:
    client = login(cast.caseworker, step_up=False)

    response = client.post(
        reverse("accounts:step_up"),
        {"password": PASSWORD, "code": code_for(demo_caseworker), "next": "https://evil.example/"},
    )

    assert response["Location"] == reverse("cases:dashboard")


def test_step_up_with_totp_is_refused_where_a_passkey_is_required(cast: Cast, login) -> None:
    client = login(cast.caseworker, step_up=False)
    response = client.get(reverse("accounts:step_up") + "?passkey=1")

    assert 'name="code"' not in response.content.decode()


def _view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("sensitive")


def _request(cast: Cast, login, *, step_up: bool, passkey: bool = False, **headers: str) -> Any:
    client = login(cast.analyst, step_up=step_up)
    request = RequestFactory().get("/somewhere/?x=1", headers=headers)
    request.session = client.session
    request.user = cast.analyst
    request.user.is_verified = lambda: True  # type: ignore[method-assign]
    return request


def test_decorator_sends_to_step_up_with_next(cast: Cast, login) -> None:
    request = _request(cast, login, step_up=False)

    response = stepup.step_up_required()(_view)(request)

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:step_up") + "?next=%2Fsomewhere%2F%3Fx%3D1"


def test_decorator_answers_htmx_with_a_redirect_header(cast: Cast, login) -> None:
    request = _request(cast, login, step_up=False, **{"HX-Request": "true"})

    response = stepup.step_up_required()(_view)(request)

    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(reverse("accounts:step_up"))


def test_decorator_runs_the_view_after_step_up(cast: Cast, login) -> None:
    request = _request(cast, login, step_up=True)

    response = stepup.step_up_required()(_view)(request)

    assert response.content == b"sensitive"


def test_passkey_decorator_wants_a_passkey_step_up(cast: Cast, login) -> None:
    request = _request(cast, login, step_up=True)  # the analyst re-authenticated with TOTP

    response = stepup.step_up_required(passkey=True)(_view)(request)

    assert response.status_code == 302
    assert "passkey=1" in response["Location"]


@override_settings(DEMO_MODE=True)
def test_demo_mode_accepts_totp_for_a_passkey_step_up(cast: Cast, login) -> None:
    request = _request(cast, login, step_up=True)

    assert stepup.has_recent_step_up(request, passkey=True)


def test_unverified_session_has_no_step_up(cast: Cast, client: Client) -> None:
    client.force_login(cast.analyst)
    request = RequestFactory().get("/")
    request.session = client.session
    request.session[stepup.STEP_UP_AT] = clock.now().timestamp()
    request.user = cast.analyst
    request.user.is_verified = lambda: False  # type: ignore[method-assign]

    assert not stepup.has_recent_step_up(request)
