"""SQL injection: payloads in every filter and search box, on the web pages and the API.

The boxes are found, not listed: every GET form on every page the resolver routes (its field
names are the page's filters), every query parameter of every GET operation in the OpenAPI
document, and every POST form and API body of the identity search. Each payload must give an
answer below 500, show no protected object outside the role's need-to-know (every UUID in the
response is checked against security.access.scope), and leave the database intact.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from refuge.config.api import api
from refuge.security import access
from tests.security.sweep_tools import (
    UUID_RE,
    all_routes,
    changed_tables,
    db_fingerprint,
    parse_page,
    route_urls,
    signed_in,
    text_of,
)
from tests.security.test_access_sweep import objects  # noqa: F401 - the sweep's objects

pytestmark = pytest.mark.django_db

SQL_PAYLOADS = (
    "' OR 1=1--",
    "' OR '1'='1",
    '"; DROP TABLE people_protectedperson; --',
    "1; DROP TABLE cases_case",
    "' UNION SELECT NULL, NULL--",
    "%",
    "_",
    "%%' OR ''='",
    "\\",
    "\\' OR 1=1 --",
    "\x00",
    "x\x00' OR 1=1--",
    "ʼ OR 1=1--",  # a modifier letter apostrophe, which some collations fold to '
    "＇ OR 1=1--",  # fullwidth apostrophe
    "К' OR 'К'='К",
    "1' AND pg_sleep(1)--",
    "99999999999999999999999999",
    "-1",
    "1e309",
    "x" * 5000,
)
# Roles whose need-to-know is narrower than everything, so "no extra rows" can fail for them;
# the coordinator sees every row, and is swept for server errors.
ROLES_SWEPT = ("coordinator", "caseworker", "outsider", "operator", "analyst")
# Tables a read may write by design: reads of identities and searches are audited, and the
# identity search counts each search towards its hourly limit in the audit log.
READ_LOGS = ("security_auditentry",)


def _hidden_ids(user) -> set[str]:  # type: ignore[no-untyped-def]
    """Ids of protected rows the user may not see."""
    hidden: set[str] = set()
    for model in list(access._rules):
        every = {str(pk) for pk in model._default_manager.values_list("pk", flat=True)}
        seen = {
            str(pk)
            for pk in access.scope(user, model._default_manager.all()).values_list("pk", flat=True)
        }
        hidden |= every - seen
    return hidden


def _web_filters(client: Client, objects, cast) -> Iterator[tuple[str, str]]:  # noqa: F811
    """(page URL, parameter) for every field of every GET form on every routed page."""
    for route in all_routes():
        if route.is_api:
            continue
        for url in route_urls(route, objects, cast):
            response = client.get(url)
            if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
                continue
            forms, _links = parse_page(text_of(response))
            names = {n for f in forms if f.method == "get" for n in f.field_names()}
            yield from ((url, name) for name in sorted(names))


def _api_filters() -> Iterator[tuple[str, str]]:
    """(path, parameter) for every query parameter of every GET operation without path ids."""
    for path, operations in api.get_openapi_schema()["paths"].items():
        get = operations.get("get")
        if get is None or "{" in path:
            continue
        for parameter in get.get("parameters", []):
            if parameter.get("in") == "query":
                yield path, parameter["name"]


def _check(response, user, hidden: set[str], label: str) -> list[str]:  # type: ignore[no-untyped-def]
    findings = []
    if response.status_code >= 500:
        findings.append(f"{label}: {response.status_code}")
    body = text_of(response)
    if leaked := set(UUID_RE.findall(body)) & hidden:
        findings.append(f"{label}: {user.username} saw {len(leaked)} row(s) outside their scope")
    errors = ("syntax error", "OperationalError", "ProgrammingError", "Traceback")
    findings.extend(f"{label}: database error text {e!r}" for e in errors if e in body)
    return findings


@pytest.mark.parametrize("role", ROLES_SWEPT)
def test_filters_and_search_boxes_withstand_sql_injection(role, cast, objects, settings):  # noqa: F811
    settings.IDENTITY_SEARCHES_PER_HOUR = 100_000
    user = cast.by_role()[role]
    client = signed_in(user)
    hidden = _hidden_ids(user)
    targets = [*_web_filters(client, objects, cast), *_api_filters()]
    assert len(targets) >= 5
    before = db_fingerprint(ignore=READ_LOGS)
    findings = []
    for url, name in targets:
        for payload in SQL_PAYLOADS:
            response = client.get(url, {name: payload})
            findings.extend(_check(response, user, hidden, f"GET {url} {name}={payload[:30]!r}"))
    assert not (changed := changed_tables(before, db_fingerprint(ignore=READ_LOGS))), changed
    assert not findings, "\n".join(findings)


def _identity_searches(client: Client) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(url, data, is_json) for each field of the identity search, web form and API."""
    response = client.get("/people/search/")
    forms, _links = parse_page(text_of(response)) if response.status_code == 200 else ([], [])
    for form in forms:
        if form.method != "post":
            continue
        for name in form.field_names():
            if name == "csrfmiddlewaretoken":
                continue
            for payload in SQL_PAYLOADS:
                yield form.action or "/people/search/", {name: payload}, False
    for field in ("phone", "name"):
        for payload in SQL_PAYLOADS:
            yield "/api/v1/people/search", {field: payload}, True


@pytest.mark.parametrize("role", ROLES_SWEPT)
def test_the_identity_search_withstands_sql_injection(role, cast, objects, settings):  # noqa: F811
    settings.IDENTITY_SEARCHES_PER_HOUR = 100_000
    user = cast.by_role()[role]
    client = signed_in(user)
    hidden = _hidden_ids(user)
    before = db_fingerprint(ignore=READ_LOGS)
    findings = []
    tried = 0
    for url, data, is_json in _identity_searches(client):
        if is_json:
            response = client.post(url, data, content_type="application/json")
        else:
            response = client.post(url, data)
        tried += 1
        findings.extend(_check(response, user, hidden, f"POST {url} {str(data)[:40]}"))
    assert tried >= len(SQL_PAYLOADS) * 2  # the API's two fields at least
    assert not (changed := changed_tables(before, db_fingerprint(ignore=READ_LOGS))), changed
    assert not findings, "\n".join(findings)


def test_the_sweep_sees_rows_outside_a_scope(cast):
    """The scope check can fail: the outsider has hidden rows, the cast's case among them."""
    assert str(cast.case.pk) in _hidden_ids(cast.outsider)
