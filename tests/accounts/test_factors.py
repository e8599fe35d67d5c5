"""Enrolment, recovery codes, device removal, demo seeds, and no secret in the audit or logs."""

from __future__ import annotations

import logging
import re

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from refuge.accounts import factors
from refuge.core.errors import DomainError
from refuge.security.models import AuditEntry
from tests.accounts.test_second_factor import code_for
from tests.conftest import Cast, verified_login
from tests.factories import PasskeyFactory, TotpDeviceFactory

pytestmark = pytest.mark.django_db

CODE_PATTERN = re.compile(r"\b[A-Z2-7]{4}(?:-[A-Z2-7]{4}){5}\b")


def all_audit_text() -> str:
    return "\n".join(f"{e.action} {e.detail}" for e in AuditEntry.objects.all())


def test_totp_enrolment_shows_a_local_qr_code_and_the_key(client: Client, cast: Cast) -> None:
    client.force_login(cast.analyst)

    page = client.get(reverse("accounts:totp_enrol")).content.decode()

    device = TOTPDevice.objects.get(user=cast.analyst, confirmed=False)
    qr = client.get(reverse("accounts:totp_qr"))
    assert f'src="{reverse("accounts:totp_qr")}"' in page
    assert qr["Content-Type"] == "image/png"
    assert qr.content.startswith(b"\x89PNG")
    secret = device.config_url.split("secret=", 1)[1].split("&", 1)[0]
    assert secret[:4] in page


def test_totp_enrolment_is_confirmed_with_a_code(client: Client, cast: Cast) -> None:
    client.force_login(cast.analyst)
    client.get(reverse("accounts:totp_enrol"))
    device = TOTPDevice.objects.get(user=cast.analyst, confirmed=False)

    response = client.post(reverse("accounts:totp_enrol"), {"code": code_for(device), "name": "A"})

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:recovery_codes")
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id


def test_totp_enrolment_refuses_a_wrong_code(client: Client, cast: Cast) -> None:
    client.force_login(cast.analyst)
    client.get(reverse("accounts:totp_enrol"))

    response = client.post(reverse("accounts:totp_enrol"), {"code": "123456"})

    assert response.status_code == 400
    assert not TOTPDevice.objects.filter(user=cast.analyst, confirmed=True).exists()


def test_ten_recovery_codes_of_120_bits_are_shown_once(cast: Cast, login) -> None:
    client = login(cast.operator)

    page = client.post(reverse("accounts:recovery_codes")).content.decode()

    codes = CODE_PATTERN.findall(page)
    assert len(set(codes)) == 10
    stored = list(StaticToken.objects.values_list("token", flat=True))
    assert not any(code.replace("-", "") in stored for code in codes)
    assert not CODE_PATTERN.findall(client.get(reverse("accounts:recovery_codes")).content.decode())


def _codes(user) -> list[str]:  # type: ignore[no-untyped-def]
    return factors.recovery_codes_generate(actor=user)


def test_recovery_code_works_once(client: Client, cast: Cast) -> None:
    TotpDeviceFactory(user=cast.operator)
    code = _codes(cast.operator)[0]
    client.force_login(cast.operator)
    first = client.post(reverse("accounts:second_factor"), {"method": "recovery", "code": code})
    other = Client()
    other.force_login(cast.operator)

    second = other.post(reverse("accounts:second_factor"), {"method": "recovery", "code": code})

    assert first.status_code == 302
    assert second.status_code == 400
    used = AuditEntry.objects.filter(action="refuge.accounts.factor.recovery_code_used")
    assert used.count() == 1


def test_recovery_code_is_read_leniently(client: Client, cast: Cast) -> None:
    TotpDeviceFactory(user=cast.operator)
    code = _codes(cast.operator)[0]
    client.force_login(cast.operator)

    response = client.post(
        reverse("accounts:second_factor"),
        {"method": "recovery", "code": code.lower().replace("-", " ")},
    )

    assert response.status_code == 302


def test_new_recovery_codes_invalidate_the_old(client: Client, cast: Cast) -> None:
    TotpDeviceFactory(user=cast.operator)
    old = _codes(cast.operator)[0]
    _codes(cast.operator)
    client.force_login(cast.operator)

    response = client.post(reverse("accounts:second_factor"), {"method": "recovery", "code": old})

    assert response.status_code == 400


def test_last_required_factor_cannot_be_removed(cast: Cast) -> None:
    passkey = PasskeyFactory(user=cast.lawyer)
    TotpDeviceFactory(user=cast.lawyer)  # TOTP does not count for a lawyer

    with pytest.raises(DomainError):
        factors.device_remove(actor=cast.lawyer, device=passkey, current=None, session_key=None)


