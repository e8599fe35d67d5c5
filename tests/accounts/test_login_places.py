"""A login from a new place: coordinators are told (a notice, sent on their channels), and the
database keeps only a keyed digest of the network, never an address."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from refuge.accounts import places
from refuge.accounts.models import KnownPlace, SecurityNotice
from refuge.security.models import AuditEntry
from tests.accounts.test_second_factor import PASSWORD, code_for, password_login
from tests.conftest import Cast
from tests.factories import TotpDeviceFactory, UserFactory

pytestmark = pytest.mark.django_db

HOME = "203.0.113.7"
HOME_NEIGHBOUR = "203.0.200.9"  # the same /16
ELSEWHERE = "198.51.100.20"


def _new_place_notices() -> list[SecurityNotice]:
    return list(SecurityNotice.objects.filter(kind=SecurityNotice.Kind.NEW_PLACE_LOGIN))


def test_the_digest_is_of_the_network_keyed_and_per_account():
    alice, bob = UserFactory(), UserFactory()
    home = places.place_digest(alice, HOME)
    assert home is not None
    assert places.place_digest(alice, HOME_NEIGHBOUR) == home
    assert places.place_digest(alice, f"::ffff:{HOME}") == home
    assert places.place_digest(alice, ELSEWHERE) != home
    assert places.place_digest(bob, HOME) != home  # accounts cannot be compared
    with override_settings(SECRET_KEY="another-secret-key-" * 3):
        assert places.place_digest(alice, HOME) != home  # keyed: not a plain hash


def test_ipv6_places_are_the_providers_block():
    alice = UserFactory()
    assert places.place_digest(alice, "2001:db8:1::5") == places.place_digest(
        alice, "2001:db8:ffff::9"
    )
    assert places.place_digest(alice, "2001:db8::1") != places.place_digest(alice, "2001:db9::1")


@pytest.mark.parametrize("address", ["", "unknown", "999.1.1.1", "203.0.113.7, 10.0.0.1"])
def test_no_usable_address_records_nothing(address):
    alice = UserFactory()
    assert places.place_digest(alice, address) is None
    assert places.login_place_note(user=alice, address=address) is False
    assert not KnownPlace.objects.exists()


def test_the_first_login_only_records_the_place():
    alice = UserFactory()
    assert places.login_place_note(user=alice, address=HOME) is False
    assert KnownPlace.objects.filter(user=alice).count() == 1
    assert not _new_place_notices()


def test_a_known_place_raises_nothing():
    alice = UserFactory()
    places.login_place_note(user=alice, address=HOME)
    assert places.login_place_note(user=alice, address=HOME_NEIGHBOUR) is False
    assert not _new_place_notices()


def test_a_new_place_raises_a_notice_and_an_audit_entry():
    alice = UserFactory()
    places.login_place_note(user=alice, address=HOME)
    assert places.login_place_note(user=alice, address=ELSEWHERE) is True
    assert [n.user for n in _new_place_notices()] == [alice]
    entry = AuditEntry.objects.get(action="refuge.accounts.session.new_place")
    assert entry.object_id == str(alice.pk)
    assert ELSEWHERE not in entry.detail
    # Known from now on.
    assert places.login_place_note(user=alice, address=ELSEWHERE) is False


def test_no_address_or_network_is_stored():
    alice = UserFactory()
    for address in (HOME, ELSEWHERE):
        places.login_place_note(user=alice, address=address)
    stored = " ".join(KnownPlace.objects.values_list("digest", flat=True))
    for text in (HOME, ELSEWHERE, "203.0", "198.51"):
        assert text not in stored


def test_only_the_most_recent_places_are_kept():
    alice = UserFactory()
    for n in range(places.PLACES_KEPT + 5):
        places.login_place_note(user=alice, address=f"10.{n}.0.1")
    assert KnownPlace.objects.filter(user=alice).count() == places.PLACES_KEPT
    # The oldest were forgotten: coming back from there counts as new.
    assert places.login_place_note(user=alice, address="10.0.0.1") is True


@pytest.fixture
def operator(cast: Cast) -> TOTPDevice:
    cast.operator.set_password(PASSWORD)
    cast.operator.save()
    return TotpDeviceFactory(user=cast.operator)


def _full_login(address: str, device: TOTPDevice, steps_ahead: int) -> Client:
    client = Client(REMOTE_ADDR=address)
    password_login(client, "operator")
    response = client.post(
        reverse("accounts:second_factor"),
        {"method": "totp", "code": code_for(device, steps_ahead=steps_ahead)},
    )
    assert response.status_code == 302
    return client


def test_a_login_from_a_new_place_tells_the_coordinators(operator: TOTPDevice, cast: Cast):
    _full_login(HOME, operator, steps_ahead=0)
    assert not _new_place_notices()
    _full_login(ELSEWHERE, operator, steps_ahead=1)
    assert [n.user for n in _new_place_notices()] == [cast.operator]


def test_a_password_alone_does_not_count_as_a_login(operator: TOTPDevice):
    _full_login(HOME, operator, steps_ahead=0)
    password_login(Client(REMOTE_ADDR=ELSEWHERE), "operator")
    assert not _new_place_notices()
    assert KnownPlace.objects.count() == 1
