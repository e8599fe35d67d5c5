"""The XSS sweep's payloads, its detector and its writers (tests/security/test_xss_sweep.py).

The payloads each carry a marker (xq00, xq01, ...) so a finding names the payload behind it.
The writers find the forms on every routed page and the write operations of the OpenAPI
document, and fill every text field with payloads; the detector parses a page and reports every
element or attribute a payload could have created.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from refuge.config.api import api
from refuge.security.models import AuditEntry
from tests.security.sweep_tools import Form, all_routes, parse_page, route_urls, text_of

# {m} is a marker unique to the payload, so a finding names the payload that caused it.
PAYLOAD_TEMPLATES = (
    '<script>alert("{m}")</script>',
    '"><img src=x onerror=alert("{m}")>',
    "'><svg onload=alert('{m}')>",
    'javascript:alert("{m}")',
    " JaVaScRiPt:alert('{m}')",
    "{m}{{{{7*7}}}}",
    '{m}{{% now "Y" %}}',
    "{m}${{7*7}}",
    '" autofocus onfocus=alert("{m}") x="',
    "' onmouseover=alert('{m}') '",
    '</textarea><script>alert("{m}")</script>',
    '</title><script>alert("{m}")</script>',
    '<svg><script>alert("{m}")</script></svg>',
    "<math><mi xlink:href=\"javascript:alert('{m}')\">x</mi></math>",
    "<iframe src=\"javascript:alert('{m}')\"></iframe>",
    "<a href=\"javascript:alert('{m}')\">{m}</a>",
    "＜script＞alert('{m}')＜/script＞",
    '\\u003cscript\\u003ealert("{m}")\\u003c/script\\u003e',
    '<scr<script>ipt>alert("{m}")</script>',
    '<details open ontoggle=alert("{m}")>',
    "%3Cscript%3Ealert('{m}')%3C/script%3E",
    '<base href="//evil.example/{m}/">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(\'{m}\')">',
    '\u202e<script>alert("{m}")</script>',
    "data:text/html,<script>alert('{m}')</script>",
    "<object data=\"javascript:alert('{m}')\"></object>",
)
PAYLOADS = tuple(t.format(m=f"xq{i:02d}") for i, t in enumerate(PAYLOAD_TEMPLATES))
EVALUATED = ("xq0549", "xq062026", "xq062027", "xq0749")  # {{7*7}}, {% now %}, ${7*7}

# Form actions the write phase leaves alone, with the reason.
SKIPPED_FORMS = {
    "/logout/": "ends the session the sweep crawls with",
    "/seal/": "sealing makes every identity unreadable for the rest of the sweep",
    "/remove/": "removes an object whose pages the sweep must render",
    "/delete/": "removes an object whose pages the sweep must render",
    "/revoke/": "revokes the link or token the sweep renders",
    "/lead/": "moves the team lead role the sweep's roles depend on",
    "/i18n/": "changes the language only; no text is stored",
    "/step-up/": "authentication flow: typed codes, no stored text (2FA tests)",
    "/second-factor/": "authentication flow: typed codes, no stored text (2FA tests)",
    "/enrol/": "authentication flow: typed codes, no stored text (2FA tests)",
    "/security/": "authentication factors: typed codes, no stored text (2FA tests)",
    "/passkeys/": "WebAuthn ceremony driven by JavaScript (2FA tests)",
    "/c/": "the protected person's page stores no text (fuzzed in tests/fuzz)",
}
WRITERS = ("coordinator", "operator")  # between them, every form of the staff pages
# Each form is submitted once per offset (each field gets up to ten payloads from there on).
# The last round starts every field at the raw-markup payloads, and retries a field alone when
# another one made the form fail, so what an edit form finally stores is the sharpest payloads.
ROUND_OFFSETS = (10, 18, 0)
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster"}
BAD_SCHEMES = ("javascript:", "vbscript:", "data:")
# Elements no page of Refuge renders. (Inline SVG is legitimate, e.g. a TOTP QR code; an
# injected one is caught by its event handler or its script.)
INJECTED_TAGS = {"iframe", "object", "embed", "base", "frame", "frameset"}
# Scripts that browsers never run: Django's json_script data blocks (JSON, with <, >, & escaped).
DATA_BLOCKS = {"application/json", "application/ld+json"}
# --- finding detection --------------------------------------------------------------------------


class _XssScanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.findings: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            if name.startswith("on"):
                self.findings.append(f"<{tag} {name}={value[:60]!r}>: event handler")
            squeezed = re.sub(r"[\s\x00-\x1f]", "", value).lower()
            if name in URL_ATTRIBUTES and squeezed.startswith(BAD_SCHEMES):
                self.findings.append(f"<{tag} {name}={value[:60]!r}>: script URL")
        if tag in INJECTED_TAGS:
            self.findings.append(f"<{tag}>: element the pages never use")
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            self.findings.append("<meta http-equiv=refresh>")
        if tag == "script":
            src = values.get("src", "")
            data_block = values.get("type", "").lower() in DATA_BLOCKS and not src
            if not data_block and not (src.startswith("/") and not src.startswith("//")):
                self.findings.append(f"<script src={src!r}>: not a same-origin file")
            self._in_script = not data_block

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.findings.append(f"inline script {data[:60]!r}")


def xss_findings(html: str) -> list[str]:
    scanner = _XssScanner()
    scanner.feed(html)
    scanner.close()
    findings = list(scanner.findings)
    findings.extend(f"template expression evaluated: {e}" for e in EVALUATED if e in html)
    return findings


# --- writing ------------------------------------------------------------------------------------


def _packs(capacity: int, start: int, separator: str) -> str:
    """As many payloads as fit in `capacity` characters (at most ten: text areas take one entry
    per line, ten lines at most), starting at payload `start`."""
    chosen: list[str] = []
    for payload in itertools.islice(itertools.cycle(PAYLOADS), start, start + 10):
        if len(separator.join([*chosen, payload])) > capacity:
            break
        chosen.append(payload)
    return separator.join(chosen) or PAYLOADS[start % len(PAYLOADS)][:capacity]


TEXT_TYPES = {"text", "search", "tel", "url", ""}
NEUTRAL = {
    "email": "sweep@example.org",
    "number": "1",
    "date": "2026-12-01",
    "datetime-local": "2026-12-01T10:00",
    "time": "21:00",
}


SUBMITS = {"submit", "submit-button"}
UPLOADED_PAGE = b"<!doctype html><script>alert('xq-file')</script><img src=x onerror=alert(2)>"


def _input_value(field: dict[str, str], payload_at: dict[str, str], data: dict[str, Any]) -> None:
    name, kind = field["name"], field.get("type", "").lower()
    if name in payload_at and kind in TEXT_TYPES:
        data[name] = payload_at[name]
    elif kind in {"checkbox", "radio"}:
        if "checked" in field:
            data.setdefault(name, []).append(field.get("value", "on"))
        elif kind == "radio" and name not in data:
            data[name] = [field.get("value", "on")]
    elif kind == "file":
        # A web page as the file, under a payload as its name: a download that a browser would
        # render inline, or a file name printed unescaped, shows up in the crawl.
        label = payload_at.get(name, "sweep")
        data[name] = SimpleUploadedFile(f"{label}.html", UPLOADED_PAGE, "text/html")
    elif kind not in SUBMITS | {"password"}:
        data[name] = field.get("value") or NEUTRAL.get(kind, "")


def _form_data(form: Form, payload_at: dict[str, str]) -> dict[str, Any]:
    """The form as a browser would send it, with `payload_at` {field: value} filled in."""
    data: dict[str, Any] = {}
    for field in form.inputs:
        _input_value(field, payload_at, data)
    buttons = [f for f in form.inputs if f.get("type", "").lower() in SUBMITS]
    if buttons:  # the first button, as pressing Enter in the form does
        data[buttons[0]["name"]] = buttons[0].get("value", "")
    for area in form.textareas:
        data[area["name"]] = payload_at.get(area["name"], area.get("value", "").strip("\n"))
    for select, options in form.selects:
        chosen = [o.get("value", "") for o in options if "selected" in o]
        first = [o.get("value", "") for o in options if o.get("value")][:1]
        data[select["name"]] = chosen or first
    return data


# Without a maxlength attribute, assume the services' usual limits: 200 characters for a name
# or a line (people.validation), and one payload per line in text areas.
TEXT_CAPACITY = 200
AREA_CAPACITY = 2000


def _text_fields(form: Form) -> dict[str, tuple[int, str]]:
    """Text-like fields: how many characters each takes, and how payloads are joined in it."""
    fields = {
        f["name"]: (int(f.get("maxlength") or TEXT_CAPACITY), " ")
        for f in form.inputs
        if f.get("type", "").lower() in TEXT_TYPES | {"file"}
    }
    fields.update(
        {t["name"]: (int(t.get("maxlength") or AREA_CAPACITY), "\n") for t in form.textareas}
    )
    return {name: shape for name, shape in fields.items() if name}


def _post_forms(client: Client, url: str, html: str, stats: dict[str, int]) -> None:
    forms, _links = parse_page(html)
    for form in forms:
        action = form.action or url
        if form.method != "post" or any(skip in action for skip in SKIPPED_FORMS):
            continue
        fields = _text_fields(form)
        if not fields:
            continue
        kept: dict[str, str] = {}  # accepted values, so a later submission does not undo them
        for offset in ROUND_OFFSETS:
            values = {
                name: _packs(capacity, offset + (3 * i if offset else 0), separator)
                for i, (name, (capacity, separator)) in enumerate(fields.items())
            }
            if _submit(client, action, form, values):
                stats["accepted"] += 1
                kept = values
                continue
            if offset == 0:
                for name in fields:  # one strict field must not hide the others
                    for value in (values[name], PAYLOADS[0], PAYLOADS[1]):
                        if _submit(client, action, form, {**kept, name: value}):
                            stats["accepted"] += 1
                            kept[name] = value
                            break
        stats["forms"] += 1


def _submit(client: Client, action: str, form: Form, values: dict[str, str]) -> bool:
    """Submit; True if something was stored (every write appends to the audit log)."""
    before = AuditEntry.objects.count()
    response = client.post(action, _form_data(form, values))
    assert response.status_code < 500, f"POST {action}: {response.status_code}"
    return AuditEntry.objects.count() > before


def web_get_urls(objects, cast) -> list[str]:
    return [
        url
        for route in all_routes()
        if not route.is_api
        for url in route_urls(route, objects, cast)
    ]


def write_through_forms(client: Client, urls: list[str]) -> dict[str, int]:
    stats = {"forms": 0, "accepted": 0}
    for url in urls:
        response = client.get(url)
        if response.status_code == 200 and "text/html" in response.get("Content-Type", ""):
            _post_forms(client, url, text_of(response), stats)
    return stats


# --- the API ------------------------------------------------------------------------------------


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        return _resolve(schema, options[0]) if options else node
    if "allOf" in node:
        return _resolve(schema, node["allOf"][0])
    return node


FORMAT_VALUES = {"date": "2026-12-01", "date-time": "2026-12-01T10:00:00Z", "time": "21:00"}


def _value(schema, node, name: str, ids: dict[str, str], payload: str) -> Any:  # type: ignore[no-untyped-def]
    """A valid value for a schema node, with `payload` in every free-text string; ids of the
    sweep's objects where a property takes one (by the property's name)."""
    node = _resolve(schema, node)
    kind = node.get("type")
    if "enum" in node:
        return node["enum"][0]
    if kind == "object":
        props = node.get("properties", {})
        return {k: _value(schema, v, k, ids, payload) for k, v in props.items()}
    if kind == "array":
        item = _resolve(schema, node.get("items", {}))
        if item.get("format") == "uuid":
            return [ids[name]] if name in ids else []
        return [_value(schema, item, name, ids, payload)] if "enum" in item else []
    scalars = {"boolean": False, "integer": max(node.get("minimum", 1), 1)}
    if kind in scalars:
        return scalars[kind]
    formats = {**FORMAT_VALUES, "uuid": ids.get(name, ids["person"])}
    return formats.get(node.get("format", ""), payload[: node.get("maxLength", len(payload))])


def _api_writes(cast, objects) -> Iterator[tuple[str, str, dict[str, Any]]]:
    schema = api.get_openapi_schema()
    path_ids = {
        "person_id": cast.falcon.pk,
        "case_id": cast.case.pk,
        "relative_id": objects["relative:FALCON"].pk,
        "task_id": objects["task"].pk,
        "emergency_id": objects["emergency"].pk,
        "policy_id": objects["policy"].pk,
        "rota_id": objects["rota"].pk,
        "step_id": objects["step"].pk,
        "channel_id": objects["channel"].pk,
    }
    body_ids = {
        "team": str(objects["team"].pk),
        "people": str(cast.falcon.pk),
        "caller": str(cast.birch.pk),
        "person": str(cast.falcon.pk),
        "assignee": str(cast.lawyer.pk),
        "user": str(cast.operator.pk),
        "rota": str(objects["rota"].pk),
        "policy": str(objects["policy"].pk),
    }
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method not in {"post", "put", "patch"} or "requestBody" in operation is False:
                continue
            names = re.findall(r"{(\w+)}", path)
            if any(n not in path_ids for n in names) or "revoke" in path or "link" in path:
                continue
            url = path.format(**{n: path_ids[n] for n in names})
            content = operation.get("requestBody", {}).get("content", {})
            body_schema = content.get("application/json", {}).get("schema")
            if body_schema is None:
                continue
            for index, payload in enumerate(PAYLOADS):
                if index % 3 and method == "patch":
                    continue  # updates overwrite one another: a third of the payloads suffice
                yield method, url, _value(schema, body_schema, "", body_ids, payload)


def write_through_api(client: Client, cast, objects) -> int:
    accepted = 0
    for method, url, body in _api_writes(cast, objects):
        response = client.generic(
            method.upper(), url, json.dumps(body), content_type="application/json"
        )
        assert response.status_code < 500, f"{method.upper()} {url}: {response.status_code}"
        accepted += response.status_code < 300
    return accepted
