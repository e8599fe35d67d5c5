"""Step-up: a fresh re-authentication before a sensitive operation (ASVS 7.5.3).

Revealing a legal identity, an unredacted export, unsealing and sealing ask the staff member to
prove again, within the last REFUGE_STEP_UP_SECONDS (default 300), that they are at the
keyboard: password and second factor, or a passkey alone where `passkey=True`. A stolen,
unlocked session is then good for pseudonyms only.

Public API (stable; other apps use it):

- `@step_up_required()` / `@step_up_required(passkey=True)` on a view: without a recent step-up
  the browser is sent to the re-authentication page, which returns to the original page (GET
  requests return to the same URL; POST requests to the page they were posted from, so the form
  is sent again deliberately). htmx requests get an `HX-Redirect` header instead.
- `has_recent_step_up(request, *, passkey=False) -> bool`: the same test, for views that show
  a "reveal" button instead of redirecting.
- `api_require_step_up(request, *, passkey=False, token_scope=None)`: in a Ninja endpoint;
  raises `StepUpRequiredError` (answered 403 JSON by config.api) for session requests without
  a recent step-up, and for bearer tokens unless the token carries `token_scope`.
- `step_up_url(request, *, passkey=False) -> str`: the link to the re-authentication page that
  returns to the current page.
- `record_step_up(request, *, passkey)`: called by the re-authentication view only.
- Resuming a POST after the re-authentication, so that "Approve" need not be clicked twice:
  `step_up_redirect(request, resume_fields=("format",))` (or
  `@step_up_required(resume_fields=())`) keeps the named fields of the refused POST in the
  session under a random nonce (never in a URL) and sends the browser through the
  re-authentication to the resume page (`accounts:step_up_resume`). That page posts the nonce
  back to the same URL, with a fresh CSRF token, from a pre-focused button that a small script
  presses. The view, wrapped in `@resumes_after_step_up`, then sees the stored fields as its
  POST. A nonce is used once, belongs to one session and one path, and lapses after
  RESUME_SECONDS. Only fields named by the view are kept: never a password, a share or a code.

In demo mode a passkey step-up may be done with TOTP (the demo has no hardware keys); a banner
says so.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    QueryDict,
)
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from refuge.core import clock

# Session keys: when the last re-authentication happened (POSIX seconds), with any second
# factor and with a passkey. Never the factor itself.
STEP_UP_AT = "refuge_step_up_at"
STEP_UP_PASSKEY_AT = "refuge_step_up_passkey_at"
# Refused POSTs waiting for a re-authentication: {nonce: {"path", "fields", "back", "at"}}.
PENDING = "refuge_step_up_pending"
RESUME_FIELD = "step_up_resume"
RESUME_SECONDS = 600
MAX_PENDING = 5
# Set by accounts.api.TokenAuth on requests authenticated by a bearer token.
TOKEN_SCOPES_ATTRIBUTE = "refuge_token_scopes"  # noqa: S105 - an attribute name

View = TypeVar("View", bound=Callable[..., HttpResponse])
AnyView = TypeVar("AnyView", bound=Callable[..., HttpResponseBase])


class StepUpRequiredError(Exception):
    """An API request needs a recent re-authentication (or a token scope) it does not have."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def passkey_relaxed() -> bool:
    """Demo mode accepts TOTP where a passkey is required (no hardware keys in a demo)."""
    return bool(settings.DEMO_MODE)


def _fresh(request: HttpRequest, key: str) -> bool:
    session = getattr(request, "session", None)
    if session is None:
        return False
    try:
        at = float(session.get(key, 0))
    except (TypeError, ValueError):
        return False
    now = clock.now().timestamp()
    # A timestamp from the future (clock moved back) is not trusted either.
    return 0 < at <= now and now - at <= settings.STEP_UP_SECONDS


def is_verified(user: Any) -> bool:
    """Has this request's user passed a second factor? (django_otp's OTPMiddleware adds
    `is_verified` to the user of each request; a user without it has not.)"""
    check = getattr(user, "is_verified", None)
    return bool(callable(check) and check())


def has_recent_step_up(request: HttpRequest, *, passkey: bool = False) -> bool:
    """Did the signed-in, second-factor-verified user re-authenticate within the window?"""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if not is_verified(user):
        return False
    if passkey and not passkey_relaxed():
        return _fresh(request, STEP_UP_PASSKEY_AT)
    return _fresh(request, STEP_UP_AT)


def record_step_up(request: HttpRequest, *, passkey: bool) -> None:
    """Mark the session as just re-authenticated, under a new session key (ASVS 7.2.4)."""
    now = clock.now().timestamp()
    request.session.cycle_key()
    request.session[STEP_UP_AT] = now
    if passkey:
        request.session[STEP_UP_PASSKEY_AT] = now


def clear_step_up(request: HttpRequest) -> None:
    for key in (STEP_UP_AT, STEP_UP_PASSKEY_AT):
        request.session.pop(key, None)


