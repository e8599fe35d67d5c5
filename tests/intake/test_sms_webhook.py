"""The SMS gateway's signed webhook: commands, replies that do not tell a bound sender from an
unknown one, and forged, replayed, stale or oversized requests refused with nothing changed."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest
from django.test import Client

from refuge.alerts.models import (
    Alert,
    ChannelBinding,
    Checkin,
    CheckinSchedule,
    Emergency,
    EmergencySource,
    InboundMessage,
)
from refuge.alerts.services import checkin_links, checkins
from refuge.core import clock
from refuge.security.models import AuditEntry
from tests.alerts.conftest import DURESS_PIN, NORMAL_PIN
from tests.conftest import FALCON_PHONE, Cast

pytestmark = pytest.mark.django_db

SECRET = "webhook-secret-for-tests"
URL = "/intake/sms/"
UNKNOWN_NUMBER = "+7 999 000-11-22"


@pytest.fixture
def gateway(settings, cast: Cast, at_call_time, falcon_schedule):  # type: ignore[no-untyped-def]
    settings.SMS_WEBHOOK_SECRET = SECRET
    checkin_links.binding_add(actor=None, person=cast.falcon, kind="sms", sender=FALCON_PHONE)
    return Gateway(Client())


class Gateway:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.count = 0

    def body(self, sender: str, text: str, message_id: str | None = None) -> bytes:
        self.count += 1
        return json.dumps(
            {"id": message_id or f"msg-{self.count}", "from": sender, "text": text}
        ).encode()

    def post(  # type: ignore[no-untyped-def]
        self,
        body: bytes,
        *,
        timestamp: int | None = None,
        secret: str = SECRET,
        signature: str | None = None,
    ):
        stamp = str(int(clock.now().timestamp()) if timestamp is None else timestamp)
        mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return self.client.post(
            URL,
            body,
            content_type="application/json",
            HTTP_X_REFUGE_TIMESTAMP=stamp,
            HTTP_X_REFUGE_SIGNATURE=mac if signature is None else signature,
        )

    def send(self, sender: str, text: str, message_id: str | None = None):  # type: ignore[no-untyped-def]
        return self.post(self.body(sender, text, message_id))


def _state() -> tuple[int, ...]:
    return (
        Alert.objects.count(),
        Checkin.objects.count(),
        InboundMessage.objects.count(),
        AuditEntry.objects.count(),
        CheckinSchedule.objects.get().failed_attempts,
    )


def test_the_binding_stores_only_a_keyed_hash(gateway: Gateway):
    binding = ChannelBinding.objects.get()
    digits = "".join(c for c in FALCON_PHONE if c.isdigit())
    assert digits not in binding.sender_hash
    assert binding.sender_hash.startswith("v1$")


def test_sos_from_a_bound_number(gateway: Gateway, cast: Cast):
    response = gateway.send("+79005550123", "SOS")
    assert response.status_code == 200
    assert response.json() == {"reply": "Received. Help is being arranged."}
    emergency = Emergency.objects.get()
    assert emergency.source == EmergencySource.SOS
    assert list(emergency.people.all()) == [cast.falcon]


@pytest.mark.parametrize("spelling", ["+7 900 555-01-23", "89005550123", "0079005550123"])
def test_a_number_is_recognised_however_it_is_written(gateway: Gateway, spelling: str):
    assert gateway.send(spelling, NORMAL_PIN).json()["reply"].startswith("Thank you.")


@pytest.mark.parametrize(
    "text", [NORMAL_PIN, f"CHECKIN {NORMAL_PIN}", f"  checkin   {NORMAL_PIN} "]
)
def test_check_in_commands(gateway: Gateway, text: str):
    response = gateway.send(FALCON_PHONE, text)
    assert response.status_code == 200
    assert response.json()["reply"].startswith("Thank you. Next check-in: ")
    assert Checkin.objects.get().channel == "webhook"


def test_normal_and_duress_check_ins_get_byte_identical_responses(gateway: Gateway, cast: Cast):
    normal = gateway.send(FALCON_PHONE, NORMAL_PIN)
    duress = gateway.send(FALCON_PHONE, DURESS_PIN)
    assert normal.status_code == duress.status_code == 200
    assert normal.content == duress.content
    assert dict(normal.headers) == dict(duress.headers)
    checkins.raise_duress_alarms()  # the worker's tick
    emergency = Emergency.objects.get()
    assert emergency.source == EmergencySource.DURESS
    assert list(emergency.people.all()) == [cast.falcon]


def test_an_unknown_number_gets_the_replies_a_bound_one_gets(gateway: Gateway):
    texts = ["SOS", "0000", "CHECKIN 0000", "CANCEL 0000", "hello", "/start", "12"]
    for text in texts:
        known = gateway.send(FALCON_PHONE, text)
        unknown = gateway.send(UNKNOWN_NUMBER, text)
        assert (known.status_code, known.content) == (unknown.status_code, unknown.content), text
    # The unknown SOS is an unknown caller's alert; the bound one is FALCON's.
    assert Emergency.objects.count() == 2


def test_an_unknown_number_with_some_pin_is_not_accepted(gateway: Gateway):
    response = gateway.send(UNKNOWN_NUMBER, NORMAL_PIN)
    assert response.json() == {"reply": "Not accepted."}
    assert not Checkin.objects.exists()


def test_cancel_with_the_pin(gateway: Gateway):
    gateway.send(FALCON_PHONE, "SOS")
    normal = gateway.send(FALCON_PHONE, f"CANCEL {NORMAL_PIN}")
    assert normal.json() == {"reply": "Cancelled."}
    assert Emergency.objects.get().state == "resolved"
    gateway.send(FALCON_PHONE, "sos")
    duress = gateway.send(FALCON_PHONE, f"cancel {DURESS_PIN}")
    assert duress.content == normal.content
    assert Emergency.objects.filter(state="open").count() == 1


def test_wrong_pins_by_sms_count_towards_the_lockout(gateway: Gateway):
    for _ in range(5):
        assert gateway.send(FALCON_PHONE, "0000").json() == {"reply": "Not accepted."}
    assert gateway.send(FALCON_PHONE, NORMAL_PIN).json() == {"reply": "Not accepted."}
    assert Alert.objects.get().source == EmergencySource.LOCKOUT


def test_a_replayed_message_is_refused_and_changes_nothing(gateway: Gateway):
    body = gateway.body(FALCON_PHONE, NORMAL_PIN, message_id="gw-42")
    assert gateway.post(body).status_code == 200
    before = _state()
    replay = gateway.post(body)
    assert replay.status_code == 409
    assert _state() == before
    # The same id with another text is the same message.
    assert gateway.send(FALCON_PHONE, "SOS", message_id="gw-42").status_code == 409
    assert _state() == before


def test_a_forged_signature_is_refused(gateway: Gateway):
    before = _state()
    body = gateway.body(FALCON_PHONE, "SOS")
    assert gateway.post(body, secret="not-the-secret").status_code == 403
    assert gateway.post(body, signature="").status_code == 403
    assert gateway.post(body, signature="zz" * 32).status_code == 403
    assert gateway.post(body, signature="é" * 64).status_code == 403
    tampered = body.replace(b"SOS", b"sos")
    stamp = int(clock.now().timestamp())
    mac = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert gateway.post(tampered, timestamp=stamp, signature=mac).status_code == 403
    assert _state() == before


@pytest.mark.parametrize("skew", [-301, 301, 10**9])
def test_a_stale_or_future_timestamp_is_refused(gateway: Gateway, skew: int):
    before = _state()
    stamp = int(clock.now().timestamp()) + skew
    assert gateway.post(gateway.body(FALCON_PHONE, "SOS"), timestamp=stamp).status_code == 403
    assert _state() == before


def test_a_timestamp_within_five_minutes_is_accepted(gateway: Gateway):
    stamp = int((clock.now() - dt.timedelta(seconds=299)).timestamp())
    assert gateway.post(gateway.body(FALCON_PHONE, "SOS"), timestamp=stamp).status_code == 200


def test_an_oversized_body_is_refused(gateway: Gateway):
    before = _state()
    body = gateway.body(FALCON_PHONE, "SOS " + "x" * 4096)
    assert len(body) > 4096
    assert gateway.post(body).status_code == 413
    assert _state() == before


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"id": "m1", "from": "+79005550123"}',
        b'{"id": 1, "from": "+79005550123", "text": "SOS"}',
        b'{"id": "", "from": "+79005550123", "text": "SOS"}',
        json.dumps({"id": "m" * 201, "from": "+7", "text": "SOS"}).encode(),
        json.dumps({"id": "m1", "from": "+7" + "0" * 50, "text": "SOS"}).encode(),
    ],
)
def test_malformed_messages_are_refused(gateway: Gateway, body: bytes):
    before = _state()
    assert gateway.post(body).status_code == 400
    assert _state() == before


def test_a_malformed_sender_is_treated_as_unknown(gateway: Gateway):
    assert gateway.send("not a number", "SOS").json() == {
        "reply": "Received. Help is being arranged."
    }
    assert not Emergency.objects.exists()  # nothing to tell apart: no sender to call back


def test_without_a_secret_the_webhook_does_not_exist(gateway: Gateway, settings):
    settings.SMS_WEBHOOK_SECRET = ""
    assert gateway.send(FALCON_PHONE, "SOS").status_code == 404
    assert not Emergency.objects.exists()


def test_only_post_is_allowed(gateway: Gateway):
    assert gateway.client.get(URL).status_code == 405
