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

In demo mode a passkey step-up may be done with TOTP (the demo has no hardware keys); a banner
says so.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from refuge.core import clock

# Session keys: when the last re-authentication happened (POSIX seconds), with any second
# factor and with a passkey. Never the factor itself.
STEP_UP_AT = "refuge_step_up_at"
STEP_UP_PASSKEY_AT = "refuge_step_up_passkey_at"
# Set by accounts.api.TokenAuth on requests authenticated by a bearer token.
TOKEN_SCOPES_ATTRIBUTE = "refuge_token_scopes"  # noqa: S105 - an attribute name

View = TypeVar("View", bound=Callable[..., HttpResponse])


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


def step_up_redirect(request: HttpRequest, *, passkey: bool = False) -> HttpResponse:
    url = step_up_url(request, passkey=passkey)
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def step_up_required(passkey: bool = False) -> Callable[[View], View]:
    """View decorator: the view runs only after a recent step-up (see the module docstring)."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not has_recent_step_up(request, passkey=passkey):
                return step_up_redirect(request, passkey=passkey)
            return view(request, *args, **kwargs)

        return cast("View", wrapped)

    return decorator


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
