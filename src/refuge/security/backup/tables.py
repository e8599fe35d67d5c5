"""Every table of every installed app, dumped and loaded generically (django.apps), so a new
model is in the next backup without anyone remembering to add it.

Rows are read with `values_list` over the concrete columns and written with plain INSERTs in raw
mode: no `save()`, no `pre_save` (so no timestamp is refreshed and no data key is created), and
ciphertext columns are copied byte for byte. Nothing is decrypted; no key is needed.

One file per model: a first line naming the model, table and columns, then one JSON array per
row. Each table also gets an order-independent digest (row count and the sum of the rows'
SHA-256 values), so a restore can prove that the database now holds exactly what was dumped.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.core.management.color import no_style
from django.db import connection, models
from django.db.models.sql import InsertQuery
from django.utils.duration import duration_iso_string
from django.utils.translation import gettext as _

from refuge.security.backup.archive import BackupError, canonical_json

# Sessions are credentials, not records: a restored instance makes everyone log in again.
EXCLUDED = frozenset({"sessions.session"})
# Rows that `migrate` itself writes into an empty instance (post_migrate): replaced on restore.
MIGRATE_WRITES = ("auth.permission", "contenttypes.contenttype")
_BATCH_ROWS = 500
_DIGEST_MODULUS = 1 << 256


def dumped_models(registry: Apps = global_apps) -> list[type[models.Model]]:
    """Every model with its own table, in a stable order."""
    found = [
        model
        for model in registry.get_models(include_auto_created=True)
        if model._meta.managed
        and not model._meta.proxy
        and not model._meta.swapped
        and model._meta.label_lower not in EXCLUDED
    ]
    return sorted(found, key=lambda m: m._meta.label_lower)


def file_name(model: type[models.Model]) -> str:
    return f"db/{model._meta.label_lower}.jsonl"


def encode(value: Any) -> Any:
    """A column value as JSON, losslessly (field.to_python reads it back)."""
    if value is None or isinstance(value, (bool, int, float, str, dict, list)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.datetime):
        # Full microseconds (the audit chain hashes them); always UTC, whatever the backend says.
        return value.astimezone(dt.UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return duration_iso_string(value)
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    raise BackupError(
        _("A column holds a value of unsupported type %(type)s.") % {"type": type(value).__name__}
    )


def columns(model: type[models.Model]) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


@dataclass
class Digest:
    count: int = 0
    total: int = 0

    def add(self, line: bytes) -> None:
        self.count += 1
        self.total = (self.total + int.from_bytes(hashlib.sha256(line).digest())) % _DIGEST_MODULUS

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "digest": f"{self.total:064x}"}


def rows(model: type[models.Model]) -> Iterator[bytes]:
    """One canonical JSON line per row (newline included)."""
    names = columns(model)
    queryset = model._base_manager.order_by("pk").values_list(*names)
    for row in queryset.iterator(chunk_size=2000):
        yield canonical_json([encode(v) for v in row]) + b"\n"


def dump(model: type[models.Model], digest: Digest) -> Iterator[bytes]:
    """The model's file: a header line, then its rows, in chunks of about 256 KiB."""
    meta = model._meta
    yield (
        canonical_json(
            {"model": meta.label_lower, "table": meta.db_table, "columns": columns(model)}
        )
        + b"\n"
    )
    pending = bytearray()
    for line in rows(model):
        digest.add(line)
        pending.extend(line)
        if len(pending) >= 1 << 18:
            yield bytes(pending)
            pending.clear()
    if pending:
        yield bytes(pending)


def digest_of(model: type[models.Model]) -> dict[str, Any]:
    digest = Digest()
    for line in rows(model):
        digest.add(line)
    return digest.as_dict()


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    buffer = bytearray()
    for chunk in chunks:
        buffer.extend(chunk)
        while (end := buffer.find(b"\n")) >= 0:
            yield bytes(buffer[: end + 1])
            del buffer[: end + 1]
    if buffer:
        raise BackupError(_("A table in the archive ends in the middle of a row."))


class _Row:
    """What InsertQuery reads in raw mode: one attribute per column."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def load(
    registry: Apps, chunks: Iterable[bytes], *, expected_label: str
) -> tuple[type[models.Model], int]:
    """Insert one model file's rows; returns the model and the number of rows."""
    lines = _lines(chunks)
    try:
        head = json.loads(next(lines))
        label, names = head["model"], list(head["columns"])
    except (StopIteration, ValueError, KeyError, TypeError):
        raise BackupError(_("A table in the archive has no valid header line.")) from None
    if label != expected_label:
        raise BackupError(
            _("The archive's table %(name)s is mislabelled.") % {"name": expected_label}
        )
    try:
        model = registry.get_model(label)
    except (LookupError, ValueError):
        raise BackupError(
            _("The archive holds table %(label)s, which this Refuge does not know.")
            % {"label": label}
        ) from None
    fields = {f.attname: f for f in model._meta.concrete_fields}
    if sorted(names) != sorted(fields):
        raise BackupError(
            _("The columns of %(label)s in the archive differ from this database's schema.")
            % {"label": label}
        )
    ordered = [fields[name] for name in names]
    batch: list[_Row] = []
    count = 0
    for line in lines:
        try:
            values = json.loads(line)
            row = _Row({f.attname: f.to_python(v) for f, v in zip(ordered, values, strict=True)})
        except (ValueError, TypeError) as exc:
            raise BackupError(
                _("A row of %(label)s in the archive is malformed: %(error)s")
                % {"label": label, "error": type(exc).__name__}
            ) from None
        batch.append(row)
        if len(batch) >= _BATCH_ROWS:
            count += _insert(model, ordered, batch)
            batch = []
    if batch:
        count += _insert(model, ordered, batch)
    return model, count


def _insert(
    model: type[models.Model], fields: list[models.Field[Any, Any]], batch: list[_Row]
) -> int:
    limit = connection.ops.bulk_batch_size(fields, batch) or len(batch)
    for start in range(0, len(batch), limit):
        query = InsertQuery(model)
        # Raw mode reads one attribute per column; a model instance is not needed.
        rows = cast("list[models.Model]", batch[start : start + limit])
        query.insert_values(fields, rows, raw=True)
        query.get_compiler(connection=connection).execute_sql(returning_fields=None)
    return len(batch)


def reset_sequences(loaded: list[type[models.Model]]) -> None:
    """PostgreSQL's serial counters must start after the highest loaded id (SQLite keeps up)."""
    statements = connection.ops.sequence_reset_sql(no_style(), loaded)
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


def existing_rows(registry: Apps = global_apps) -> list[str]:
    """Models whose table exists and holds rows, apart from what `migrate` writes itself."""
    present = set(connection.introspection.table_names())
    busy = []
    for model in dumped_models(registry):
        label = model._meta.label_lower
        if label in MIGRATE_WRITES or model._meta.db_table not in present:
            continue
        if model._base_manager.exists():
            busy.append(label)
    return busy


def clear_migrate_writes() -> None:
    """Remove the permissions and content types `migrate` wrote, so the archive's go in."""
    present = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        for label in MIGRATE_WRITES:
            table = global_apps.get_model(label)._meta.db_table
            if table in present:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")  # noqa: S608 - a model's table name
