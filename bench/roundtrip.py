"""Encrypted-field round trip: save and reload a ProtectedPerson with four encrypted fields, against
the same ORM round trip of a plaintext twin.

The twin, PlainPerson, is a throwaway model of the benchmark only: it has every column and index of
the person (the same plain columns, the two references to staff and team as plain indexed columns,
and each encrypted field as an ordinary column of its type) except the two data keys and their
indexes, which are what encryption adds. Before timing, the twin's table is given a copy of every
person already stored (their plain columns, with plaintext stand-ins), so both inserts go into
tables and indexes of the same size: at full scale a million rows deep, not one table full and the
other empty. It lives in its own app registry
(app label "bench"), so it never joins Refuge's models or migrations, and its table is created
with the schema editor in the benchmark database and dropped afterwards.

One round trip, for either model: build the instance, set legal name, phones, address and notes,
save it in its own transaction (as a service would), load it again by primary key and read the
four values back. The encrypted model's save also creates its two data keys (record and location)
and its reload unwraps them, because that is what every new person costs.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache, partial
from typing import Any

from django.apps.registry import Apps
from django.db import connection, models, transaction

from bench.scale import Scale
from bench.stats import Metric, context, metric
from refuge.people.models import ProtectedPerson
from refuge.security.models import DataKey

Progress = Callable[[str], None]
TABLE = "bench_plainperson"
FIELDS = ("legal_name", "phones", "address", "notes")
CHUNKS = 5  # the two models alternate in chunks so drift (caches, WAL growth) hits both alike


@cache
def plain_model() -> type[models.Model]:
    """Built on first use (the app registry must be ready) and once only: defining a model twice
    in one registry warns, and warnings are errors in the test suite."""

    class PlainPerson(models.Model):
        id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
        created_at = models.DateTimeField(auto_now_add=True)
        updated_at = models.DateTimeField(auto_now=True)
        pseudonym = models.CharField(max_length=40, unique=True)
        risk_level = models.CharField(max_length=10, default="high")
        languages = models.CharField(max_length=50, default="ru")
        is_minor = models.BooleanField(default=False)
        # ProtectedPerson's created_by and intake_team, as the columns they are (the twin has
        # no foreign keys: its registry holds no User or Team).
        created_by_id = models.UUIDField(null=True, blank=True, db_index=True)
        intake_team_id = models.UUIDField(null=True, blank=True, db_index=True)
        legal_name = models.TextField(null=True, blank=True)
        aliases = models.TextField(null=True, blank=True)
        date_of_birth = models.DateField(null=True, blank=True)
        phones = models.TextField(null=True, blank=True)
        messengers = models.TextField(null=True, blank=True)
        address = models.TextField(null=True, blank=True)
        notes = models.TextField(null=True, blank=True)

        class Meta:
            app_label = "bench"
            db_table = TABLE
            apps = Apps()

        def __str__(self) -> str:
            return self.pseudonym

    return PlainPerson


@contextmanager
def plaintext_table() -> Iterator[None]:
    """Create the twin's table unless it exists; drop it afterwards if this call created it."""
    model = plain_model()
    if TABLE in connection.introspection.table_names():
        yield
        return
    with connection.schema_editor() as editor:
        editor.create_model(model)
    try:
        yield
    finally:
        with connection.schema_editor() as editor:
            editor.delete_model(model)


def _copy_people_into_twin() -> int:
    """Give the twin's table a row for every person stored (see the module's docstring); the
    number of rows copied."""
    people = ProtectedPerson._meta.db_table
    plain = ("id", "created_at", "updated_at", "pseudonym", "risk_level", "languages", "is_minor")
    references = ("created_by_id", "intake_team_id")
    quote = connection.ops.quote_name
    columns = ", ".join(quote(name) for name in plain + references)
    sql = (
        f"INSERT INTO {quote(TABLE)} ({columns}, {quote('legal_name')}, {quote('phones')}, "
        f"{quote('address')}, {quote('notes')}) SELECT {columns}, %s || {quote('pseudonym')}, "
        f"%s, %s, %s FROM {quote(people)}"
    )
    stand_ins = _values(0)
    params = ["Twin Benchovich "] + [stand_ins[name] for name in ("phones", "address", "notes")]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _empty_twin() -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {connection.ops.quote_name(TABLE)}")


