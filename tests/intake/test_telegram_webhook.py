"""Telegram's webhook mode: updates posted to /intake/telegram/ with the secret header are handled
exactly as the polling bot handles them; a missing or wrong secret, an oversized or malformed
body and a replayed update change nothing. `refuge telegramwebhook` sets, shows and deletes the
webhook through the Bot API (a local stand-in)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from refuge.alerts.models import Checkin, Emergency, EmergencySource, InboundMessage
from refuge.alerts.services import checkin_links, checkins
from refuge.intake import telegram_webhook
from tests.alerts.conftest import DURESS_PIN, NORMAL_PIN
from tests.conftest import Cast
from tests.intake.fake_bot_api import FakeBotApi, serve

pytestmark = pytest.mark.django_db

TOKEN = "7000001:AAwebhook-token-that-must-never-be-logged"
SECRET = "Webhook_secret-for-tests-0123456789abcdef"
URL = "/intake/telegram/"
FALCON_CHAT = 555001
STRANGER_CHAT = 555999


@pytest.fixture
def bot_api(settings, cast: Cast, at_call_time, falcon_schedule) -> Iterator[FakeBotApi]:  # type: ignore[no-untyped-def]
    api = FakeBotApi(token=TOKEN)
    server, url = serve(api)
    settings.TELEGRAM_BOT_TOKEN = TOKEN
    settings.TELEGRAM_API_URL = url
    settings.TELEGRAM_WEBHOOK_SECRET = SECRET
    settings.PUBLIC_BASE_URL = "https://refuge.example.org"
    checkin_links.binding_add(
        actor=None, person=cast.falcon, kind="telegram", sender=str(FALCON_CHAT)
    )
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


def push(update: dict[str, Any] | bytes, *, secret: str | None = SECRET) -> Any:
    """Post an update as Telegram does."""
    body = update if isinstance(update, bytes) else json.dumps(update).encode()
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    return Client().post(URL, data=body, content_type="application/json", headers=headers)


def _nothing_handled(api: FakeBotApi) -> None:
    assert not Emergency.objects.exists()
    assert not Checkin.objects.exists()
    assert not InboundMessage.objects.exists()
    assert api.sent == []


def test_sos_by_webhook(bot_api: FakeBotApi, cast: Cast):
    response = push(bot_api.message(FALCON_CHAT, "/sos"))
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert bot_api.replies_to(FALCON_CHAT) == ["Received. Help is being arranged."]
    emergency = Emergency.objects.get()
    assert emergency.source == EmergencySource.SOS
    assert list(emergency.people.all()) == [cast.falcon]
    assert bot_api.deleted == []
    assert "getMe" not in bot_api.calls  # no extra round trip per update


def test_check_ins_by_webhook_are_identical_for_normal_and_duress_pins(bot_api: FakeBotApi):
    normal = bot_api.message(FALCON_CHAT, NORMAL_PIN)
    duress = bot_api.message(FALCON_CHAT, DURESS_PIN)
    assert push(normal).status_code == 200
    assert push(duress).status_code == 200
    replies = bot_api.replies_to(FALCON_CHAT)
    assert len(replies) == 2
    assert replies[0] == replies[1]
    assert replies[0].startswith("Thank you. Next check-in: from ")
    assert {c.channel for c in Checkin.objects.all()} == {"telegram"}
    assert bot_api.deleted == [
        (FALCON_CHAT, normal["message"]["message_id"]),
        (FALCON_CHAT, duress["message"]["message_id"]),
    ]
    checkins.raise_duress_alarms()  # the worker's tick
    assert Emergency.objects.get().source == EmergencySource.DURESS


def test_an_unknown_chat_gets_the_same_replies(bot_api: FakeBotApi):
    for text in ["SOS", "0000", "cancel 0000", "hello"]:
        push(bot_api.message(FALCON_CHAT, text))
        push(bot_api.message(STRANGER_CHAT, text))
    assert bot_api.replies_to(FALCON_CHAT) == bot_api.replies_to(STRANGER_CHAT)


@pytest.mark.parametrize(
    "secret", [None, "", "wrong", SECRET[:-1], SECRET + "x", SECRET.upper(), "é" * 40]
)
def test_a_missing_or_wrong_secret_is_refused_and_nothing_is_handled(bot_api, secret):
    response = push(bot_api.message(FALCON_CHAT, "/sos"), secret=secret)
    assert response.status_code == 403
    _nothing_handled(bot_api)


def test_the_secret_is_compared_in_constant_time(bot_api, monkeypatch):
    compared: list[tuple[bytes, bytes]] = []

    def compare_digest(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(telegram_webhook.hmac, "compare_digest", compare_digest)
    push(bot_api.message(FALCON_CHAT, "/sos"), secret="wrong")
    assert compared == [(b"wrong", SECRET.encode())]


@pytest.mark.parametrize("off", ["TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_BOT_TOKEN"])
def test_webhook_mode_off_answers_404(bot_api, settings, off):
    setattr(settings, off, "")
    response = push(bot_api.message(FALCON_CHAT, "/sos"))
    assert response.status_code == 404
    _nothing_handled(bot_api)


def test_an_oversized_body_is_refused(bot_api: FakeBotApi):
    update = bot_api.message(FALCON_CHAT, "/sos")
    body = json.dumps(update).encode()
    padded = body[:-1] + b"," + json.dumps({"pad": "x" * telegram_webhook.MAX_BODY}).encode()[1:]
    assert push(padded).status_code == 413
    _nothing_handled(bot_api)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"message": {}}',
        b'{"update_id": "12"}',
        b'{"update_id": -1}',
        b'{"update_id": true}',
        b'{"update_id": 12, "message": "hello"}',
        b'{"update_id": 12, "message": {"chat": 5}}',
    ],
)
def test_a_body_that_is_not_an_update_is_refused(bot_api, body):
    assert push(body).status_code == 400
    _nothing_handled(bot_api)


def test_get_is_not_allowed(bot_api):
    response = Client().get(URL, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert response.status_code == 405


def test_a_replayed_update_changes_nothing(bot_api: FakeBotApi):
    update = bot_api.message(FALCON_CHAT, NORMAL_PIN)
    assert push(update).status_code == 200
    assert push(update).status_code == 200  # 200, or Telegram would keep sending it
    assert Checkin.objects.count() == 1
    assert len(bot_api.replies_to(FALCON_CHAT)) == 1


def test_a_message_delivered_again_under_a_new_update_id_is_handled_once(bot_api: FakeBotApi):
    update = bot_api.message(FALCON_CHAT, "/sos")
    push(update)
    bot_api.redeliver(update)
    assert push(bot_api.updates[-1]).status_code == 200
    assert Emergency.objects.count() == 1
    assert len(bot_api.replies_to(FALCON_CHAT)) == 1


def test_the_replay_record_does_not_name_the_chat(bot_api: FakeBotApi):
    push(bot_api.message(FALCON_CHAT, "/sos"))
    stored = list(InboundMessage.objects.values_list("source", "message_hash"))
    assert stored
    assert all(str(FALCON_CHAT) not in source + digest for source, digest in stored)


@pytest.mark.parametrize("chat_type", ["group", "supergroup", "channel"])
def test_messages_outside_private_chats_are_ignored(bot_api: FakeBotApi, chat_type):
    assert push(bot_api.message(FALCON_CHAT, "/sos", chat_type=chat_type)).status_code == 200
    assert not Emergency.objects.exists()
    assert bot_api.sent == []


def test_a_failed_reply_keeps_the_update_handled(bot_api: FakeBotApi, settings, caplog):
    settings.TELEGRAM_API_URL = "http://127.0.0.1:9"  # nothing listens there
    with caplog.at_level(logging.INFO):
        response = push(bot_api.message(FALCON_CHAT, "/sos"))
    assert response.status_code == 200
    assert Emergency.objects.count() == 1
    assert "telegram reply failed (NetworkError)" in caplog.text
    assert TOKEN not in caplog.text


def test_logs_never_see_the_route_or_the_token(bot_api: FakeBotApi, caplog):
    with caplog.at_level(logging.DEBUG):
        push(bot_api.message(FALCON_CHAT, "/sos"), secret="wrong")
        push(b"not json")
        push(bot_api.message(FALCON_CHAT, "/sos"))
    assert "/intake/telegram" not in caplog.text
    assert TOKEN not in caplog.text
    assert SECRET not in caplog.text


# --- refuge telegramwebhook -------------------------------------------------------------------


def test_set_registers_the_url_and_the_secret(bot_api: FakeBotApi, capsys):
    call_command("telegramwebhook", "set")
    assert bot_api.webhook["url"] == "https://refuge.example.org/intake/telegram/"
    assert bot_api.webhook["secret_token"] == SECRET
    assert json.loads(bot_api.webhook["allowed_updates"]) == ["message"]
    out = capsys.readouterr().out
    assert "Webhook set" in out
    assert SECRET not in out


def test_set_with_another_url(bot_api: FakeBotApi):
    call_command("telegramwebhook", "set", "--url", "https://other.example.org/intake/telegram/")
    assert bot_api.webhook["url"] == "https://other.example.org/intake/telegram/"


def test_set_refuses_a_plain_http_url(bot_api: FakeBotApi, settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    with pytest.raises(CommandError, match="HTTPS"):
        call_command("telegramwebhook", "set")
    assert bot_api.webhook == {}


def test_set_needs_the_secret(bot_api: FakeBotApi, settings):
    settings.TELEGRAM_WEBHOOK_SECRET = ""
    with pytest.raises(CommandError, match="REFUGE_TELEGRAM_WEBHOOK_SECRET"):
        call_command("telegramwebhook", "set")
    assert bot_api.webhook == {}


def test_every_action_needs_the_token(bot_api: FakeBotApi, settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    for action in ("set", "delete", "status"):
        with pytest.raises(CommandError, match="REFUGE_TELEGRAM_BOT_TOKEN"):
            call_command("telegramwebhook", action)


def test_status_then_delete(bot_api: FakeBotApi, capsys):
    call_command("telegramwebhook", "status")
    assert "No webhook: the bot polls." in capsys.readouterr().out
    call_command("telegramwebhook", "set")
    call_command("telegramwebhook", "status")
    assert "Webhook: https://refuge.example.org/intake/telegram/" in capsys.readouterr().out
    call_command("telegramwebhook", "delete")
    assert bot_api.webhook == {}
    assert "pending updates kept" in capsys.readouterr().out


def test_delete_can_drop_pending_updates(bot_api: FakeBotApi):
    bot_api.message(FALCON_CHAT, "/sos")
    call_command("telegramwebhook", "delete", "--drop-pending")
    assert bot_api.updates == []


def test_a_refusing_api_is_named_without_the_token(bot_api: FakeBotApi, settings):
    settings.TELEGRAM_BOT_TOKEN = "7000001:AAanother-token-the-api-does-not-know"
    with pytest.raises(CommandError) as error:
        call_command("telegramwebhook", "status")
    assert "refused us" in str(error.value)
    assert "AAanother" not in str(error.value)


def test_polling_says_so_when_a_webhook_is_set(bot_api: FakeBotApi):
    call_command("telegramwebhook", "set")
    bot_api.message(FALCON_CHAT, "/sos")
    with pytest.raises(CommandError, match="telegramwebhook delete"):
        call_command("telegrambot", "--once")
    assert not Emergency.objects.exists()


@pytest.mark.parametrize("secret", ["short", "has spaces in it but is long enough 0123", "é" * 40])
def test_the_settings_refuse_a_weak_or_unusable_secret(tmp_path, secret):
    env = {
        **os.environ,
        "REFUGE_DEBUG": "1",
        "REFUGE_VAR_DIR": str(tmp_path),
        "REFUGE_TELEGRAM_WEBHOOK_SECRET": secret,
    }
    result = subprocess.run(
        [sys.executable, "-c", "import refuge.config.settings"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "REFUGE_TELEGRAM_WEBHOOK_SECRET must be 32 to 256 characters" in result.stderr
    assert secret not in result.stderr
