"""Absolute session lifetime on top of Django's idle timeout (SESSION_COOKIE_AGE, moved on at most
once a minute), the second factor every signed-in session must pass before it reaches a staff
page, and the signed-in user's time zone for each request."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.http import urlencode

from refuge.accounts import stepup
from refuge.core import clock

_STARTED = "refuge_session_started"
_REFRESHED = "refuge_session_refreshed"
# The idle expiry (SESSION_COOKIE_AGE after the session's last save) is moved on by a request
# at most this often, instead of by a database write on every page: a session then ends between
# SESSION_IDLE_SECONDS minus this and SESSION_IDLE_SECONDS after the last request, never later.
REFRESH_EVERY_SECONDS = 60


class IdleSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = clock.now().timestamp()
            started = request.session.setdefault(_STARTED, now)
            if now - float(started) > settings.SESSION_ABSOLUTE_SECONDS:
                logout(request)
            elif now - float(request.session.get(_REFRESHED, 0)) >= REFRESH_EVERY_SECONDS:
                request.session[_REFRESHED] = now  # saved, with a new expiry, after the response
        return self.get_response(request)


def user_zone(user: object) -> zoneinfo.ZoneInfo:
    """The time zone a staff member reads times in: their own, else the server's."""
    name = getattr(user, "time_zone", "") or settings.TIME_ZONE
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        # A zone removed from the tz database since it was chosen: fall back, never fail a page.
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


class TimeZoneMiddleware:
    """Pages and forms show and read times in the signed-in user's time zone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            timezone.activate(user_zone(user))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


# Where a signed-in session that has not passed its second factor may go. Everything else is
# refused (fail closed): a new page is protected without anyone remembering to protect it.
UNVERIFIED_VIEWS = frozenset(
    {
        "accounts:login",
        "accounts:logout",
        "accounts:second_factor",
        "accounts:enrol",
        "accounts:totp_enrol",
        "accounts:totp_qr",
        "set_language",
    }
)
# Namespaces that judge authentication themselves: the JSON API (401 JSON, accounts.api), the
# WebAuthn ceremonies (accounts.webauthn) and the public pages of protected people.
UNVERIFIED_NAMESPACES = frozenset({"api", "otp_webauthn", "intake", "intake_hooks"})
# A session verified with a factor its role may not use (TOTP for a passkey role) or without a
# factor it may sign in with goes to enrolment only.
ENROLMENT_VIEWS = frozenset(
    {
        "accounts:logout",
        "accounts:enrol",
        "accounts:totp_enrol",
        "accounts:totp_qr",
        "accounts:recovery_codes",
        "set_language",
    }
)


def _view_name(request: HttpRequest) -> str | None:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    if match.namespace.split(":", 1)[0] in UNVERIFIED_NAMESPACES:
        return "*"
    return match.view_name


def _redirect(request: HttpRequest, view: str) -> HttpResponse:
    url = reverse(view)
    if request.method == "GET" and view == "accounts:second_factor":
        url += "?" + urlencode({"next": request.get_full_path()})
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


class VerifiedSessionMiddleware:
    """Staff pages and htmx requests need a session verified with a second factor the role may
    use (docs/authentication.md). Unverified sessions go to the second-factor page, sessions of
    accounts without a usable factor to enrolment."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        target = self._refused_to(request)
        if target is None:
            return self.get_response(request)
        return _redirect(request, target)

    @staticmethod
    def _refused_to(request: HttpRequest) -> str | None:
        """Where the request must go instead, or None when it may proceed."""
        user = getattr(request, "user", None)
        if (
            user is None
            or not user.is_authenticated
            or request.path.startswith(settings.STATIC_URL)
        ):
            return None
        view = _view_name(request)
        if view == "*":
            return None
        # Imported here: factors imports the otp models, which need the app registry.
        from refuge.accounts import factors  # noqa: PLC0415

        if stepup.is_verified(user):
            if factors.session_factor_ok(user, getattr(user, "otp_device", None)):
                return None
            return None if view in ENROLMENT_VIEWS else "accounts:enrol"
        if view in UNVERIFIED_VIEWS:
            return None
        return "accounts:second_factor" if factors.user_factors(user).any else "accounts:enrol"