def _values(index: int) -> dict[str, str]:
    return {
        "legal_name": f"Roundtrip Benchovich Testaev {index}",
        "phones": f"+7 900 555-{index % 100:02d}-{index % 97:02d}\n+7 901 555-00-{index % 100:02d}",
        "address": f"Primerny, ul. Testovaya {index % 200 + 1}, kv. {index % 300 + 1}",
        "notes": "Called back, safe flat checked, lawyer informed. " * 4,
    }


def _encrypted_roundtrip(pseudonym: str, values: dict[str, str]) -> None:
    person = ProtectedPerson(pseudonym=pseudonym)
    for name, value in values.items():
        setattr(person, name, value)
    with transaction.atomic():
        person.save(force_insert=True)
    # The field layer is what is measured, so the reload goes straight to the ORM; pages go
    # through refuge.people.selectors, whose access check is measured by the list benchmarks.
    # Reading the first value reads the record's two key rows (one query) and unwraps its key.
    loaded = ProtectedPerson.objects.get(pk=person.pk)
    if {name: getattr(loaded, name) for name in FIELDS} != values:
        raise AssertionError(f"{pseudonym} did not read back what was saved")


def _plain_roundtrip(model: Any, pseudonym: str, values: dict[str, str]) -> None:
    record = model(pseudonym=pseudonym, **values)
    with transaction.atomic():
        record.save(force_insert=True)
    loaded = model.objects.get(pk=record.pk)
    if {name: getattr(loaded, name) for name in FIELDS} != values:
        raise AssertionError(f"{pseudonym} did not read back what was saved")


def _timed(run: Callable[[str, dict[str, str]], None], prefix: str, indexes: range) -> float:
    started = time.perf_counter()
    for index in indexes:
        run(f"{prefix}-{index}", _values(index))
    return time.perf_counter() - started


def _checkpoint() -> None:
    """SQLite: copy the log into the database between timings, as `refuge worker` does once a
    second (core.wal). Otherwise the log grows until a commit checkpoints it (10,000 pages),
    and that one commit, of whichever model happens to be timed, pays for copying 40 MB that
    both wrote. (Not inside a transaction, where SQLite refuses it: the smoke test's.)"""
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")


def _cleanup(prefix: str) -> None:
    people = ProtectedPerson.objects.filter(pseudonym__startswith=prefix + "-")
    key_ids = [k for pair in people.values_list("data_key_id", "location_key_id") for k in pair]
    with transaction.atomic():
        people.delete()
        DataKey.objects.filter(pk__in=key_ids).delete()


def measure(scale: Scale, progress: Progress = print) -> list[Metric]:
    model = plain_model()
    count = scale.roundtrips
    token = secrets.token_hex(3).upper()
    encrypted_prefix, plain_prefix = f"RT-E{token}", f"RT-P{token}"
    warmup = range(count, count + max(2, count // 10))
    plain = partial(_plain_roundtrip, model)
    encrypted_seconds = plain_seconds = 0.0
    with plaintext_table():
        try:
            copied = _copy_people_into_twin()
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("CHECKPOINT")  # the copy's writes, out of the timings
            progress(f"  plaintext twin: {copied:,} people copied in, as deep as theirs")
            _timed(_encrypted_roundtrip, encrypted_prefix, warmup)
            _timed(plain, plain_prefix, warmup)
            progress(f"  encrypted and plaintext round trips: {count} records each")
            step = -(-count // CHUNKS)
            for start in range(0, count, step):
                chunk = range(start, min(count, start + step))
                _checkpoint()
                encrypted_seconds += _timed(_encrypted_roundtrip, encrypted_prefix, chunk)
                _checkpoint()
                plain_seconds += _timed(plain, plain_prefix, chunk)
        finally:
            _cleanup(encrypted_prefix)
            _empty_twin()
    encrypted_rate = count / encrypted_seconds
    plain_rate = count / plain_seconds
    ctx = context(
        scale,
        repetitions=count,
        fields=list(FIELDS),
        plaintext_model="bench.PlainPerson",
        rows_before=copied,
    )
    return [
        metric("encrypted_roundtrip_records_per_s", encrypted_rate, "records/s", ctx),
        metric("plaintext_roundtrip_records_per_s", plain_rate, "records/s", ctx),
        metric("encrypted_field_roundtrip_ratio", encrypted_rate / plain_rate, "x", ctx),
    ]
