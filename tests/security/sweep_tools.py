"""What the attack sweeps share: signed-in clients per role, every page a role can reach, the
forms on a page, and a fingerprint of the whole database.

Routes come from the URL resolver and the objects behind their parameters from the access
sweep (tests/security/test_access_sweep.py: PARAMETER_ENTITIES, VIEWERS and its `objects`
fixture), so a route another engineer adds is swept as soon as it is in urls.py.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from django.db import connection
from django.test import Client
from django.urls import reverse

from refuge.accounts.models import User
from tests.conftest import verified_login
from tests.security.test_access_sweep import ROLES, Route, _targets, all_routes

__all__ = ["ROLES", "Route", "all_routes"]

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Rewritten by requests (the idle expiry is moved on at most once a minute).
VOLATILE_TABLES = frozenset({"django_session"})


def signed_in(user: User | None, *, enforce_csrf_checks: bool = False) -> Client:
    """A browser of `user` past both login steps (or an anonymous one for None)."""
    client = Client(enforce_csrf_checks=enforce_csrf_checks)
    if user is not None:
        verified_login(client, user)
    return client


def route_urls(route: Route, objects: dict[str, object], cast: object) -> Iterator[str]:
    """The route's URL for each object of the access sweep that its parameters can name."""
    for _key, kwargs in _targets(route, objects, cast):
        yield reverse(route.name, kwargs=kwargs)


def db_fingerprint(*, ignore: Iterable[str] = ()) -> dict[str, str]:
    """table -> SHA-256 of all its rows in primary-key order: any insert, update or delete in
    any table changes it. `ignore` names tables that the request legitimately writes."""
    skipped = VOLATILE_TABLES | set(ignore)
    digest: dict[str, str] = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            if table in skipped:
                continue
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted} ORDER BY 1")  # noqa: S608 - names from the DB
            hasher = hashlib.sha256()
            for row in cursor.fetchall():
                hasher.update(repr(tuple(_plain(value) for value in row)).encode())
            digest[table] = hasher.hexdigest()
    return digest


def changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))


def body_of(response: Any) -> bytes:
    """The body of any response, streamed (file downloads) or not."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def text_of(response: Any) -> str:
    return body_of(response).decode("utf-8", errors="replace")


def _plain(value: object) -> object:
    return bytes(value) if isinstance(value, memoryview) else value


@dataclass
class Form:
    method: str
    action: str
    inputs: list[dict[str, str]] = field(default_factory=list)
    textareas: list[dict[str, str]] = field(default_factory=list)
    selects: list[tuple[dict[str, str], list[dict[str, str]]]] = field(default_factory=list)

    def field_names(self) -> list[str]:
        names = [i.get("name", "") for i in self.inputs]
        names += [t.get("name", "") for t in self.textareas]
        names += [s.get("name", "") for s, _options in self.selects]
        return [n for n in names if n]


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._form: Form | None = None
        self._select: tuple[dict[str, str], list[dict[str, str]]] | None = None
        self._textarea: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "form":
            self._form = Form(a.get("method", "get").lower(), a.get("action", ""))
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag in {"input", "button"} and a.get("name"):
            if tag == "button":
                a = {**a, "type": "submit-button"}
            self._form.inputs.append(a)
        elif tag == "textarea":
            self._textarea = {**a, "value": ""}
            self._form.textareas.append(self._textarea)
        elif tag == "select":
            self._select = (a, [])
            self._form.selects.append(self._select)
        elif tag == "option" and self._select is not None:
            self._select[1].append(a)

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea["value"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def parse_page(html: str) -> tuple[list[Form], list[str]]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms, parser.links


def same_site_path(base: str, href: str) -> str | None:
    """The local path of a link on page `base`, or None for another site, a fragment or a
    file the sweeps do not crawl."""
    url = urlsplit(urljoin(base, href))
    if url.scheme not in {"", "http"} or url.netloc not in {"", "testserver"}:
        return None
    if url.path.startswith(("/static/", "/admin/", "/i18n/")):
        return None
    return url.path + (f"?{url.query}" if url.query else "")
