"""The Telegram bot: long polling (python-telegram-bot) against REFUGE_TELEGRAM_API_URL.

Long polling needs no inbound connection to the server (it works behind NAT, or where only
outgoing traffic through a proxy is allowed: httpx honours HTTPS_PROXY). Each private-chat text
message goes through intake.inbound like an SMS; the reply is sent back to the chat. A message
that carried a PIN is then deleted from the chat (bots may delete incoming messages in private
chats), so the PIN is not left in the phone's history; this happens for every PIN-bearing
message, known chat or not, right PIN or wrong.

The bot token is a secret: it is part of every request URL, so httpx's request log is silenced,
and errors are logged by type only (some carry the token in their message).

Webhook mode (intake.telegram_webhook) gets the same updates pushed instead of polled and
answers them through the same `answer_to` and `deliver`. Telegram refuses getUpdates while a
webhook is set, so a bot runs in one mode at a time (`refuge telegramwebhook`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from telegram import Bot, Message, Update
from telegram.error import Conflict, TelegramError
from telegram.request import HTTPXRequest

from refuge.alerts import pins
from refuge.intake import inbound

logger = logging.getLogger("refuge.telegrambot")

LONG_POLL_SECONDS = 10
RETRY_SECONDS = 5
SOURCE = "telegram"


@dataclass(frozen=True)
class Incoming:
    chat_id: int
    message_id: int
    text: str
    language: str | None


def quiet_http_logs() -> None:
    """httpx logs every request URL at INFO, and the URL holds the bot token."""
    for name in ("httpx", "httpcore", "telegram", "telegram.ext"):
        logging.getLogger(name).setLevel(logging.WARNING)


def incoming(update: Update) -> Incoming | None:
    message: Message | None = update.message
    if message is None or message.text is None or message.chat.type != "private":
        return None
    user = message.from_user
    return Incoming(
        chat_id=message.chat.id,
        message_id=message.message_id,
        text=message.text,
        language=user.language_code if user is not None else None,
    )


def reply_to(message: Incoming) -> str | None:
    """The reply to one message, or None for a message handled before (a replay)."""
    return inbound.handle(
        source=SOURCE,
        sender_kind=pins.SENDER_TELEGRAM,
        sender=str(message.chat_id),
        text=message.text,
        message_id=f"{message.chat_id}:{message.message_id}",
        language=message.language,
    )


@dataclass(frozen=True)
class Answer:
    """What the bot sends back for one message."""

    chat_id: int
    text: str
    # The person's message to delete from the chat afterwards: it carried a PIN.
    forget_message_id: int | None


def answer_to(message: Incoming) -> Answer | None:
    """Act on one message (in the database) and return what to send; None for a replay."""
    reply = reply_to(message)
    if reply is None:
        return None
    carried_pin = inbound.parse(message.text).carries_pin
    return Answer(message.chat_id, reply, message.message_id if carried_pin else None)


def make_bot(
    token: str, api_url: str, *, request: HTTPXRequest, get_updates_request: HTTPXRequest
) -> Bot:
    base = api_url.rstrip("/")
    return Bot(
        token=token,
        base_url=f"{base}/bot",
        base_file_url=f"{base}/file/bot",
        request=request,
        get_updates_request=get_updates_request,
    )


async def deliver(bot: Bot, answer: Answer) -> None:
    """Send the reply, then delete the PIN message from the chat (if it carried one)."""
    await bot.send_message(chat_id=answer.chat_id, text=answer.text)
    if answer.forget_message_id is None:
        return
    try:
        await bot.delete_message(chat_id=answer.chat_id, message_id=answer.forget_message_id)
    except TelegramError as exc:
        logger.info("could not delete a PIN message (%s)", type(exc).__name__)


class BotRunner:
    """Polls for updates and answers them until `stop` is set (or once, with `once=True`)."""

    def __init__(
        self, token: str, api_url: str, *, long_poll_seconds: int = LONG_POLL_SECONDS
    ) -> None:
        self.long_poll_seconds = long_poll_seconds
        timeout = float(long_poll_seconds + 10)
        self.bot = make_bot(
            token,
            api_url,
            request=HTTPXRequest(connection_pool_size=4, read_timeout=timeout),
            get_updates_request=HTTPXRequest(connection_pool_size=1, read_timeout=timeout),
        )
        self.offset: int | None = None
        self.handled = 0

    async def run(self, *, once: bool, stop: threading.Event) -> int:
        async with self.bot:
            while not stop.is_set():
                try:
                    await self.poll(long_poll=0 if once else self.long_poll_seconds)
                except Conflict:
                    raise  # a webhook is set: polling cannot work until it is deleted
                except TelegramError as exc:
                    if once:
                        raise
                    logger.warning("telegram request failed (%s); retrying", type(exc).__name__)
                    await asyncio.sleep(RETRY_SECONDS)
                if once:
                    break
            if self.offset is not None:
                # Confirm the last batch, so a restart does not fetch it again.
                await self.bot.get_updates(offset=self.offset, timeout=0, limit=1)
        return self.handled

    async def poll(self, *, long_poll: int) -> None:
        updates = await self.bot.get_updates(
            offset=self.offset, timeout=long_poll, allowed_updates=["message"]
        )
        for update in updates:
            self.offset = update.update_id + 1
            message = incoming(update)
            if message is None:
                continue
            answer = await sync_to_async(answer_to, thread_sensitive=True)(message)
            self.handled += 1
            if answer is not None:
                await deliver(self.bot, answer)
