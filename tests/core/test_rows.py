"""refuge.core.rows.insert: what Model.save(force_insert=True) writes, in one statement."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from refuge.core import rows
from refuge.core.models import Job
from refuge.security.models import AuditEntry, DataKey

pytestmark = pytest.mark.django_db


def _entry(seq: int) -> AuditEntry:
    return AuditEntry(
        seq=seq,
        occurred_at="2026-12-07T12:00:00+00:00",
        actor_label="system",
        action="refuge.core.rows.tested",
        object_id="x",
        detail='{"n":1}',
        prev_hash="0" * 64,
        entry_hash=f"{seq:064d}",
    )


def _stored(obj: object) -> dict[str, object]:
    model = type(obj)
    return {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields}  # type: ignore[attr-defined]


def test_the_row_is_the_one_save_would_write():
    by_save, by_insert = _entry(1), _entry(2)
    by_save.save(force_insert=True)
    rows.insert([by_insert])
    saved = _stored(AuditEntry.objects.get(pk=by_save.pk))
    inserted = _stored(AuditEntry.objects.get(pk=by_insert.pk))
    differing = {name for name in saved if saved[name] != inserted[name]}
    assert differing == {"id", "seq", "entry_hash"}


def test_defaults_and_auto_now_are_filled_as_save_fills_them():
    key = DataKey(purpose=DataKey.Purpose.RECORD, kek_version=1, wrapped=b"\x01\x02")
    rows.insert([key])
    stored = DataKey.objects.get(pk=key.pk)
    assert stored.created_at is not None
    assert stored.created_at == key.created_at
    assert bytes(stored.wrapped) == b"\x01\x02"
    assert not key._state.adding


def test_several_rows_take_one_statement():
    keys = [DataKey(purpose="record", kek_version=1, wrapped=b"k") for _ in range(3)]
    with CaptureQueriesContext(connection) as queries:
        rows.insert(keys)
    assert len(queries) == 1
    assert DataKey.objects.filter(pk__in=[k.pk for k in keys]).count() == 3


def test_several_rows_are_stored_as_save_would_store_them():
    # Several rows take another path than one (COPY on PostgreSQL): text, JSON, nulls, times,
    # an apostrophe, a backslash, a tab and a newline must arrive as save() writes them.
    payload = {"text": 'O\'Brien\\ said:\t"go"\nnow', "n": [1, None, 2.5], "ru": "Сокол"}
    moment = "2026-12-07T12:00:00+00:00"
    made = [
        Job(name=f"rows.test.{n}", payload=payload, run_after=moment, last_error="")
        for n in range(3)
    ]
    saved = Job(name="rows.test.save", payload=payload, run_after=moment, last_error="")
    saved.save(force_insert=True)
    rows.insert(made)
    expected = _stored(Job.objects.get(pk=saved.pk))
    for job in made:
        stored = _stored(Job.objects.get(pk=job.pk))
        differing = {name for name in expected if expected[name] != stored[name]}
        assert differing == {"id", "name", "created_at"}
        assert stored["payload"] == payload
        assert stored["idempotency_key"] is None


def test_models_numbered_by_the_database_are_refused():
    with pytest.raises(TypeError, match="numbers its rows"):
        rows.insert([ContentType(app_label="nowhere", model="nothing")])
    assert not ContentType.objects.filter(app_label="nowhere").exists()


def test_instances_of_two_models_are_refused():
    with pytest.raises(TypeError, match="one model"):
        rows.insert([_entry(1), DataKey(purpose="record", kek_version=1, wrapped=b"k")])
