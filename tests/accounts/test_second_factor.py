"""The login's second step: every staff session needs a second factor before any staff page."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from refuge.accounts.models import SecurityNotice
from refuge.security.models import AuditEntry
from tests.conftest import Cast
from tests.factories import PasskeyFactory, TotpDeviceFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def code_for(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + steps_ahead * device.step
    return f"{totp.token():06d}"


def password_login(client: Client, username: str) -> str:
    """Log in with the password only; returns where the login page sent the browser."""
    response = client.post(reverse("accounts:login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return str(response["Location"])


@pytest.fixture
def operator(cast: Cast) -> TOTPDevice:
    cast.operator.set_password(PASSWORD)
    cast.operator.save()
    return TotpDeviceFactory(user=cast.operator)


def test_password_login_leads_to_the_second_factor(client: Client, operator: TOTPDevice) -> None:
    location = password_login(client, "operator")

    assert location.startswith(reverse("accounts:second_factor"))


def test_unverified_session_cannot_open_a_staff_page(client: Client, operator: TOTPDevice) -> None:
    password_login(client, "operator")

    response = client.get(reverse("cases:dashboard"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:second_factor"))


def test_unverified_htmx_request_is_redirected_by_header(
    client: Client, operator: TOTPDevice
) -> None:
    password_login(client, "operator")

    response = client.get(reverse("people:list"), headers={"HX-Request": "true"})

    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(reverse("accounts:second_factor"))


def test_unverified_session_gets_401_from_the_api(client: Client, operator: TOTPDevice) -> None:
    password_login(client, "operator")

    response = client.get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["detail"]


def test_operator_signs_in_with_a_totp_code(client: Client, operator: TOTPDevice) -> None:
    password_login(client, "operator")

    response = client.post(
        reverse("accounts:second_factor"),
        {"method": "totp", "code": code_for(operator), "next": reverse("people:list")},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("people:list")
    assert client.get(reverse("people:list")).status_code == 200


def test_second_factor_rotates_the_session_key(client: Client, operator: TOTPDevice) -> None:
    password_login(client, "operator")
    before = client.session.session_key

    client.post(reverse("accounts:second_factor"), {"method": "totp", "code": code_for(operator)})

    assert client.session.session_key != before
    assert client.session[DEVICE_ID_SESSION_KEY] == operator.persistent_id


def test_totp_code_cannot_be_used_twice(client: Client, operator: TOTPDevice) -> None:
    code = code_for(operator)
    password_login(client, "operator")
    client.post(reverse("accounts:second_factor"), {"method": "totp", "code": code})
    other = Client()
    password_login(other, "operator")

    response = other.post(reverse("accounts:second_factor"), {"method": "totp", "code": code})

    assert response.status_code == 400
    assert DEVICE_ID_SESSION_KEY not in other.session


def test_wrong_code_is_refused_with_a_message(client: Client, operator: TOTPDevice) -> None:
    password_login(client, "operator")

    response = client.post(reverse("accounts:second_factor"), {"method": "totp", "code": "000000"})

    assert response.status_code == 400
    assert "not valid" in response.content.decode()


def test_account_without_a_factor_is_sent_to_enrolment(client: Client, cast: Cast) -> None:
    cast.analyst.set_password(PASSWORD)
    cast.analyst.save()
    password_login(client, "analyst")

    response = client.get(reverse("cases:dashboard"))

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:enrol")


def test_enrolment_page_offers_passkey_and_totp_to_an_analyst(client: Client, cast: Cast) -> None:
    client.force_login(cast.analyst)

    page = client.get(reverse("accounts:enrol")).content.decode()

    assert "passkey-register-button" in page
    assert reverse("accounts:totp_enrol") in page


@pytest.mark.parametrize("role", ["coordinator", "caseworker", "lawyer"])
def test_passkey_roles_are_not_offered_totp(client: Client, cast: Cast, role: str) -> None:
    client.force_login(cast.by_role()[role])

    page = client.get(reverse("accounts:enrol")).content.decode()
    response = client.get(reverse("accounts:totp_enrol"))

    assert reverse("accounts:totp_enrol") not in page
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=cast.by_role()[role]).exists()


@pytest.mark.parametrize("role", ["coordinator", "caseworker", "lawyer"])
def test_passkey_roles_cannot_sign_in_with_totp(client: Client, cast: Cast, role: str) -> None:
    user = cast.by_role()[role]
    PasskeyFactory(user=user)
    device = TotpDeviceFactory(user=user)
    client.force_login(user)

    response = client.post(
        reverse("accounts:second_factor"), {"method": "totp", "code": code_for(device)}
    )

    assert response.status_code == 400
    assert "passkey" in response.content.decode()
    assert DEVICE_ID_SESSION_KEY not in client.session


def test_passkey_role_with_only_totp_may_only_enrol_a_passkey(client: Client, cast: Cast) -> None:
    device = TotpDeviceFactory(user=cast.lawyer)
    client.force_login(cast.lawyer)
    client.post(reverse("accounts:second_factor"), {"method": "totp", "code": code_for(device)})

    response = client.get(reverse("cases:dashboard"))

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:enrol")


def test_five_wrong_codes_lock_the_account(client: Client, operator: TOTPDevice) -> None:
    password_login(client, "operator")
    for _attempt in range(4):
        client.post(reverse("accounts:second_factor"), {"method": "totp", "code": "000000"})

    response = client.post(reverse("accounts:second_factor"), {"method": "totp", "code": "000000"})

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(action="refuge.accounts.factor.locked_out").count() == 1


def test_locked_account_refuses_the_right_code(client: Client, operator: TOTPDevice) -> None:
    password_login(client, "operator")
    for _attempt in range(5):
        client.post(reverse("accounts:second_factor"), {"method": "totp", "code": "000000"})
    password_login(client, "operator")

    response = client.post(
        reverse("accounts:second_factor"), {"method": "totp", "code": code_for(operator)}
    )

    assert response.status_code == 403
    assert DEVICE_ID_SESSION_KEY not in client.session


def test_coordinators_are_told_of_a_second_factor_lockout(
    client: Client, operator: TOTPDevice, cast: Cast, login
) -> None:
    password_login(client, "operator")
    for _attempt in range(5):
        client.post(reverse("accounts:second_factor"), {"method": "totp", "code": "000000"})

    page = login(cast.coordinator).get(reverse("accounts:notice_list")).content.decode()

    kinds = set(SecurityNotice.objects.values_list("kind", flat=True))
    assert kinds == {
        SecurityNotice.Kind.SECOND_FACTOR_FAILED,
        SecurityNotice.Kind.SECOND_FACTOR_LOCKED_OUT,
    }
    assert "operator" in page
    assert (
        reverse("accounts:notice_list")
        in login(cast.coordinator).get(reverse("cases:dashboard")).content.decode()
    )


def test_notices_page_is_for_coordinators_only(cast: Cast, login) -> None:
    response = login(cast.caseworker).get(reverse("accounts:notice_list"))

    assert response.status_code == 403
    assert "Security notices are for coordinators." in response.content.decode()


def test_password_lockout_raises_one_notice(client: Client, cast: Cast) -> None:
    for _attempt in range(7):
        client.post(reverse("accounts:login"), {"username": "operator", "password": "wrong"})

    notices = SecurityNotice.objects.filter(kind=SecurityNotice.Kind.LOGIN_LOCKED_OUT)
    assert [n.user for n in notices] == [cast.operator]
