"""Reading the audit table as it is stored, for `refuge audit verify`.

Verification must survive whatever an attacker with the database wrote into the table: an id that
is not a UUID, a number that is text, a NULL where the schema had NOT NULL (constraints can be
dropped as easily as the append-only triggers), a timestamp that does not parse, a truncated hash.
So rows are read as raw values with plain SQL, never as model instances (their field conversions
raise on such values, and SQLite's own datetime converter raises while the row is fetched), and
every value is checked here. A row with an unreadable value is still a row: it comes back with
`malformed` saying what is wrong, and the chain walk reports it as a broken entry.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils.dateparse import parse_datetime

from refuge.security.models import AuditEntry

TABLE = AuditEntry._meta.db_table
BATCH = 2000
HASH_RE = re.compile(r"^[0-9a-f]{64}$")
# How much of an unreadable id a report quotes: enough to find the row, never a whole payload.
SHOWN_ID_LIMIT = 40
_SEQ_TEXT = re.compile(r"^-?[0-9]{1,18}$")


@dataclass(frozen=True)
class StoredEntry:
    """One row as stored. Values that could not be read are None, and `malformed` names the
    first of them ("" when the row is well-formed)."""

    id: uuid.UUID | None
    shown_id: str
    seq: int | None
    occurred_at: dt.datetime | None
    actor_id: uuid.UUID | None
    actor_label: str
    action: str
    object_type: str
    object_id: str
    detail: str
    prev_hash: str
    entry_hash: str
    malformed: str = ""


def _columns() -> str:
    # SQLite hands a column declared "datetime" to Django's converter, which raises on a value
    # that looks like a date but is not one; as text it arrives untouched.
    occurred = "CAST(occurred_at AS TEXT)" if connection.vendor == "sqlite" else "occurred_at"
    return (
        f"id, seq, {occurred}, actor_id, actor_label, action, object_type, object_id, detail, "
        "prev_hash, entry_hash"
    )


def _unnumbered_condition() -> str:
    if connection.vendor == "sqlite":
        return "typeof(seq) <> 'integer'"
    return "seq IS NULL"


def _text_or_bytes(data: bytes) -> str | bytes:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


@contextlib.contextmanager
def tolerant_text() -> Iterator[None]:
    """SQLite stores whatever bytes it is given as TEXT, and its driver raises while fetching a
    row whose text is not UTF-8. While this is active such text arrives as bytes (a malformed
    value) instead; valid text is decoded as always."""
    if connection.vendor != "sqlite":
        yield
        return
    connection.ensure_connection()
    raw = connection.connection
    previous = raw.text_factory
    raw.text_factory = _text_or_bytes
    try:
        yield
    finally:
        raw.text_factory = previous


def read_entries() -> Iterator[StoredEntry]:
    """Every row, in stored `seq` order, in batches (a server-side cursor on PostgreSQL), so a
    long trail is walked in flat memory and nothing is skipped, whatever `seq` holds."""
    with tolerant_text(), connection.chunked_cursor() as cursor:
        cursor.execute(f"SELECT {_columns()} FROM {TABLE} ORDER BY seq, id")  # noqa: S608
        while rows := cursor.fetchmany(BATCH):
            for row in rows:
                yield stored_entry(row)


def first_unnumbered() -> StoredEntry | None:
    """A row whose `seq` is not a whole number (NULL, text, a fraction), if there is one."""
    with tolerant_text(), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_columns()} FROM {TABLE} WHERE {_unnumbered_condition()} "  # noqa: S608
            "ORDER BY id LIMIT 1"
        )
        row = cursor.fetchone()
    return stored_entry(row) if row is not None else None


def seqs_where(column: str, value: str) -> list[int]:
    """The readable numbers of the rows whose `column` (prev_hash or entry_hash) is `value`."""
    if column not in {"prev_hash", "entry_hash"}:
        raise ValueError(f"not a hash column: {column}")
    with tolerant_text(), connection.cursor() as cursor:
        cursor.execute(f"SELECT seq FROM {TABLE} WHERE {column} = %s", [value])  # noqa: S608
        found = [_seq(raw) for (raw,) in cursor.fetchall()]
    return sorted(seq for seq in found if seq is not None)


def stored_entry(row: tuple[Any, ...]) -> StoredEntry:
    (
        raw_id,
        raw_seq,
        raw_occurred,
        raw_actor,
        label,
        action,
        object_type,
        object_id,
        detail,
        prev_hash,
        entry_hash,
    ) = row
    problems: list[str] = []

    def text(name: str, value: Any) -> str:
        if isinstance(value, str):
            return value
        problems.append(f"its {name} is {_kind(value)}, not text")
        return ""

    entry_id = _uuid(raw_id)
    if entry_id is None:
        problems.append(f"its id is {_kind(raw_id)}, not a UUID")
    seq = _seq(raw_seq)
    if seq is None:
        problems.append(f"its number is {_kind(raw_seq)}, not a whole number")
    occurred_at = _datetime(raw_occurred)
    if occurred_at is None:
        problems.append(f"its time is {_kind(raw_occurred)}, not a timestamp")
    actor_id = _uuid(raw_actor)
    if raw_actor is not None and actor_id is None:
        problems.append(f"its actor id is {_kind(raw_actor)}, not a UUID")
    label, action = text("actor_label", label), text("action", action)
    object_type, object_id = text("object_type", object_type), text("object_id", object_id)
    detail, prev_hash = text("detail", detail), text("prev_hash", prev_hash)
    entry_hash = text("entry_hash", entry_hash)
    for name, value in (("previous hash", prev_hash), ("hash", entry_hash)):
        if not HASH_RE.match(value):
            problems.append(f"its {name} is not 64 hexadecimal digits")
    if not _canonical_detail(detail):
        problems.append("its detail is not the canonical JSON object the trail writes")
    return StoredEntry(
        id=entry_id,
        shown_id=str(entry_id) if entry_id is not None else _shown(raw_id),
        seq=seq,
        occurred_at=occurred_at,
        actor_id=actor_id,
        actor_label=label,
        action=action,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
        prev_hash=prev_hash,
        entry_hash=entry_hash,
        malformed=problems[0] if problems else "",
    )


def _kind(value: Any) -> str:
    if value is None:
        return "empty (NULL)"
    if isinstance(value, bytes | bytearray | memoryview):
        return "binary data"
    return f"{type(value).__name__} {_shown(value)}"


def _shown(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) and value.isprintable() else repr(value)
    return text if len(text) <= SHOWN_ID_LIMIT else text[: SHOWN_ID_LIMIT - 1] + "…"


def _uuid(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        return None
    try:
        # Django stores UUIDs as 32 hex digits on SQLite; it reads dashed forms alike.
        return uuid.UUID(hex=value)
    except ValueError:
        return None


def _seq(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    # A column turned into text on PostgreSQL: digits still name a position.
    if isinstance(value, str) and _SEQ_TEXT.match(value):
        return int(value)
    return None


def _datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        parsed: dt.datetime | None = value
    elif isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            return None
    else:
        return None
    if parsed is None:
        return None
    # SQLite keeps UTC without an offset (Django's convention with USE_TZ).
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _canonical_detail(detail: str) -> bool:
    """`record` stores details as canonical JSON of an object; anything else was written by
    someone else, even with a recomputed hash."""
    try:
        value = json.loads(detail)
    except ValueError:
        return False
    if not isinstance(value, dict):
        return False
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False) == detail
