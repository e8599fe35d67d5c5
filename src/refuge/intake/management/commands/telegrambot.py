"""`refuge telegrambot`: run the check-in Telegram bot (long polling) until SIGTERM or SIGINT.
For webhook mode instead, see `refuge telegramwebhook`; a bot runs in one mode at a time.

Needs REFUGE_TELEGRAM_BOT_TOKEN (or REFUGE_TELEGRAM_BOT_TOKEN_FILE); talks to
REFUGE_TELEGRAM_API_URL (default https://api.telegram.org). `--once` handles what is waiting
and exits (for tests and cron).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from telegram.error import Conflict, TelegramError

from refuge.intake import telegram


class Command(BaseCommand):
    help = "Run the check-in Telegram bot (SOS, check-in and cancel by chat) until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="Handle the waiting messages, then exit."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        del args
        token = settings.TELEGRAM_BOT_TOKEN
        if not token:
            raise CommandError("Set REFUGE_TELEGRAM_BOT_TOKEN (or _FILE) to run the bot.")
        telegram.quiet_http_logs()
        runner = telegram.BotRunner(token, settings.TELEGRAM_API_URL)
        stop = threading.Event()
        previous = self._install_signal_handlers(stop)
        try:
            handled = async_to_sync(runner.run)(once=options["once"], stop=stop)
        except Conflict:
            raise CommandError(
                "A webhook is set for this bot, and Telegram refuses polling while it is: run "
                "`refuge telegramwebhook delete` to poll, or keep the webhook and stop this."
            ) from None
        except TelegramError as exc:
            # The message of some Telegram errors quotes the token: name the type only.
            raise CommandError(f"The Telegram Bot API refused us ({type(exc).__name__}).") from None
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        self.stdout.write(f"telegram bot stopped; {handled} message(s) handled")

    def _install_signal_handlers(self, stop: threading.Event) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}

        def on_signal(signum: int, frame: FrameType | None) -> None:
            del signum, frame
            stop.set()

        return {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