def _return_path(request: HttpRequest) -> str:
    if request.method in {"GET", "HEAD"}:
        return request.get_full_path()
    # After a POST, return to the page the form was on (same site only), else to the POST's URL
    # as a GET: the re-authentication page never replays a form.
    referer = request.headers.get("Referer", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    return request.path


def step_up_url(request: HttpRequest, *, passkey: bool = False, next_url: str = "") -> str:
    query = {"next": next_url or _return_path(request)}
    if passkey:
        query["passkey"] = "1"
    return reverse("accounts:step_up") + "?" + urlencode(query)


@dataclass(frozen=True)
class PendingAction:
    nonce: str
    path: str  # where the resumed POST goes
    back: str  # the page the action was started from
    passkey: bool  # the action needs a passkey step-up


def _pending(request: HttpRequest) -> dict[str, dict[str, Any]]:
    """The session's waiting actions that have not lapsed."""
    stored = request.session.get(PENDING)
    if not isinstance(stored, dict):
        return {}
    oldest = clock.now().timestamp() - RESUME_SECONDS
    return {
        nonce: entry
        for nonce, entry in stored.items()
        if isinstance(entry, dict) and float(entry.get("at", 0)) > oldest
    }


def _remember(request: HttpRequest, fields: Collection[str], *, passkey: bool) -> str:
    nonce = secrets.token_urlsafe(18)
    waiting = _pending(request)
    for stale in sorted(waiting, key=lambda n: float(waiting[n]["at"]))[: -(MAX_PENDING - 1)]:
        del waiting[stale]
    waiting[nonce] = {
        "path": request.path,
        "fields": {name: request.POST.getlist(name) for name in fields if name in request.POST},
        "back": _return_path(request),
        "passkey": passkey,
        "at": clock.now().timestamp(),
    }
    request.session[PENDING] = waiting
    return nonce


def pending_action(request: HttpRequest, nonce: str) -> PendingAction | None:
    """The waiting action `nonce` names in this session, if it has not lapsed (resume page)."""
    entry = _pending(request).get(nonce)
    if entry is None:
        return None
    return PendingAction(
        nonce=nonce,
        path=str(entry["path"]),
        back=str(entry["back"]),
        passkey=bool(entry.get("passkey")),
    )


def step_up_redirect(
    request: HttpRequest, *, passkey: bool = False, resume_fields: Collection[str] | None = None
) -> HttpResponse:
    """To the re-authentication page. With `resume_fields` (a POST only), the action is kept
    and resumed afterwards with those fields (see the module docstring)."""
    next_url = ""
    if resume_fields is not None and request.method == "POST":
        nonce = _remember(request, resume_fields, passkey=passkey)
        next_url = reverse("accounts:step_up_resume", args=[nonce])
    url = step_up_url(request, passkey=passkey, next_url=next_url)
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def step_up_required(
    passkey: bool = False, resume_fields: Collection[str] | None = None
) -> Callable[[View], View]:
    """View decorator: the view runs only after a recent step-up (see the module docstring).
    With `resume_fields`, a refused POST is resumed afterwards with those fields."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not has_recent_step_up(request, passkey=passkey):
                return step_up_redirect(request, passkey=passkey, resume_fields=resume_fields)
            return view(request, *args, **kwargs)

        wrapped = resumes_after_step_up(wrapped) if resume_fields is not None else wrapped
        return cast("View", wrapped)

    return decorator


def resumes_after_step_up(view: AnyView) -> AnyView:
    """View decorator: a POST from the resume page (it carries RESUME_FIELD) runs with the
    fields kept when it was refused. A nonce that is unknown, used or lapsed changes nothing:
    the user is sent back with a message to do it again."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method != "POST" or RESUME_FIELD not in request.POST:
            return view(request, *args, **kwargs)
        waiting = _pending(request)
        entry = waiting.pop(str(request.POST.get(RESUME_FIELD, "")), None)
        request.session[PENDING] = waiting
        if entry is None or entry.get("path") != request.path:
            messages.error(request, _("That confirmation has lapsed. Please do it again."))
            return HttpResponseRedirect(reverse(settings.LOGIN_REDIRECT_URL))
        fields = dict(entry.get("fields") or {})
        pairs = [(str(name), str(value)) for name, values in fields.items() for value in values]
        # Read-only, like the POST Django parses; WSGIRequest.POST has a setter.
        request.POST = QueryDict(urlencode(pairs))
        return view(request, *args, **kwargs)

    return cast("AnyView", wrapped)


def token_scopes(request: HttpRequest) -> frozenset[str] | None:
    """The scopes of the bearer token this API request was authenticated by; None for a session."""
    scopes = getattr(request, TOKEN_SCOPES_ATTRIBUTE, None)
    return frozenset(scopes) if scopes is not None else None


def api_require_step_up(
    request: HttpRequest, *, passkey: bool = False, token_scope: str | None = None
) -> None:
    """For Ninja endpoints. A session needs a recent step-up. A bearer token cannot re-authenticate,
    so it passes only if it was created with `token_scope` (None: tokens are always refused)."""
    scopes = token_scopes(request)
    if scopes is not None:
        if token_scope is not None and token_scope in scopes:
            return
        raise StepUpRequiredError(
            _(
                "This API token may not do this. Create a token with the needed scope, or use a "
                "signed-in session after re-authenticating."
            )
        )
    if not has_recent_step_up(request, passkey=passkey):
        raise StepUpRequiredError(
            _(
                "Re-authentication required: confirm your identity at %(url)s, then repeat the "
                "request within %(minutes)d minutes."
            )
            % {
                "url": reverse("accounts:step_up"),
                "minutes": max(1, settings.STEP_UP_SECONDS // 60),
            }
        )
