"""`refuge telegramwebhook set|delete|status`: switch the check-in bot between webhook mode and
long polling, with the Bot API's setWebhook / deleteWebhook / getWebhookInfo.

`set` registers REFUGE_PUBLIC_BASE_URL + /intake/telegram/ (or --url) with the secret from
REFUGE_TELEGRAM_WEBHOOK_SECRET, which Telegram then sends with every update; stop
`refuge telegrambot` first (Telegram refuses polling while a webhook is set). `delete` goes back
to polling; updates that arrived meanwhile wait for the poller unless --drop-pending is given.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from telegram import Bot
from telegram.error import TelegramError
from telegram.request import HTTPXRequest

from refuge.intake import telegram, telegram_webhook

TIMEOUT_SECONDS = 20.0


def _bot() -> Bot:
    return telegram.make_bot(
        settings.TELEGRAM_BOT_TOKEN,
        settings.TELEGRAM_API_URL,
        request=HTTPXRequest(connection_pool_size=1, read_timeout=TIMEOUT_SECONDS),
        get_updates_request=HTTPXRequest(connection_pool_size=1, read_timeout=TIMEOUT_SECONDS),
    )


async def _set(url: str) -> bool:
    async with _bot() as bot:
        return bool(
            await bot.set_webhook(
                url=url,
                secret_token=settings.TELEGRAM_WEBHOOK_SECRET,
                allowed_updates=telegram_webhook.ALLOWED_UPDATES,
            )
        )


async def _delete(*, drop_pending: bool) -> bool:
    async with _bot() as bot:
        return bool(await bot.delete_webhook(drop_pending_updates=drop_pending))


async def _status() -> tuple[str, int, str]:
    async with _bot() as bot:
        info = await bot.get_webhook_info()
    return info.url or "", int(info.pending_update_count or 0), info.last_error_message or ""


class Command(BaseCommand):
    help = "Set, delete or show the check-in bot's Telegram webhook."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        set_parser = actions.add_parser(
            "set", help="Have Telegram push updates to this server (stop polling first)."
        )
        set_parser.add_argument(
            "--url",
            default="",
            help="HTTPS URL Telegram posts to (default: REFUGE_PUBLIC_BASE_URL/intake/telegram/).",
        )
        delete_parser = actions.add_parser("delete", help="Remove the webhook: back to polling.")
        delete_parser.add_argument(
            "--drop-pending",
            action="store_true",
            help="Also discard the updates Telegram holds for the bot (they are lost).",
        )
        actions.add_parser("status", help="Show the webhook Telegram has for the bot.")

    def handle(self, *args: Any, **options: Any) -> None:
        del args
        if not settings.TELEGRAM_BOT_TOKEN:
            raise CommandError("Set REFUGE_TELEGRAM_BOT_TOKEN (or _FILE) first.")
        telegram.quiet_http_logs()
        action = options["action"]
        try:
            if action == "set":
                self._set(options["url"] or telegram_webhook.webhook_url())
            elif action == "delete":
                self._delete(drop_pending=options["drop_pending"])
            else:
                self._status()
        except TelegramError as exc:
            # The message of some Telegram errors quotes the token: name the type only.
            raise CommandError(f"The Telegram Bot API refused us ({type(exc).__name__}).") from None

    def _set(self, url: str) -> None:
        if not settings.TELEGRAM_WEBHOOK_SECRET:
            raise CommandError(
                "Set REFUGE_TELEGRAM_WEBHOOK_SECRET (or _FILE) first: without it this server "
                "refuses every webhook request."
            )
        if not url.startswith("https://"):
            raise CommandError(
                f"Telegram posts only to HTTPS URLs, not {url}: set REFUGE_PUBLIC_BASE_URL "
                "to the site's https:// address, or give --url."
            )
        if not async_to_sync(_set)(url):
            raise CommandError("Telegram did not accept the webhook.")
        self.stdout.write(
            f"Webhook set: Telegram now posts the bot's updates to {url}. "
            "Stop `refuge telegrambot` (polling) if it runs."
        )

    def _delete(self, *, drop_pending: bool) -> None:
        if not async_to_sync(_delete)(drop_pending=drop_pending):
            raise CommandError("Telegram did not remove the webhook.")
        kept = "discarded" if drop_pending else "kept for the poller"
        self.stdout.write(
            f"Webhook removed; pending updates {kept}. Start `refuge telegrambot` to poll."
        )

    def _status(self) -> None:
        url, pending, last_error = async_to_sync(_status)()
        if not url:
            self.stdout.write(f"No webhook: the bot polls. {pending} update(s) waiting.")
            return
        line = f"Webhook: {url}; {pending} update(s) waiting"
        if last_error:
            line += f"; Telegram's last delivery error: {last_error}"
        self.stdout.write(line + ".")
