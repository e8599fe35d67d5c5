"""Stored and reflected XSS: payloads written into every text field the web forms and the API
accept, then every page each role can reach parsed with an HTML parser. Zero findings.

Writing (xss_payloads.py). The forms are found, not listed: every page the resolver routes is
fetched as a coordinator and an operator, and each POST form on it is filled in (text fields,
text areas, URL, phone fields and uploaded files' names get payloads, the uploaded file is an
HTML page with a script; other fields keep their current or
first valid value) and submitted. A field that makes the whole form fail is retried alone, so one
strict field does not hide the others. The API is written through every POST/PUT/PATCH
operation of the OpenAPI document, with payloads in every string property. Forms that end the
session, seal the server or delete what the crawl must render are skipped (SKIPPED_FORMS).

Reading. Every GET route (with the access sweep's objects) and every same-site link found on
the way is fetched as each role and parsed. A finding is an element or attribute that a payload
could have created: an event-handler attribute, a script that is not a same-origin file (JSON
data blocks aside), a javascript:/vbscript:/data: URL, an <iframe>/<object>/<embed>/<base>/<meta
refresh>, or a template expression that was evaluated; and a downloaded file that a browser would
render inline instead of saving. Reflected XSS: every GET route again, with payloads
in the query string (the page's own GET-form fields and common names) and in string URL
parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from html import escape
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import Resolver404, resolve, reverse

from tests.security.sweep_tools import (
    ROLES,
    all_routes,
    parse_page,
    route_urls,
    same_site_path,
    signed_in,
    text_of,
)
from tests.security.test_access_sweep import objects  # noqa: F401 - the sweep's objects
from tests.security.xss_payloads import (
    PAYLOADS,
    SKIPPED_FORMS,
    WRITERS,
    web_get_urls,
    write_through_api,
    write_through_forms,
    xss_findings,
)

pytestmark = pytest.mark.django_db

MAX_PAGES_PER_ROLE = 300
MAX_PAGES_PER_ROUTE = 4  # of the objects behind one URL pattern, crawl a few
REFLECT_NAMES = ("q", "query", "search", "page", "state", "status", "next", "sort", "team")


# Where each payload becomes markup if a template forgets to escape it.
UNESCAPED_CONTEXTS = {
    "<p>{}</p>": (0, 1, 2, 10, 11, 12, 13, 14, 15, 19, 21, 22, 23, 25),
    '<input value="{}">': (1, 8),
    "<input value='{}'>": (2, 9),
    '<a href="{}">link</a>': (3, 4, 24),
}


@pytest.mark.parametrize(("context", "indices"), UNESCAPED_CONTEXTS.items())
def test_the_scanner_finds_unescaped_payloads(context, indices):
    """The detector is the whole sweep, so it must be able to fail."""
    missed = [PAYLOADS[i] for i in indices if not xss_findings(context.format(PAYLOADS[i]))]
    assert not missed


def test_the_scanner_finds_an_evaluated_template_expression():
    assert xss_findings("<p>xq0549</p>")


def test_the_scanner_passes_escaped_payloads_and_same_origin_scripts():
    escaped = "".join(f'<p>{escape(p)}</p><a href="/x?q={escape(p)}">' for p in PAYLOADS)
    legitimate = (
        '<script src="/static/a.js"></script><script async src="/accounts/passkeys/jsi18n/">'
        '</script><script id="config" type="application/json">{"a": "\\u003c"}</script>'
        '<svg viewBox="0 0 10 10"><path d="M0 0h1v1H0z"/></svg>'
    )
    assert not xss_findings(escaped + legitimate)


# --- reading ------------------------------------------------------------------------------------


# Routes that serve a file inline on purpose, with the reason.
INLINE_FILES = {
    "otp_webauthn:js-i18n-catalog": (
        "Django's JavaScript translation catalog for the passkey script: code built from the "
        "translation files, no user data"
    ),
}
# Types a browser renders as active content when served inline.
ACTIVE_TYPES = ("image/svg+xml", "application/xhtml+xml", "text/xml", "application/xml")


def _download_findings(url: str, response, content_type: str) -> list[str]:  # type: ignore[no-untyped-def]
    """A file that a browser would run (SVG, XML) is never served inline, and nothing inline
    lets the browser guess its type (an uploaded HTML page is scanned like any page)."""
    if response.status_code >= 300 or content_type.startswith("application/json"):
        return []
    if _route_name(url) in INLINE_FILES:
        return []
    attachment = "attachment" in response.get("Content-Disposition", "")
    if content_type.startswith(ACTIVE_TYPES) and not attachment:
        return [f"{content_type} served inline"]
    if response.get("X-Content-Type-Options") != "nosniff" and not attachment:
        return [f"{content_type} served inline without X-Content-Type-Options: nosniff"]
    return []


def _route_name(path: str) -> str:
    try:
        return resolve(path.split("?", maxsplit=1)[0]).view_name
    except Resolver404:
        return ""


def _crawl(client: Client, start: list[str]) -> tuple[int, list[str]]:
    """Fetch `start` and every same-site link found, breadth first; (pages, findings)."""
    queue = list(dict.fromkeys(start))
    seen = set(queue)
    per_route: dict[str, int] = {}
    findings: list[str] = []
    fetched = 0
    while queue and fetched < MAX_PAGES_PER_ROLE:
        url = queue.pop(0)
        response = client.get(url)
        fetched += 1
        if response.status_code >= 500:
            findings.append(f"GET {url}: {response.status_code}")
        content_type = response.get("Content-Type", "")
        findings.extend(f"GET {url}: {f}" for f in _download_findings(url, response, content_type))
        if "text/html" not in content_type:
            continue
        html = text_of(response)
        findings.extend(f"GET {url}: {finding}" for finding in xss_findings(html))
        _forms, links = parse_page(html)
        for href in links:
            path = same_site_path(url, href)
            if path is None or path in seen or any(s in path for s in SKIPPED_FORMS):
                continue
            seen.add(path)
            route = _route_name(path)
            per_route[route] = per_route.get(route, 0) + 1
            if route and per_route[route] <= MAX_PAGES_PER_ROUTE:
                queue.append(path)
    return fetched, findings


def _all_get_urls(objects, cast) -> list[str]:  # noqa: F811
    return [url for route in all_routes() for url in route_urls(route, objects, cast)]


def test_stored_payloads_are_rendered_inert_on_every_page_for_every_role(cast, objects):  # noqa: F811
    urls = web_get_urls(objects, cast)
    stats = {"forms": 0, "accepted": 0}
    for role in WRITERS:
        for key, value in write_through_forms(signed_in(cast.by_role()[role]), urls).items():
            stats[key] += value
    api_accepted = write_through_api(signed_in(cast.coordinator), cast, objects)
    assert stats["forms"] >= 10, stats  # the writers found the forms
    assert stats["accepted"] >= 20, stats  # ... and stored payloads through them
    assert api_accepted >= 10  # ... and through the API
    findings = []
    start = _all_get_urls(objects, cast)
    for role in ROLES:
        fetched, found = _crawl(signed_in(cast.by_role()[role]), start)
        assert fetched >= 30, role
        findings.extend(f"{role}: {finding}" for finding in found)
    assert not findings, "\n".join(sorted(set(findings)))


def _reflect_urls(url: str, html: str) -> Iterator[str]:
    forms, _links = parse_page(html)
    names = {n for form in forms if form.method == "get" for n in form.field_names()}
    names.update(REFLECT_NAMES)
    for offset in range(0, len(PAYLOADS), 8):
        params = {
            name: PAYLOADS[(offset + i) % len(PAYLOADS)] for i, name in enumerate(sorted(names))
        }
        yield f"{url}?{urlencode(params)}"


def test_query_strings_are_not_reflected_as_markup(cast, objects):  # noqa: F811
    client = signed_in(cast.coordinator)
    findings = []
    tried = 0
    for url in _all_get_urls(objects, cast):
        page = client.get(url)
        html = text_of(page)
        for probe in _reflect_urls(url, html):
            response = client.get(probe)
            tried += 1
            if response.status_code >= 500:
                findings.append(f"GET {probe}: {response.status_code}")
            if "text/html" in response.get("Content-Type", ""):
                body = text_of(response)
                findings.extend(f"GET {probe}: {f}" for f in xss_findings(body))
    assert tried > 100
    assert not findings, "\n".join(sorted(set(findings)))


def _string_routes() -> Iterator[tuple[str, str]]:
    """(route name, parameter) for every URL parameter that takes free text."""
    for route in all_routes():
        for parameter in route.parameters:
            pattern_text = route.name
            if parameter == "token":
                yield pattern_text, parameter


@pytest.mark.parametrize("payload", PAYLOADS)
def test_url_path_text_is_not_reflected_as_markup(payload, cast):
    client = signed_in(cast.coordinator)
    findings = []
    for name, parameter in _string_routes():
        url = reverse(name, kwargs={parameter: payload.replace("/", "")})
        response = client.get(url)
        if response.status_code >= 500:
            findings.append(f"GET {url}: {response.status_code}")
        findings.extend(f"GET {url}: {f}" for f in xss_findings(text_of(response)))
    assert not findings, "\n".join(findings)


def test_every_html_page_carries_a_csp_without_unsafe_inline(cast, objects):  # noqa: F811
    client = signed_in(cast.coordinator)
    missing = []
    for url in web_get_urls(objects, cast):
        response = client.get(url)
        if "text/html" not in response.get("Content-Type", ""):
            continue
        policy = response.get("Content-Security-Policy", "")
        if "script-src" not in policy and "default-src" not in policy:
            missing.append(f"{url}: no CSP")
        elif "unsafe-inline" in policy or "unsafe-eval" in policy:
            missing.append(f"{url}: {policy}")
    assert not missing, "\n".join(missing)