def test_removing_a_device_asks_for_confirmation_first(cast: Cast, login) -> None:
    client = login(cast.lawyer)
    spare = PasskeyFactory(user=cast.lawyer, name="Spare key")
    url = reverse("accounts:device_remove") + f"?device={spare.persistent_id}"

    page = client.get(url).content.decode()

    assert "Spare key" in page
    assert factors.user_factors(cast.lawyer).passkeys[-1].pk == spare.pk


def test_removing_a_device_ends_the_other_sessions(cast: Cast, login) -> None:
    client = login(cast.lawyer)
    spare = PasskeyFactory(user=cast.lawyer)
    other = verified_login(Client(), cast.lawyer)

    client.post(reverse("accounts:device_remove"), {"device": spare.persistent_id})

    assert other.get(reverse("cases:dashboard")).status_code == 302
    assert client.get(reverse("cases:dashboard")).status_code == 200
    assert not factors.user_factors(cast.lawyer).passkeys[1:]


def test_someone_elses_device_cannot_be_removed(cast: Cast, login) -> None:
    theirs = PasskeyFactory(user=cast.caseworker)
    client = login(cast.lawyer)

    client.post(reverse("accounts:device_remove"), {"device": theirs.persistent_id})

    assert factors.user_factors(cast.caseworker).passkeys == [theirs]


def test_demo_seed_is_refused_outside_demo_mode(client: Client, cast: Cast) -> None:
    device = TotpDeviceFactory(user=cast.operator, key=factors.demo_totp_key("operator"))
    client.force_login(cast.operator)

    response = client.post(
        reverse("accounts:second_factor"), {"method": "totp", "code": code_for(device)}
    )

    assert response.status_code == 400
    assert AuditEntry.objects.filter(
        action="refuge.accounts.factor.verify_failed", detail__contains="demo_secret"
    ).exists()


def test_demo_devices_are_only_created_in_demo_mode(cast: Cast) -> None:
    with pytest.raises(DomainError):
        factors.demo_totp_device(user=cast.operator)


@override_settings(DEMO_MODE=True)
def test_demo_seed_works_in_demo_mode(client: Client, cast: Cast) -> None:
    device = factors.demo_totp_device(user=cast.operator)
    client.force_login(cast.operator)

    response = client.post(
        reverse("accounts:second_factor"), {"method": "totp", "code": code_for(device)}
    )

    assert response.status_code == 302


def test_no_seed_or_code_reaches_the_audit_or_the_logs(
    client: Client, cast: Cast, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client.force_login(cast.analyst)
    client.get(reverse("accounts:totp_enrol"))
    device = TOTPDevice.objects.get(user=cast.analyst, confirmed=False)
    totp_code = code_for(device)
    client.post(reverse("accounts:totp_enrol"), {"code": totp_code})
    codes = CODE_PATTERN.findall(client.post(reverse("accounts:recovery_codes")).content.decode())
    other = Client()
    other.force_login(cast.analyst)
    other.post(reverse("accounts:second_factor"), {"method": "recovery", "code": codes[0]})
    other.post(reverse("accounts:second_factor"), {"method": "totp", "code": "999999"})

    secret = device.config_url.split("secret=", 1)[1].split("&", 1)[0]
    haystacks = [all_audit_text(), caplog.text]
    needles = [device.key, secret, totp_code, *codes, *(c.replace("-", "") for c in codes)]
    assert not [n for n in needles for h in haystacks if n in h]


def test_password_alone_cannot_add_an_authenticator_to_an_enrolled_account(
    client: Client, cast: Cast
) -> None:
    TotpDeviceFactory(user=cast.operator)
    client.force_login(cast.operator)  # password accepted, second factor not passed

    response = client.get(reverse("accounts:totp_enrol"))

    assert response.status_code == 302
    assert TOTPDevice.objects.filter(user=cast.operator).count() == 1


def test_password_alone_cannot_generate_recovery_codes(client: Client, cast: Cast) -> None:
    TotpDeviceFactory(user=cast.operator)
    client.force_login(cast.operator)

    client.post(reverse("accounts:recovery_codes"))

    assert not StaticToken.objects.exists()


def test_password_alone_cannot_register_a_passkey_on_an_enrolled_account(
    client: Client, cast: Cast
) -> None:
    TotpDeviceFactory(user=cast.lawyer)  # a lawyer's old TOTP: not a factor the role may use
    client.force_login(cast.lawyer)

    response = client.post(reverse("otp_webauthn:credential-registration-begin"))

    assert response.status_code == 403


def test_a_new_account_may_begin_registering_a_passkey(client: Client, cast: Cast) -> None:
    client.force_login(cast.lawyer)

    response = client.post(reverse("otp_webauthn:credential-registration-begin"))

    assert response.status_code == 200
    assert response.json()["rp"]["id"] == "localhost"
