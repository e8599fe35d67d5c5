"""Path traversal: every route whose URL carries a free-text or path-like parameter (found in
the resolver: any converter other than uuid and int), the static files, and every route with an
object id, given `../`, encoded and double-encoded dots and slashes, backslashes, absolute
paths and NUL. The answer is 400 or 404, and never the content of a file outside the site.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import IntConverter, UUIDConverter

from tests.security.sweep_tools import signed_in

pytestmark = pytest.mark.django_db

TRAVERSALS = (
    "../../../../../../etc/passwd",
    "..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "..%5c..%5c..%5c..%5cetc%5cpasswd",
    "..\\..\\..\\..\\etc\\passwd",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "....//....//....//etc/passwd",
    "..%00/etc/passwd",
    "passwd%00.css",
    "..%c0%af..%c0%afetc%c0%afpasswd",
    "..",
    "%2e%2e",
    "../../../../var/keys/master.key",
    "../../config/settings.py",
    "../../../pyproject.toml",
)
# Text that only a file outside the site could put into a response.
OUTSIDE_MARKERS = (
    b"root:x:0:0",
    b"refuge-pin-key:v1:",
    b"DJANGO_SETTINGS_MODULE",
    b"[tool.importlinter]",
    b"INSTALLED_APPS",
)
# 400/404, or what the API answers before it reads a file: 401 without credentials, 405 for a
# path that only takes other methods, 422 for a malformed id (the API's documented answer).
# A redirect (APPEND_SLASH) is followed once.
ALLOWED = {400, 401, 404, 405, 422}
REDIRECTS = {301, 302}
CLOSED_CONVERTERS = (UUIDConverter, IntConverter)
# Django's admin reads object ids from its catch-all paths, serves no files, and answers every
# visitor but an admin with its login page (tests/web/test_django_admin.py).
SKIPPED = ("/admin/",)


def _open_parameters(patterns: list[object], prefix: str = "") -> Iterator[tuple[str, str, bool]]:
    """(URL prefix before the parameter, parameter, takes free text) for every route parameter."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _open_parameters(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            converters = getattr(entry.pattern, "converters", {})
            route = prefix + str(entry.pattern)
            for name, converter in converters.items():
                head = route.split("<", 1)[0]
                yield "/" + head, name, not isinstance(converter, CLOSED_CONVERTERS)


def _probes() -> Iterator[str]:
    seen = set()
    for head, _name, free_text in _open_parameters(get_resolver().url_patterns):
        if head.startswith(SKIPPED):
            continue
        for traversal in TRAVERSALS if free_text else TRAVERSALS[:4]:
            for path in (f"{head}{traversal}", f"{head}{traversal}/"):
                if path not in seen:
                    seen.add(path)
                    yield path
    static = settings.STATIC_URL
    for traversal in TRAVERSALS:
        yield f"{static}{traversal}"
        yield f"{static}intake/{traversal}"


def _outside_markers() -> tuple[bytes, ...]:
    key_file = Path(settings.KEY_FILE)
    key = (key_file.read_bytes().strip(),) if key_file.exists() else ()
    return (*OUTSIDE_MARKERS, settings.SECRET_KEY.encode(), *key)


def _body(response) -> bytes:  # type: ignore[no-untyped-def]
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def test_the_sweep_has_free_text_parameters_to_try():
    free = [
        name
        for _head, name, free_text in _open_parameters(get_resolver().url_patterns)
        if free_text
    ]
    assert "token" in free  # the person's page and the acknowledgement link


@pytest.mark.parametrize("role", ["anonymous", "coordinator"])
def test_no_route_serves_a_file_outside_the_site(role, cast):
    client = signed_in(None if role == "anonymous" else cast.coordinator)
    markers = _outside_markers()
    findings = []
    tried = 0
    for path in _probes():
        response = client.get(path)
        tried += 1
        location = response.get("Location", "")
        if response.status_code in REDIRECTS and location.startswith("/") and "//" not in location:
            response = client.get(location)
        body = _body(response)
        if response.status_code not in ALLOWED:
            findings.append(f"GET {path}: {response.status_code}")
        findings.extend(f"GET {path}: served {m[:20]!r}" for m in markers if m in body)
    assert tried > 100
    assert not findings, "\n".join(findings)


def test_a_real_static_file_is_still_served(client):
    """The probes above are refused for what they are, not because static files are off."""
    response = client.get(f"{settings.STATIC_URL}intake/page.css")
    assert response.status_code == 200
