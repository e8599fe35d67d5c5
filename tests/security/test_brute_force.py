"""Brute force through the interfaces: the login lockout follows REFUGE_LOGIN_FAILURE_LIMIT and
does not tell an existing account from an unknown one; the check-in PIN locks after five wrong
PINs on the person's page and by SMS, the right PIN is refused while locked, the person's page
says check-ins there are paused, and the lockout (the page, a GET while locked, a cancel, the
unlock) looks byte for byte the same whether or not the schedule has a duress PIN.

(The services' lockout rules, the duress counter reset and the default login limit are tested
in tests/alerts/test_checkins.py and tests/web/test_accounts_login.py; not repeated here.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from refuge.alerts.models import Checkin, CheckinSchedule
from refuge.alerts.services import checkin_links, checkins
from refuge.core import clock
from refuge.people.models import ProtectedPerson
from tests.alerts.conftest import (
    DURESS_PIN,
    NORMAL_PIN,
    at_call_time,  # noqa: F401 - the clock stands still
)
from tests.conftest import BIRCH_PHONE, FALCON_PHONE, Cast
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
WRONG_PINS = ["0000", "1111", "9999", "12345", "00000000"]
SECRET = "brute-force-webhook-secret"
# Per-request values that differ between any two responses: CSP nonces and CSRF tokens.
NONCE = re.compile(rb'(nonce-[A-Za-z0-9+/=_-]+|nonce="[^"]*"|\b[A-Za-z0-9]{64}\b)')
TOKEN_COOKIE = re.compile(r"csrftoken=[A-Za-z0-9]+")


def _masked(response) -> tuple[int, bytes, dict[str, str]]:  # type: ignore[no-untyped-def]
    headers = {
        name: TOKEN_COOKIE.sub("csrftoken=*", NONCE.sub(b"nonce", value.encode()).decode())
        for name, value in response.headers.items()
    }
    return response.status_code, NONCE.sub(b"nonce", response.content), headers


# --- staff login ---------------------------------------------------------------------------------


def _fail_logins(client: Client, username: str, times: int):  # type: ignore[no-untyped-def]
    return [
        client.post(LOGIN, {"username": username, "password": "wrong-password-123"})
        for _attempt in range(times)
    ]


def test_the_login_locks_after_the_configured_number_of_failures(settings):
    settings.AXES_FAILURE_LIMIT = 3  # what REFUGE_LOGIN_FAILURE_LIMIT=3 sets
    UserFactory(username="lawyer")
    statuses = [r.status_code for r in _fail_logins(Client(), "lawyer", 3)]
    assert statuses == [200, 200, 429]


def test_the_lockout_is_identical_for_an_existing_and_an_unknown_account(settings):
    UserFactory(username="lawyer")
    limit = settings.AXES_FAILURE_LIMIT
    existing = _fail_logins(Client(), "lawyer", limit + 1)[-2:]
    unknown = _fail_logins(Client(), "nobody-here", limit + 1)[-2:]
    assert [_masked(r) for r in existing] == [_masked(r) for r in unknown]
    assert {r.status_code for r in existing} == {429}


# --- the check-in PIN on the person's page -----------------------------------------------------


def _schedule(person: ProtectedPerson, *, duress: str | None) -> CheckinSchedule:
    ProtectedPerson.objects.filter(pk=person.pk).update(languages="en")
    person.refresh_from_db()
    schedule = checkins.schedule_set(
        actor=None,
        person=person,
        kind="interval",
        interval_hours=24,
        time_zone="Europe/Moscow",
        grace_minutes=120,
    )
    return checkins.pins_set(actor=None, schedule=schedule, pin=NORMAL_PIN, duress_pin=duress)


def _page(person: ProtectedPerson) -> str:
    return checkin_links.link_path(checkin_links.link_issue(actor=None, person=person))


def _page_attempts(path: str, pins: list[str]):  # type: ignore[no-untyped-def]
    client = Client()
    return [client.post(path, {"action": "checkin", "pin": pin}) for pin in pins]


def test_five_wrong_pins_on_the_page_lock_and_the_right_pin_is_then_refused(
    cast: Cast,
    at_call_time,  # noqa: F811
):
    _schedule(cast.falcon, duress=DURESS_PIN)
    responses = _page_attempts(_page(cast.falcon), [*WRONG_PINS, NORMAL_PIN, DURESS_PIN])
    assert [r.status_code for r in responses] == [400] * 7
    assert not Checkin.objects.exclude(outcome=Checkin.Outcome.LOCKED).exists()  # none counted
    assert CheckinSchedule.objects.get().locked_until is not None


def test_the_page_lockout_is_identical_with_and_without_a_duress_pin(
    cast: Cast,
    at_call_time,  # noqa: F811
):
    _schedule(cast.falcon, duress=DURESS_PIN)
    _schedule(cast.birch, duress=None)
    sequence = [*WRONG_PINS, NORMAL_PIN, DURESS_PIN, "0000"]
    with_duress = _page_attempts(_page(cast.falcon), sequence)
    without = _page_attempts(_page(cast.birch), sequence)
    assert [_masked(r) for r in with_duress] == [_masked(r) for r in without]
    locked = set(CheckinSchedule.objects.values_list("locked_until", flat=True))
    assert len(locked) == 1
    assert None not in locked


def _locked_pages(sequence: list[str], cast: Cast):  # type: ignore[no-untyped-def]
    """The same PINs entered on FALCON's page (with a duress PIN) and BIRCH's (without)."""
    _schedule(cast.falcon, duress=DURESS_PIN)
    _schedule(cast.birch, duress=None)
    pages = (_page(cast.falcon), _page(cast.birch))
    return pages, [_page_attempts(page, sequence) for page in pages]


def test_the_locked_page_tells_the_person_alike_with_and_without_a_duress_pin(
    cast: Cast,
    at_call_time,  # noqa: F811
):
    (falcon, birch), _responses = _locked_pages(WRONG_PINS, cast)
    client = Client()
    views = [
        [
            client.get(page),
            client.post(page, {"action": "checkin", "pin": DURESS_PIN}),
            client.post(page, {"action": "cancel", "pin": DURESS_PIN}),
            client.post(page, {"action": "cancel", "pin": NORMAL_PIN}),
        ]
        for page in (falcon, birch)
    ]
    assert [_masked(r) for r in views[0]] == [_masked(r) for r in views[1]]
    html = views[0][0].content.decode()
    assert "Check-ins on this page are paused after several wrong PINs." in html
    assert 'value="checkin"' not in html
    assert 'value="sos"' in html  # SOS always works


def test_a_duress_pin_while_locked_alarms_without_a_trace_on_the_page(
    cast: Cast,
    at_call_time,  # noqa: F811
):
    from refuge.alerts.models import Alert, EmergencySource

    (falcon, birch), _responses = _locked_pages(WRONG_PINS, cast)
    duress = Client().post(falcon, {"action": "checkin", "pin": DURESS_PIN})
    wrong = Client().post(birch, {"action": "checkin", "pin": DURESS_PIN})  # BIRCH has none
    assert _masked(duress) == _masked(wrong)
    checkins.raise_duress_alarms()  # the worker's tick
    assert Alert.objects.get(source=EmergencySource.DURESS).person == cast.falcon


def test_after_an_unlock_both_pages_are_identical_again(
    cast: Cast,
    at_call_time,  # noqa: F811
):
    (falcon, birch), _responses = _locked_pages(WRONG_PINS, cast)
    for schedule in CheckinSchedule.objects.all():
        checkins.checkins_unlock(actor=cast.coordinator, schedule=schedule, reason="Called them.")
    client = Client()
    after = [
        [client.get(page), client.post(page, {"action": "checkin", "pin": "0000"})]
        for page in (falcon, birch)
    ]
    assert [_masked(r) for r in after[0]] == [_masked(r) for r in after[1]]
    assert "paused" not in after[0][0].content.decode()
    assert 'value="checkin"' in after[0][0].content.decode()


# --- the check-in PIN by SMS ----------------------------------------------------------------------


def _sms(client: Client, sender: str, text: str, message_id: str):  # type: ignore[no-untyped-def]
    body = json.dumps({"id": message_id, "from": sender, "text": text}).encode()
    stamp = str(int(clock.now().timestamp()))
    mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return client.post(
        "/intake/sms/",
        body,
        content_type="application/json",
        HTTP_X_REFUGE_TIMESTAMP=stamp,
        HTTP_X_REFUGE_SIGNATURE=mac,
    )


def test_the_sms_lockout_is_identical_with_and_without_a_duress_pin(
    cast: Cast,
    at_call_time,  # noqa: F811
    settings,
):
    settings.SMS_WEBHOOK_SECRET = SECRET
    replies = []
    for person, phone, duress in (
        (cast.falcon, FALCON_PHONE, DURESS_PIN),
        (cast.birch, BIRCH_PHONE, None),
    ):
        _schedule(person, duress=duress)
        checkin_links.binding_add(actor=None, person=person, kind="sms", sender=phone)
        client = Client()
        replies.append(
            [
                _masked(_sms(client, phone, f"CHECKIN {pin}", f"{phone}-{n}"))
                for n, pin in enumerate([*WRONG_PINS, NORMAL_PIN, DURESS_PIN])
            ]
        )
    assert replies[0] == replies[1]
    assert not Checkin.objects.exclude(outcome=Checkin.Outcome.LOCKED).exists()  # none counted
