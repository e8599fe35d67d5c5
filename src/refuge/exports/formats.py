"""Export files, written while they are sent: JSON (one document) and CSV (one row per person on
a case). Nothing is written to disk and nothing is logged; the records come from the selectors.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse
from django.utils import formats
from django.utils.translation import pgettext

from refuge.cases.models import TimelineEntry
from refuge.core import clock, formatting
from refuge.people.models import ContactChannel, ContactDirection, Relative

CONTENT_TYPES = {"json": "application/json; charset=utf-8", "csv": "text/csv; charset=utf-8"}
CASE_COLUMNS = (
    "code",
    "case_type",
    "status",
    "risk_level",
    "team",
    "opened_at",
    "closed_at",
    "timeline_entries",
    "tasks_open",
    "tasks_done",
)
PERSON_COLUMNS = ("pseudonym", "person_risk_level", "is_minor")
IDENTITY_COLUMNS = (
    "legal_name",
    "aliases",
    "date_of_birth",
    "phones",
    "messengers",
    "address",
    "notes",
)
UNREDACTED_COLUMNS = (
    *IDENTITY_COLUMNS,
    "relatives",
    "relative_contacts",
    "case_summary",
    "timeline",
    "tasks",
)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False).encode("utf-8")


def json_stream(header: dict[str, Any], records: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    yield b'{"export":' + _dumps(header) + b',"cases":['
    separator = b""
    for record in records:
        yield separator + _dumps(record)
        separator = b","
    yield b"]}\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _joined(lines: list[str]) -> str:
    return "\n".join(line for line in lines if line)


def _when(value: dt.datetime) -> str:
    """A time inside a human-readable cell: the language's format, in UTC and saying so (the
    file is read far from the server's time zone)."""
    return f"{formats.date_format(value.astimezone(dt.UTC), 'DATETIME_FORMAT')} UTC"


def _contact_line(relative: dict[str, Any], contact: dict[str, Any]) -> str:
    """One contact with a relative: when, who (relation and name), how, which way, which staff
    member, what was said, and whether it waits for a follow-up."""
    follow_up = (
        pgettext("relative contact", " [follow-up needed]") if contact["follow_up_needed"] else ""
    )
    return (
        f"{_when(contact['occurred_at'])} "
        f"{formatting.label(Relative.Relation, relative['relation'])} {relative['name'] or ''}: "
        f"{formatting.label(ContactChannel, contact['channel'])}, "
        f"{formatting.label(ContactDirection, contact['direction'])} "
        f"({contact['staff'] or ''}): {contact['summary'] or ''}{follow_up}"
    )


def _task_state(task: dict[str, Any]) -> str:
    return pgettext("task state", "done") if task["done_at"] else pgettext("task state", "open")


def _unredacted_cells(case: dict[str, Any], person: dict[str, Any] | None) -> list[Any]:
    identity = (person or {}).get("identity") or {}
    relatives = [
        f"{formatting.label(Relative.Relation, r['relation'])}: {r['name'] or ''} "
        f"({r['phones'] or ''}; {r['location'] or ''})"
        for r in (person or {}).get("relatives", [])
    ]
    timeline = [
        f"{_when(entry['occurred_at'])} {formatting.label(TimelineEntry.Kind, entry['kind'])}: "
        f"{entry['text'] or ''}"
        for entry in case["timeline"]
    ]
    tasks = [f"{t['title'] or ''} ({_task_state(t)})" for t in case["tasks"]]
    contacts = [
        _contact_line(relative, contact)
        for relative in (person or {}).get("relatives", [])
        for contact in relative["contacts"]
    ]
    return [
        *(identity.get(column) for column in IDENTITY_COLUMNS),
        _joined(relatives),
        _joined(contacts),
        case["summary"],
        _joined(timeline),
        _joined(tasks),
    ]


def _rows(records: Iterator[dict[str, Any]], *, unredacted: bool) -> Iterator[list[Any]]:
    for case in records:
        case_cells = [case["opened_at"] if c == "opened_at" else case[c] for c in CASE_COLUMNS]
        for person in case["people"] or [None]:
            person_cells = (
                [person["pseudonym"], person["risk_level"], person["is_minor"]]
                if person
                else ["", "", ""]
            )
            extra = _unredacted_cells(case, person) if unredacted else []
            yield [*case_cells, *person_cells, *extra]


class _Line:
    """csv.writer's file: hands each written line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def csv_stream(records: Iterator[dict[str, Any]], *, unredacted: bool) -> Iterator[bytes]:
    writer = csv.writer(_Line())
    header = [*CASE_COLUMNS, *PERSON_COLUMNS, *(UNREDACTED_COLUMNS if unredacted else ())]
    yield ("\ufeff" + writer.writerow(header)).encode("utf-8")  # BOM: spreadsheets read UTF-8
    for row in _rows(records, unredacted=unredacted):
        yield writer.writerow([_cell(v) for v in row]).encode("utf-8")


def streaming_response(
    *,
    kind: str,
    fmt: str,
    header: dict[str, Any],
    records: Iterator[dict[str, Any]],
) -> StreamingHttpResponse:
    unredacted = kind == "unredacted"
    body = (
        json_stream(header, records)
        if fmt == "json"
        else csv_stream(records, unredacted=unredacted)
    )
    response = StreamingHttpResponse(body, content_type=CONTENT_TYPES[fmt])
    stamp = clock.now().strftime("%Y%m%dT%H%MZ")
    response["Content-Disposition"] = f'attachment; filename="refuge-{kind}-export-{stamp}.{fmt}"'
    # Never kept by a browser or proxy cache: the file exists only on the receiving machine.
    response["Cache-Control"] = "no-store"
    return response


def export_header(
    *, kind: str, actor: Any, case_count: int, request_id: Any = None
) -> dict[str, Any]:
    return {
        "kind": kind,
        "generated_at": clock.now(),
        "generated_by": actor.get_username(),
        "request_id": request_id,
        "case_count": case_count,
    }
