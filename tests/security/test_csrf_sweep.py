"""The CSRF sweep: every URL pattern, every state-changing method, with a browser that carries
a valid session but no CSRF token, gets 403 and changes nothing.

Routes come from the URL resolver (sweep_tools / the access sweep), so a new view is swept as
soon as it is routed. The only routes spared are those exempt by design, listed with the reason
in CSRF_EXEMPT; a view that is exempt from Django's check and not listed there fails the sweep.
The JSON API is swept too: Django Ninja checks CSRF itself for session-authenticated writes
(bearer-token requests carry no ambient credential and need no CSRF token).
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import resolve, reverse

from refuge.config.api import api
from tests.conftest import verified_login
from tests.security.sweep_tools import (
    ROLES,
    all_routes,
    changed_tables,
    db_fingerprint,
    route_urls,
    signed_in,
)
from tests.security.test_access_sweep import objects  # noqa: F401 - the sweep's objects

pytestmark = pytest.mark.django_db

# Route name -> why it has no CSRF token. Each reason must stay true; see the view's docstring.
CSRF_EXEMPT = {
    "intake:person_page": (
        "The protected person's page: the secret token in the URL authorises the POST, so a "
        "cross-site attacker cannot aim a request at it, and a CSRF cookie would be evidence "
        "of the visit on a seized phone (intake/views.py)."
    ),
    "intake_hooks:sms": (
        "Machine-to-machine webhook of the SMS gateway: no cookies; every request is "
        "authenticated by an HMAC-SHA256 signature over a fresh timestamp and the body."
    ),
    "intake_hooks:telegram": (
        "Telegram's webhook: machine to machine, no cookies; every request must carry the "
        "secret registered with setWebhook in X-Telegram-Bot-Api-Secret-Token "
        "(intake/views_telegram.py)."
    ),
}
WEB_WRITE_METHODS = ("post",)
API_WRITE_METHODS = ("post", "put", "patch", "delete")
FORBIDDEN = 403
UNAUTHENTICATED = 401


def _api_write_methods() -> list[tuple[re.Pattern[str], set[str]]]:
    """(path pattern, its write methods) from the OpenAPI document, literal paths first (so
    /people/search is not taken for /people/{person_id})."""
    paths = sorted(api.get_openapi_schema()["paths"].items(), key=lambda p: p[0].count("{"))
    return [
        (
            re.compile("^" + re.sub(r"\\{\w+\\}", "[^/]+", re.escape(path)) + "$"),
            {m for m in operations if m in API_WRITE_METHODS},
        )
        for path, operations in paths
    ]


def _write_requests(objects, cast):  # noqa: F811
    """(route, method, url) for every state-changing request the resolver can route: POST on
    every web page (Django checks CSRF before the view, whatever the view accepts), and each
    write method the API documents for the path."""
    api_paths = _api_write_methods()
    for route in all_routes():
        if route.name in CSRF_EXEMPT:
            continue
        for url in route_urls(route, objects, cast):
            methods = WEB_WRITE_METHODS
            if route.is_api:
                methods = next(
                    (tuple(sorted(ms)) for pattern, ms in api_paths if pattern.match(url)), ()
                )
            for method in methods:
                yield route, method, url


def _send(client, method, url, **extra):  # type: ignore[no-untyped-def]
    if method == "post":
        return client.post(url, {"probe": "csrf"}, **extra)
    return client.generic(method.upper(), url, b"{}", content_type="application/json", **extra)


def _sweep(client, requests, *, allowed=frozenset({FORBIDDEN}), **extra):  # type: ignore[no-untyped-def]
    """Send every request; findings for each answer not in `allowed`, and for any change to the
    database (compared once around the whole sweep: a refused request writes nothing at all)."""
    findings = []
    swept = 0
    requests = list(requests)  # building the URLs may create objects (an API token)
    before = db_fingerprint()
    for route, method, url in requests:
        response = _send(client, method, url, **extra)
        swept += 1
        if response.status_code not in allowed:
            findings.append(f"{method.upper()} {url} ({route.name}): {response.status_code}")
    if changed := changed_tables(before, db_fingerprint()):
        findings.append(f"the sweep changed the tables {changed}")
    return swept, findings


@pytest.mark.parametrize("role", ROLES)
def test_every_write_without_a_csrf_token_is_refused_and_changes_nothing(
    role,
    cast,
    objects,  # noqa: F811
):
    client = signed_in(cast.by_role()[role], enforce_csrf_checks=True)
    swept, findings = _sweep(client, _write_requests(objects, cast))
    assert swept > 100
    assert not findings, "\n".join(findings)


def test_anonymous_writes_are_refused_and_change_nothing(cast, objects):  # noqa: F811
    # Without a session the API answers 401 before any CSRF question arises.
    swept, findings = _sweep(
        signed_in(None, enforce_csrf_checks=True),
        _write_requests(objects, cast),
        allowed=frozenset({FORBIDDEN, UNAUTHENTICATED}),
    )
    assert swept > 100
    assert not findings, "\n".join(findings)


def _browser_with_csrf_cookie(user):  # type: ignore[no-untyped-def]
    """A browser that picked up its CSRF cookie on the login page, then signed in."""
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("accounts:login"))
    verified_login(client, user)
    return client


def _csrf_token_of_another_session() -> str:
    other = Client(enforce_csrf_checks=True)
    other.get(reverse("accounts:login"))
    return str(other.cookies[settings.CSRF_COOKIE_NAME].value)


def test_a_csrf_token_of_another_session_is_refused_everywhere(cast, objects):  # noqa: F811
    client = _browser_with_csrf_cookie(cast.coordinator)
    foreign = _csrf_token_of_another_session()
    _swept, findings = _sweep(
        client, _write_requests(objects, cast), headers={"X-CSRFToken": foreign}
    )
    assert not findings, "\n".join(findings)


def test_a_csrf_token_in_the_query_string_only_is_refused_everywhere(cast, objects):  # noqa: F811
    client = _browser_with_csrf_cookie(cast.coordinator)
    own = client.cookies[settings.CSRF_COOKIE_NAME].value
    requests = [
        (route, method, f"{url}?csrfmiddlewaretoken={own}")
        for route, method, url in _write_requests(objects, cast)
    ]
    _swept, findings = _sweep(client, requests)
    assert not findings, "\n".join(findings)


def test_a_valid_token_is_accepted_so_the_sweep_can_tell(cast):
    """The 403s above come from the CSRF check, not from something else refusing every POST."""
    client = _browser_with_csrf_cookie(cast.coordinator)
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    response = client.post("/people/new/", {"csrfmiddlewaretoken": token})
    assert response.status_code != FORBIDDEN  # judged by the view: the form, with its errors


def test_no_view_is_exempt_from_csrf_without_a_listed_reason(cast, objects):  # noqa: F811
    unlisted = []
    for route in all_routes():
        for url in route_urls(route, objects, cast):
            callback = resolve(url.split("?")[0]).func
            exempt = getattr(callback, "csrf_exempt", False)
            # Ninja's views are exempt from Django's check and run their own (swept above).
            if exempt and not route.is_api and route.name not in CSRF_EXEMPT:
                unlisted.append(route.name)
    assert not unlisted, f"CSRF-exempt views without a reason in CSRF_EXEMPT: {unlisted}"


@pytest.mark.parametrize("name", sorted(CSRF_EXEMPT))
def test_every_listed_exemption_still_exists_and_is_exempt(name, cast, objects):  # noqa: F811
    (route,) = [r for r in all_routes() if r.name == name]
    url = next(iter(route_urls(route, objects, cast)))
    assert getattr(resolve(url).func, "csrf_exempt", False)
