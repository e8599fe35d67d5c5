"""The Telegram bot, run by `refuge telegrambot --once` against a local stand-in for the Bot API."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from django.core.management import CommandError, call_command

from refuge.alerts.models import Checkin, Emergency, EmergencySource
from refuge.alerts.services import checkin_links, checkins
from tests.alerts.conftest import DURESS_PIN, NORMAL_PIN
from tests.conftest import Cast
from tests.intake.fake_bot_api import FakeBotApi, serve

pytestmark = pytest.mark.django_db

TOKEN = "7000001:AAtest-token-that-must-never-be-logged"
FALCON_CHAT = 555001
STRANGER_CHAT = 555999


@pytest.fixture
def bot_api(settings, cast: Cast, at_call_time, falcon_schedule) -> Iterator[FakeBotApi]:  # type: ignore[no-untyped-def]
    api = FakeBotApi(token=TOKEN)
    server, url = serve(api)
    settings.TELEGRAM_BOT_TOKEN = TOKEN
    settings.TELEGRAM_API_URL = url
    checkin_links.binding_add(
        actor=None, person=cast.falcon, kind="telegram", sender=str(FALCON_CHAT)
    )
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


def run_bot() -> None:
    call_command("telegrambot", "--once")


def test_sos_by_telegram(bot_api: FakeBotApi, cast: Cast):
    bot_api.message(FALCON_CHAT, "/sos")
    run_bot()
    assert bot_api.replies_to(FALCON_CHAT) == ["Received. Help is being arranged."]
    emergency = Emergency.objects.get()
    assert emergency.source == EmergencySource.SOS
    assert list(emergency.people.all()) == [cast.falcon]
    assert bot_api.deleted == []  # no PIN in it


def test_check_ins_by_telegram_are_identical_for_normal_and_duress_pins(
    bot_api: FakeBotApi, cast: Cast
):
    normal = bot_api.message(FALCON_CHAT, NORMAL_PIN)
    duress = bot_api.message(FALCON_CHAT, DURESS_PIN)
    run_bot()
    replies = bot_api.replies_to(FALCON_CHAT)
    assert len(replies) == 2
    assert replies[0] == replies[1]
    assert replies[0].startswith("Thank you. Next check-in: ")
    assert {c.channel for c in Checkin.objects.all()} == {"telegram"}
    # Both PIN messages are deleted from the chat, the same way.
    assert bot_api.deleted == [
        (FALCON_CHAT, normal["message"]["message_id"]),
        (FALCON_CHAT, duress["message"]["message_id"]),
    ]
    checkins.raise_duress_alarms()  # the worker's tick
    assert Emergency.objects.get().source == EmergencySource.DURESS


def test_an_unknown_chat_gets_the_same_replies(bot_api: FakeBotApi):
    texts = ["SOS", "/sos", "0000", "cancel 0000", "checkin 99", "hello"]
    for text in texts:
        bot_api.message(FALCON_CHAT, text)
        bot_api.message(STRANGER_CHAT, text)
    run_bot()
    assert bot_api.replies_to(FALCON_CHAT) == bot_api.replies_to(STRANGER_CHAT)
    assert len(bot_api.replies_to(STRANGER_CHAT)) == len(texts)
    assert len(bot_api.deleted) == 6  # the three PIN-bearing texts, from both chats


def test_start_tells_the_chat_its_code_for_binding(bot_api: FakeBotApi):
    bot_api.message(STRANGER_CHAT, "/start")
    run_bot()
    assert bot_api.replies_to(STRANGER_CHAT) == [f"Code: {STRANGER_CHAT}"]


def test_cancel_by_telegram(bot_api: FakeBotApi):
    bot_api.message(FALCON_CHAT, "SOS")
    bot_api.message(FALCON_CHAT, f"cancel {NORMAL_PIN}")
    run_bot()
    assert bot_api.replies_to(FALCON_CHAT)[-1] == "Cancelled."
    assert Emergency.objects.get().state == "resolved"


def test_a_redelivered_message_is_handled_once(bot_api: FakeBotApi):
    update = bot_api.message(FALCON_CHAT, NORMAL_PIN)
    run_bot()
    bot_api.redeliver(update)
    run_bot()
    assert Checkin.objects.count() == 1
    assert len(bot_api.replies_to(FALCON_CHAT)) == 1


def test_the_offset_is_confirmed_so_a_restart_does_not_fetch_again(bot_api: FakeBotApi):
    bot_api.message(FALCON_CHAT, NORMAL_PIN)
    run_bot()
    assert bot_api.updates == []
    run_bot()
    assert len(bot_api.replies_to(FALCON_CHAT)) == 1


def test_group_chats_and_non_text_messages_are_ignored(bot_api: FakeBotApi):
    bot_api.message(-100123, "SOS", chat_type="group")
    run_bot()
    assert bot_api.sent == []
    assert not Emergency.objects.exists()


def test_the_token_never_reaches_the_logs(bot_api: FakeBotApi, caplog):
    caplog.set_level(logging.DEBUG)
    bot_api.message(FALCON_CHAT, NORMAL_PIN)
    run_bot()
    assert bot_api.paths
    assert all(TOKEN in path for path in bot_api.paths)
    assert TOKEN not in caplog.text
    assert NORMAL_PIN not in caplog.text


def test_a_refused_token_is_reported_without_the_token(bot_api: FakeBotApi, settings):
    settings.TELEGRAM_BOT_TOKEN = "1:wrong-token-also-secret"
    with pytest.raises(CommandError) as caught:
        run_bot()
    assert "wrong-token" not in str(caught.value)


def test_without_a_token_the_bot_does_not_start(settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    with pytest.raises(CommandError):
        run_bot()


STAFF_CHAT = 777001


def test_staff_acknowledge_an_emergency_by_replying_in_telegram(bot_api: FakeBotApi, cast: Cast):
    from refuge.alerts.models import EmergencyState, StaffChannel

    StaffChannel.objects.create(user=cast.operator, kind="telegram", target=str(STAFF_CHAT))
    bot_api.message(FALCON_CHAT, "/sos")
    run_bot()
    emergency = Emergency.objects.get()
    bot_api.message(STAFF_CHAT, f"ack {emergency.code}")
    run_bot()
    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.ACKNOWLEDGED
    assert emergency.acknowledged_by == cast.operator
    assert bot_api.replies_to(STAFF_CHAT) == [f"Acknowledged: {emergency.code}."]


def test_an_acknowledgement_from_a_stranger_changes_nothing(bot_api: FakeBotApi, cast: Cast):
    bot_api.message(FALCON_CHAT, "/sos")
    run_bot()
    emergency = Emergency.objects.get()
    bot_api.message(STRANGER_CHAT, f"ack {emergency.code}")
    run_bot()
    emergency.refresh_from_db()
    assert emergency.acknowledged_at is None
    assert bot_api.replies_to(STRANGER_CHAT) == ["Not accepted."]
