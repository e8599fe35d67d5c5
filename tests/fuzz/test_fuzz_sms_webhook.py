"""The SMS gateway's webhook: any body, signature, timestamp and content type gets a 2xx or a
4xx, never a server error, and a refused request changes nothing at all."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from refuge.core import clock
from tests.fuzz.conftest import FUZZ, hostile_text
from tests.security.sweep_tools import changed_tables, db_fingerprint

pytestmark = pytest.mark.django_db

SECRET = "fuzz-webhook-secret"
URL = "/intake/sms/"
REFUSALS = {400, 403, 409, 413}

json_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), hostile_text
)
message = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.uuids().map(str), json_values),
        "from": st.one_of(st.sampled_from(["+79001234567", "89001234567", ""]), json_values),
        "text": st.one_of(hostile_text, json_values),
        "extra": json_values,
    },
)
bodies = st.one_of(
    message.map(lambda m: json.dumps(m).encode()),
    st.binary(max_size=600),
    st.lists(json_values, max_size=3).map(lambda v: json.dumps(v).encode()),
    st.just(b"{" * 5000),
)


@pytest.fixture
def gateway(settings, cast):
    settings.SMS_WEBHOOK_SECRET = SECRET
    return Client()


def _sign(timestamp: str, body: bytes) -> str:
    return hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _post(client: Client, body: bytes, *, timestamp: str, signature: str, content_type: str):  # type: ignore[no-untyped-def]
    return client.post(
        URL,
        body,
        content_type=content_type,
        HTTP_X_REFUGE_TIMESTAMP=timestamp,
        HTTP_X_REFUGE_SIGNATURE=signature,
    )


def _answers_cleanly(response, before) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 200 or response.status_code in REFUSALS
    assert response["Content-Type"] == "application/json"
    if response.status_code != 200:
        assert not changed_tables(before, db_fingerprint())
    else:
        assert isinstance(json.loads(response.content)["reply"], str)


@FUZZ
@given(
    body=bodies,
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded"]
    ),
)
def test_any_signed_body_is_answered_or_refused_cleanly(gateway, body, content_type):
    before = db_fingerprint()
    stamp = str(int(clock.now().timestamp()))
    response = _post(
        gateway, body, timestamp=stamp, signature=_sign(stamp, body), content_type=content_type
    )
    _answers_cleanly(response, before)


@FUZZ
@given(body=bodies, timestamp=hostile_text, signature=hostile_text)
def test_any_unsigned_request_is_refused_and_changes_nothing(gateway, body, timestamp, signature):
    before = db_fingerprint()
    headers = {"timestamp": timestamp.encode("utf-8", "ignore").decode("latin-1")[:200]}
    response = _post(
        gateway,
        body,
        timestamp=headers["timestamp"],
        signature=signature.encode("utf-8", "ignore").decode("latin-1")[:200],
        content_type="application/json",
    )
    assert response.status_code in REFUSALS
    assert not changed_tables(before, db_fingerprint())


@FUZZ
@given(skew=st.integers(min_value=-(10**12), max_value=10**12).filter(lambda s: abs(s) > 300))
def test_a_correctly_signed_stale_request_is_refused(gateway, skew):
    before = db_fingerprint()
    body = json.dumps({"id": "m-1", "from": "+79001234567", "text": "SOS"}).encode()
    stamp = str(int(clock.now().timestamp()) + skew)
    response = _post(
        gateway,
        body,
        timestamp=stamp,
        signature=_sign(stamp, body),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert not changed_tables(before, db_fingerprint())
