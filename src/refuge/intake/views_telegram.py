"""POST /intake/telegram/: Telegram's webhook (see refuge.intake.telegram_webhook).

Refused with nothing read or changed: webhook mode off (no REFUGE_TELEGRAM_WEBHOOK_SECRET or no
bot token) 404; a missing or wrong secret header 403; a body over 64 KB 413; a body that is not
an update 400. Everything else is 200 {"ok": true}, including an update seen before (it changes
nothing) and an update the bot ignores: any other status makes Telegram send it again.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from refuge.intake import telegram_webhook


def _answer(status: int) -> JsonResponse:
    return JsonResponse({"ok": status == 200}, status=status)  # noqa: PLR2004


def _body(request: HttpRequest) -> bytes | None:
    """At most MAX_BODY bytes, whatever Content-Length claims; None when there is more."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > telegram_webhook.MAX_BODY:
        return None
    body = request.read(telegram_webhook.MAX_BODY + 1)
    return body if len(body) <= telegram_webhook.MAX_BODY else None


@csrf_exempt
@require_POST
def telegram_webhook_view(request: HttpRequest) -> JsonResponse:
    secret = settings.TELEGRAM_WEBHOOK_SECRET
    if not secret or not settings.TELEGRAM_BOT_TOKEN:
        return _answer(404)
    given = request.headers.get(telegram_webhook.SECRET_HEADER, "")
    if not telegram_webhook.secret_matches(given, secret):
        return _answer(403)
    body = _body(request)
    if body is None:
        return _answer(413)
    try:
        update = telegram_webhook.parse_update(body)
    except telegram_webhook.BadUpdateError:
        return _answer(400)
    answer = telegram_webhook.accept(update)
    if answer is not None:
        telegram_webhook.send(answer)
    return _answer(200)
