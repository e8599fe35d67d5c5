"""The sealed web: 503 page and JSON, the banner, and the coordinators' unseal / seal-now pages
and API (404 for everyone else; a passkey step-up first; audited by holder, never the share)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from refuge.security.models import AuditEntry
from tests.conftest import FALCON_NAME, Cast
from tests.security import sealed_instance as sealed_support

pytestmark = pytest.mark.django_db
sealed_instance = sealed_support.sealed_instance  # the fixture
SEAL = reverse("accounts:seal_status")
UNSEAL = reverse("accounts:seal_unseal")
RESET = reverse("accounts:seal_reset")
NOW = reverse("accounts:seal_now")


def _person(cast: Cast) -> str:
    return reverse("people:detail", args=[cast.falcon.pk])


def test_an_encrypted_page_answers_503_sealed(login, cast: Cast, sealed_instance):
    response = login(cast.caseworker).get(_person(cast))
    assert response.status_code == 503
    page = response.content.decode()
    assert "Refuge is sealed: 2 key holders must unseal it" in page
    assert FALCON_NAME not in page


def test_the_api_answers_json_503_sealed(login, cast: Cast, sealed_instance):
    # A legal identity cannot be read while sealed (the emergency line's endpoints, by design,
    # answer with their encrypted texts marked sealed instead: tests/alerts/test_sealed_alerts.py).
    client = login(cast.caseworker, step_up=True)
    response = client.get(f"/api/v1/people/{cast.falcon.pk}/identity")
    assert response.status_code == 503, response.content
    assert response.json()["sealed"] is True


def test_the_same_page_works_after_the_unseal(login, cast: Cast, sealed_instance):
    sealed_instance.unseal()
    response = login(cast.caseworker).get(_person(cast))
    assert response.status_code == 200
    assert "key holders must unseal it" not in response.content.decode()


def test_every_staff_page_shows_the_sealed_banner(login, cast: Cast, sealed_instance):
    page = login(cast.operator).get(reverse("alerts:board")).content.decode()
    assert "key holders must unseal it" in page


def test_keyd_down_is_sealed_too(login, cast: Cast, sealed_instance, settings, tmp_path):
    from refuge.security.provider import get_crypto

    settings.KEYD_SOCKET = tmp_path / "nobody-listens.sock"
    get_crypto.cache_clear()
    assert login(cast.caseworker).get(_person(cast)).status_code == 503


@pytest.mark.parametrize(
    "role", ["caseworker", "lawyer", "operator", "analyst", "admin", "outsider"]
)
def test_only_coordinators_see_the_seal_pages(login, cast: Cast, sealed_instance, role):
    client = login(cast.by_role()[role])
    page = client.get(SEAL)
    assert page.status_code == 403
    assert "Sealing and unsealing are for coordinators." in page.content.decode()
    assert client.post(UNSEAL, {"share": "x"}).status_code == 403
    assert client.post(NOW).status_code == 403


def test_the_seal_page_shows_progress_k_of_n(login, cast: Cast, sealed_instance):
    sealed_instance.client.unseal(sealed_instance.result.shares[0].text())
    page = login(cast.coordinator).get(SEAL).content.decode()
    assert "Unseal progress: 1 of 2 shares entered (3 issued)." in page


def test_entering_a_share_needs_a_passkey_step_up(login, cast: Cast, sealed_instance):
    client = login(cast.coordinator, step_up=False)
    response = client.post(UNSEAL, {"share": sealed_instance.result.shares[0].text()})
    assert response.status_code == 302
    assert reverse("accounts:step_up") in response["Location"]
    assert sealed_instance.client.status().progress == 0


def test_a_coordinator_unseals_with_shares_and_it_is_audited_without_the_share(
    login, cast: Cast, sealed_instance
):
    client = login(cast.coordinator)
    for share in sealed_instance.result.shares[:2]:
        assert client.post(UNSEAL, {"share": share.text()}).status_code == 302
    assert not sealed_instance.client.status().sealed
    entries = AuditEntry.objects.filter(action="refuge.security.unseal.share_accepted")
    assert [json.loads(e.detail)["holder"] for e in entries] == ["coordinator", "coordinator"]
    payloads = [s.text().split(":")[5] for s in sealed_instance.result.shares]
    assert not any(p in e.detail for e in AuditEntry.objects.all() for p in payloads)


def test_a_share_can_be_uploaded_as_a_file(login, cast: Cast, sealed_instance):
    from django.core.files.uploadedfile import SimpleUploadedFile

    share = sealed_instance.result.shares[0].text().encode() + b"\n"
    login(cast.coordinator).post(UNSEAL, {"share_file": SimpleUploadedFile("s.txt", share)})
    assert sealed_instance.client.status().progress == 1


def test_a_bad_share_is_named_and_never_echoed(login, cast: Cast, sealed_instance):
    text = sealed_instance.result.shares[0].text()
    typo = text[:-8] + ("0" if text[-8] != "0" else "1") + text[-7:]
    response = login(cast.coordinator).post(UNSEAL, {"share": typo})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Share refused: share looks mistyped (checksum)" in page
    assert text.split(":")[5] not in page
    assert sealed_instance.client.status().progress == 0


def test_reset_drops_the_shares_entered(login, cast: Cast, sealed_instance):
    sealed_instance.client.unseal(sealed_instance.result.shares[0].text())
    login(cast.coordinator).post(RESET)
    assert sealed_instance.client.status().progress == 0


def test_seal_now_asks_for_confirmation_then_seals(login, cast: Cast, sealed_instance):
    sealed_instance.unseal()
    client = login(cast.coordinator)
    assert "Seal now?" in client.get(NOW).content.decode()
    assert sealed_instance.client.status().sealed is False
    assert client.post(NOW).status_code == 302
    assert sealed_instance.client.status().sealed is True
    assert AuditEntry.objects.filter(action="refuge.security.seal.sealed").count() == 1


def test_seal_now_needs_a_passkey_step_up(login, cast: Cast, sealed_instance):
    sealed_instance.unseal()
    response = login(cast.coordinator, step_up=False).post(NOW)
    assert response.status_code == 302
    assert sealed_instance.client.status().sealed is False


def test_the_api_status_is_for_any_staff(login, cast: Cast, sealed_instance):
    body = login(cast.operator).get("/api/v1/seal").json()
    assert body | {"instance_id": ""} == {
        "mode": "sealed",
        "sealed": True,
        "reachable": True,
        "initialised": True,
        "t": 2,
        "n": 3,
        "progress": 0,
        "instance_id": "",
    }


def test_the_api_unseals_and_seals_for_coordinators(login, cast: Cast, sealed_instance):
    client = login(cast.coordinator)
    for share in sealed_instance.result.shares[1:]:
        response = client.post(
            "/api/v1/seal/unseal", {"share": share.text()}, content_type="application/json"
        )
        assert response.status_code == 200
    assert response.json()["sealed"] is False
    assert client.post("/api/v1/seal/seal").json()["sealed"] is True


def test_the_api_names_a_bad_share(login, cast: Cast, sealed_instance):
    response = login(cast.coordinator).post(
        "/api/v1/seal/unseal",
        {"share": "refuge-share:v1:nonsense"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert "Share refused" in response.json()["detail"]


def test_the_api_hides_unseal_from_other_roles(login, cast: Cast, sealed_instance):
    response = login(cast.caseworker).post(
        "/api/v1/seal/unseal", {"share": "x"}, content_type="application/json"
    )
    assert response.status_code == 404


def test_in_key_file_mode_the_api_says_so(login, cast: Cast):
    assert login(cast.operator).get("/api/v1/seal").json()["mode"] == "keyfile"


def test_an_empty_submission_is_refused_with_a_message(login, cast: Cast, sealed_instance):
    response = login(cast.coordinator).post(UNSEAL, {"share": "  "})
    assert response.status_code == 400
    assert "Paste a share or upload a share file." in response.content.decode()


def test_the_demo_says_it_unsealed_itself(login, cast: Cast, sealed_instance, settings):
    settings.DEMO_MODE = True
    sealed_instance.unseal()
    page = login(cast.operator).get(reverse("alerts:board")).content.decode()
    assert "demo: unsealed automatically from var/demo-unseal.key" in page


def test_keys_rotate_while_sealed_says_to_unseal_first(sealed_instance):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="unseal it first"):
        call_command("keys", "rotate")
