"""Telegram's webhook: any body with the right secret is handled (200) or refused (400, 413),
never a server error, and a refused body changes nothing; without the secret every request is
refused with nothing changed."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ, hostile_text
from tests.fuzz.test_fuzz_telegram import update
from tests.intake.fake_bot_api import FakeBotApi, serve
from tests.security.sweep_tools import changed_tables, db_fingerprint

pytestmark = pytest.mark.django_db

TOKEN = "7000001:AAfuzz-token"
SECRET = "fuzz-webhook-secret-0123456789-abcdef"
URL = "/intake/telegram/"

json_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), hostile_text
)
bodies = st.one_of(
    update.map(lambda u: json.dumps(u).encode()),
    st.dictionaries(st.sampled_from(["update_id", "message", "x"]), json_values).map(
        lambda d: json.dumps(d).encode()
    ),
    st.binary(max_size=600),
    st.just(b"{" * 5000),
)


@pytest.fixture
def webhook(settings, cast) -> Iterator[Client]:  # type: ignore[no-untyped-def]
    api = FakeBotApi(token=TOKEN)
    server, url = serve(api)
    settings.TELEGRAM_BOT_TOKEN = TOKEN
    settings.TELEGRAM_API_URL = url
    settings.TELEGRAM_WEBHOOK_SECRET = SECRET
    try:
        yield Client()
    finally:
        server.shutdown()
        server.server_close()


@FUZZ
@given(body=bodies)
def test_any_body_with_the_secret_is_handled_or_refused_cleanly(webhook, body):
    before = db_fingerprint()
    response = webhook.post(
        URL, body, content_type="application/json", HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=SECRET
    )
    assert response.status_code in {200, 400, 413}
    if response.status_code != 200:
        assert not changed_tables(before, db_fingerprint())


@FUZZ
@given(body=bodies, secret=hostile_text)
def test_any_request_without_the_secret_changes_nothing(webhook, body, secret):
    before = db_fingerprint()
    given_secret = secret.encode("utf-8", "ignore").decode("latin-1")[:300]
    response = webhook.post(
        URL,
        body,
        content_type="application/json",
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=given_secret,
    )
    assert response.status_code == 403 or given_secret == SECRET
    assert not changed_tables(before, db_fingerprint())
