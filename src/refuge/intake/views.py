"""The protected person's SOS and check-in page, and the SMS gateway's signed webhook.

The page (/c/<token>/) is the person's own: no staff layout, no script, no name, pseudonym or
organisation, one small same-origin stylesheet, in the person's first language whatever the
browser says. It works with JavaScript off (Tor Browser "Safest") and on a 320 px screen.

CSRF. The page's forms are exempt from Django's CSRF check, on purpose. The secret token in the
URL is what authorises a POST: a cross-site attacker who does not know it cannot aim a request at
the page, and one who knows it can post directly, so a CSRF token would protect nothing. Leaving
CSRF out means the page sets no cookie at all (a cookie on a seized phone is evidence of the
visit), and the response to a duress check-in is byte-for-byte the response to a normal one,
with no per-request token in it.

Logs never see these routes (intake.logs drops their lines: the URL holds the token), and no
client address is stored anywhere: the flood limits per address (an SOS from many links, links
that open nothing) count under a keyed hash that changes every ten minutes and is deleted after
(alerts.services.source_windows).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from refuge.accounts.client_ip import client_ip
from refuge.alerts import pins
from refuge.alerts.models import Checkin
from refuge.alerts.services import checkin_links, checkins
from refuge.core import clock
from refuge.intake import inbound
from refuge.people.models import ProtectedPerson

START = "start"
SOS_SENT = "sos"
CHECKED_IN = "checked_in"
CANCELLED = "cancelled"
REFUSED = "refused"
LOCKED = "locked"
MAX_PIN_FIELD = 64
SMS_MAX_BODY = 4096
SMS_MAX_SKEW_SECONDS = 300
MAX_SENDER = 40
MAX_MESSAGE_ID = 200
MAX_TIMESTAMP_DIGITS = 12


def _page(
    lang: str, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HttpResponse:
    with translation.override(lang):
        body = render_to_string(
            template, {"title": str(settings.PUBLIC_SITE_TITLE), "lang": lang, **(context or {})}
        )
    response = HttpResponse(body, status=status, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Content-Language"] = lang
    return response


def _not_found(request: HttpRequest) -> HttpResponse:
    """The same bytes for every token that does not open a page. A bad token identifies
    nobody, so the page speaks the public pages' language (REFUGE_PUBLIC_LANGUAGE). Beyond
    source_windows.BAD_LINKS_PER_SOURCE from one address in a window the same page comes with
    429 and Retry-After: it says nothing more, and a working link from there still works."""
    if checkins.bad_link_limited(client_ip(request)):
        response = _page(settings.PUBLIC_LANGUAGE, "intake/not_found.html", status=429)
        response.headers["Retry-After"] = str(checkins.limit_window_left())
        return response
    return _page(settings.PUBLIC_LANGUAGE, "intake/not_found.html", status=404)


def _start_page(
    lang: str, person: ProtectedPerson, *, state: str = START, status: int = 200
) -> HttpResponse:
    """The SOS button and the check-in form, with the window of the check-in awaited; while
    check-ins are locked, the SOS button and a note that check-ins here are paused instead."""
    schedule = checkins.schedule_of(person)
    if schedule is not None and checkins.is_locked(schedule):
        return _page(lang, "intake/person_page.html", {"state": LOCKED}, status=status)
    window = checkins.pending_window(schedule)
    upcoming = ""
    if window is not None:
        with translation.override(lang):
            upcoming = inbound.upcoming(*window)
    context = {"state": state, "upcoming": upcoming}
    return _page(lang, "intake/person_page.html", context, status=status)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def person_page(request: HttpRequest, token: str) -> HttpResponse:
    person = checkin_links.link_person(token)
    if person is None:
        return _not_found(request)
    lang = inbound.person_language(person)
    if request.method == "GET":
        return _start_page(lang, person)
    action = request.POST.get("action", "")
    channel = Checkin.Channel.WEB
    if action == "sos":
        checkins.sos_submit(person=person, channel=channel, address=client_ip(request))
        return _page(lang, "intake/person_page.html", {"state": SOS_SENT})
    pin = request.POST.get("pin", "")[:MAX_PIN_FIELD]
    if action == "checkin":
        # By the person: the schedule is read once, locked, inside the check-in.
        result = checkins.checkin_submit(person=person, pin=pin, channel=channel)
        if result.accepted:
            with translation.override(lang):
                message = inbound.thanks(result)
            return _page(lang, "intake/person_page.html", {"state": CHECKED_IN, "message": message})
    elif action == "cancel" and checkins.cancel_submit(
        schedule=checkins.schedule_of(person), pin=pin, channel=channel
    ):
        return _page(lang, "intake/person_page.html", {"state": CANCELLED})
    # Refused: a wrong PIN, bad input, or locked check-ins (this attempt may have locked them).
    return _start_page(lang, person, state=REFUSED, status=400)


def _refuse(status: int) -> JsonResponse:
    return JsonResponse({"ok": False}, status=status)


def _signature_ok(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(
        expected.hexdigest().encode(), signature.strip().lower().encode("utf-8", "replace")
    )


def _fresh(timestamp: str) -> bool:
    if not timestamp.isdigit() or len(timestamp) > MAX_TIMESTAMP_DIGITS:
        return False
    return abs(clock.now().timestamp() - int(timestamp)) <= SMS_MAX_SKEW_SECONDS


def _message(body: bytes) -> tuple[str, str, str] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    values = (data.get("id"), data.get("from"), data.get("text"))
    if not all(isinstance(value, str) for value in values):
        return None
    message_id, sender, text = (str(value) for value in values)
    if not message_id or len(message_id) > MAX_MESSAGE_ID or len(sender) > MAX_SENDER:
        return None
    return message_id, sender, text


def _signed_body(request: HttpRequest, secret: str) -> bytes | JsonResponse:
    """The body of a signed, fresh request of at most 4 KB, or the refusal."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _refuse(400)
    if length > SMS_MAX_BODY:
        return _refuse(413)
    body = request.read(SMS_MAX_BODY + 1)
    if len(body) > SMS_MAX_BODY:
        return _refuse(413)
    timestamp = request.headers.get("X-Refuge-Timestamp", "")
    signature = request.headers.get("X-Refuge-Signature", "")
    if not _fresh(timestamp) or not _signature_ok(secret, timestamp, body, signature):
        return _refuse(403)
    return body


@csrf_exempt
@require_POST
def sms_webhook(request: HttpRequest) -> JsonResponse:
    """POST from the SMS gateway: {"id", "from", "text"}, signed with
    X-Refuge-Timestamp (Unix seconds) and X-Refuge-Signature =
    hex HMAC-SHA256(REFUGE_SMS_WEBHOOK_SECRET, timestamp + "." + body).

    Refused with a 4xx and nothing changed: no secret configured (404), a body over 4 KB (413),
    a stale or future timestamp or a wrong signature (403), malformed JSON (400), a message id
    seen before (409). Otherwise 200 {"reply": text for the gateway to send back}; the reply is
    the same for a sender nobody bound as for a bound one."""
    secret = settings.SMS_WEBHOOK_SECRET
    if not secret:
        return _refuse(404)
    body = _signed_body(request, secret)
    if isinstance(body, JsonResponse):
        return body
    message = _message(body)
    if message is None:
        return _refuse(400)
    message_id, sender, text = message
    reply = inbound.handle(
        source="sms",
        sender_kind=pins.SENDER_SMS,
        sender=sender,
        text=text,
        message_id=message_id,
    )
    if reply is None:
        return _refuse(409)
    return JsonResponse({"reply": reply})
