"""Telegram's webhook mode: updates pushed to POST /intake/telegram/ instead of polled.

Telegram sends the secret given to setWebhook (`refuge telegramwebhook set`) in the header
X-Telegram-Bot-Api-Secret-Token; it is compared in constant time before the body is read, and
nothing is done for a request without it. Each update id is accepted once (a replay changes
nothing), in the same transaction as the message's handling, so an update whose handling failed
is handled when Telegram sends it again. The message itself goes through exactly what the
polling bot does (`telegram.answer_to`), and so does the reply (`telegram.deliver`), sent from
the web process after the transaction has committed.
"""

from __future__ import annotations

import hmac
import json
import logging

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction
from telegram import Update
from telegram.error import TelegramError
from telegram.request import HTTPXRequest

from refuge.alerts.services import checkin_links
from refuge.intake import telegram

logger = logging.getLogger("refuge.telegrambot")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
PATH = "/intake/telegram/"
# A text message's update is a few KB (4,096 characters of text at most); only "message" updates
# are asked for (setWebhook's allowed_updates).
MAX_BODY = 64 * 1024
# The replies go out while Telegram waits for our answer: keep them short.
SEND_TIMEOUT_SECONDS = 10.0
UPDATE_SOURCE = "telegram-update"
ALLOWED_UPDATES = ["message"]


class BadUpdateError(ValueError):
    """The body is not a Telegram update."""


def secret_matches(given: str, secret: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), secret.encode("utf-8"))


def parse_update(body: bytes) -> Update:
    try:
        data = json.loads(body)
    except ValueError:
        raise BadUpdateError("not JSON") from None
    if not isinstance(data, dict):
        raise BadUpdateError("not an object")
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool) or update_id < 0:
        raise BadUpdateError("no update id")
    try:
        update = Update.de_json(data, None)
    except Exception:  # noqa: BLE001 - whatever python-telegram-bot raises on a malformed update
        raise BadUpdateError("not an update") from None
    return update


def accept(update: Update) -> telegram.Answer | None:
    """Handle one update unless its id was seen before; returns what to send back, if anything.
    Atomic: if the handling fails, the update id is not kept either."""
    with transaction.atomic():
        if not checkin_links.inbound_accept(source=UPDATE_SOURCE, message_id=str(update.update_id)):
            return None
        message = telegram.incoming(update)
        if message is None:
            return None
        return telegram.answer_to(message)


def send(answer: telegram.Answer) -> bool:
    """Send the reply (and delete a PIN message) now; False if Telegram could not be reached.
    The update stays handled either way: a person whose reply was lost sends again, as with a
    lost reply in polling mode."""
    telegram.quiet_http_logs()
    try:
        async_to_sync(_send)(answer)
    except TelegramError as exc:
        logger.warning("telegram reply failed (%s)", type(exc).__name__)
        return False
    return True


async def _send(answer: telegram.Answer) -> None:
    request = HTTPXRequest(connection_pool_size=2, read_timeout=SEND_TIMEOUT_SECONDS)
    unused = HTTPXRequest(connection_pool_size=1)  # getUpdates: never called in webhook mode
    bot = telegram.make_bot(
        settings.TELEGRAM_BOT_TOKEN,
        settings.TELEGRAM_API_URL,
        request=request,
        get_updates_request=unused,
    )
    try:
        await telegram.deliver(bot, answer)
    finally:
        # The bot is never initialised (that would call getMe for every update), so its
        # clients are closed here rather than by bot.shutdown().
        await request.shutdown()
        await unused.shutdown()


def webhook_url() -> str:
    return settings.PUBLIC_BASE_URL + PATH
