"""Tampering with the audit table as an attacker who owns the database would: drop the
append-only triggers, loosen the schema (NOT NULL, the primary key, a column's type), then write
any value into any column of a row. Used by the audit chain tests and the audit fuzz test; every
change happens inside the test's transaction and is rolled back with it."""

from __future__ import annotations

import importlib
from typing import Any

from django.db import connection

from refuge.security import audit
from refuge.security.models import AuditEntry

TABLE = AuditEntry._meta.db_table
append_only = importlib.import_module("refuge.security.migrations.0002_audit_append_only")
# Columns whose PostgreSQL type is not text: a text value needs the column turned into text.
TYPED_ON_POSTGRES = {"id", "seq", "occurred_at", "actor_id"}
COLUMNS = (
    "id",
    "seq",
    "occurred_at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "detail",
    "prev_hash",
    "entry_hash",
)


def _execute(sql: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def set_triggers(*, create: bool) -> None:
    for sql in append_only.statements(connection.vendor, create=create):
        _execute(sql)


def allow_null(column: str) -> None:
    if connection.vendor == "postgresql":
        if column == "id":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass "
                    "AND contype = 'p'",
                    [TABLE],
                )
                row = cursor.fetchone()
            if row is not None:
                _execute(f'ALTER TABLE {TABLE} DROP CONSTRAINT "{row[0]}"')
        _execute(f"ALTER TABLE {TABLE} ALTER COLUMN {column} DROP NOT NULL")
        return
    # SQLite cannot drop a NOT NULL: rebuild the table without any constraint, as an attacker
    # with the file would.
    _execute(f"CREATE TABLE {TABLE}_loose AS SELECT * FROM {TABLE}")  # noqa: S608
    _execute(f"DROP TABLE {TABLE}")
    _execute(f"ALTER TABLE {TABLE}_loose RENAME TO {TABLE}")


def make_text(column: str) -> None:
    """PostgreSQL only: let a uuid or timestamp column hold any text."""
    _execute(f"ALTER TABLE {TABLE} ALTER COLUMN {column} TYPE text USING {column}::text")


def corrupt(seq: int, column: str, value: Any) -> None:
    """Write `value` (None: NULL) into `column` of entry #`seq`. The triggers must be gone."""
    if column not in COLUMNS:
        raise ValueError(column)
    if value is None:
        allow_null(column)
    elif (
        connection.vendor == "postgresql"
        and column in TYPED_ON_POSTGRES
        and isinstance(value, str)
        and column != "seq"
    ):
        make_text(column)
    _execute(f"UPDATE {TABLE} SET {column} = %s WHERE seq = %s", [value, seq])  # noqa: S608


def record(n: int, actor: audit.Actor | None = None) -> AuditEntry:
    return audit.record(
        "refuge.security.test.recorded",
        actor=actor,
        object_type="tests.thing",
        object_id=str(n),
        detail={"n": n},
    )
