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
from typing import Any

from django.db import connections, models, router

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
    # rows: SQLite reuses it prepared, psycopg sends the rows in one pipeline.
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({row})"  # noqa: S608
    with connection.cursor() as cursor:
        if len(params) == 1:
            cursor.execute(sql, params[0])
        else:
            cursor.executemany(sql, params)


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
