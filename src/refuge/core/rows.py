"""Inserts of the few rows written on every hot path, without the ORM's query building.

Django spends a few hundred microseconds building and compiling each query; for the statements
that run with every audited change (the chain's new entry) and every check-in that is more than
the database's own work. These helpers write exactly
what Model.save(force_insert=True) would, through each field's own pre_save() and database
preparation, for models whose primary key is set in Python (UUIDs; no AutoField). They send no
signals: Refuge uses none (docs/development/style.md). See docs/decisions/0008.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

from django.db import connections, models, router
from django.db.backends.utils import CursorDebugWrapper

# PostgreSQL's protocol numbers a statement's parameters in 16 bits; Django knows SQLite's limit.
_MAX_PARAMS = 65_535
_MAX_ROWS = 1_000


def rows_per_statement(connection: Any, columns: int) -> int:
    """How many rows of `columns` values one multi-row INSERT may carry on `connection`."""
    limit = connection.features.max_query_params or _MAX_PARAMS
    return max(1, min(_MAX_ROWS, limit // max(1, columns)))


def _insert(
    connection: Any, meta: Any, fields: Sequence[Any], objs: Sequence[models.Model]
) -> None:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(field.column)) for field in fields)
    row = ", ".join(["%s"] * len(fields))
    params = [
        [field.get_db_prep_save(field.pre_save(obj, add=True), connection) for field in fields]
        for obj in objs
    ]
    # Names come from the model's _meta, every value is a parameter. One statement for all the
    # rows: SQLite reuses it prepared; PostgreSQL takes several rows as one COPY (see _copy).
    table = quote(meta.db_table)
    with connection.cursor() as cursor:
        if len(params) == 1:
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES ({row})", params[0])  # noqa: S608
        elif connection.vendor == "postgresql":
            _copy(cursor, f"COPY {table} ({columns}) FROM STDIN", params)
        else:
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({row})", params)  # noqa: S608


def _copy(cursor: Any, sql: str, params: Sequence[Sequence[Any]]) -> None:
    """PostgreSQL: the rows as one COPY. psycopg's executemany sends one INSERT per row (in a
    pipeline); a surge writes thousands of rows in a handful of tables, and COPY formats and
    sends them in C, in one statement. COPY fires the same triggers and checks the same
    constraints as INSERT. Logged like a query where Django logs queries (DEBUG, tests)."""
    raw = cursor.cursor  # Django's CursorWrapper around psycopg's cursor
    logged = (
        cursor.debug_sql(sql, params, many=True)
        if isinstance(cursor, CursorDebugWrapper)
        else nullcontext()
    )
    with logged, cursor.db.wrap_database_errors, raw.copy(sql) as copy:
        for values in params:
            copy.write_row(values)


def insert(objs: Sequence[models.Model]) -> None:
    """INSERT `objs` (instances of one model, primary keys set) with one statement."""
    if not objs:
        return
    model = type(objs[0])
    meta = model._meta
    if isinstance(meta.pk, models.AutoField | models.BigAutoField | models.SmallAutoField):
        raise TypeError(f"{meta.label} numbers its rows in the database: use save()")
    if any(type(obj) is not model for obj in objs):
        raise TypeError("insert() takes instances of one model")
    connection = connections[router.db_for_write(model)]
    _insert(connection, meta, meta.concrete_fields, objs)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
