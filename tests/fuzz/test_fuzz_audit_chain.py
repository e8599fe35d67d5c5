"""Any value written into any one column of any one audit entry, by someone who owns the
database: `audit.verify()` reports a broken chain at that entry and never raises."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from hypothesis import given, reject
from hypothesis import strategies as st

from refuge.security import audit, audit_rows
from refuge.security.models import AuditEntry
from tests.factories import UserFactory
from tests.fuzz.conftest import FUZZ
from tests.security.audit_tamper import COLUMNS, corrupt, record, set_triggers

CHAIN_LENGTH = 5
# PostgreSQL text holds neither NUL nor lone surrogates; SQLite's driver refuses surrogates too.
storable_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=80,
)
hex_text = st.text(alphabet="0123456789abcdef", max_size=70)
moments = st.datetimes(
    min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC)
)


def _values(column: str) -> st.SearchStrategy[Any]:
    on_sqlite = connection.vendor == "sqlite"
    anything: list[st.SearchStrategy[Any]] = [st.none()]
    if column == "seq":
        anything.append(st.integers(min_value=-(2**62), max_value=2**62))
        if on_sqlite:
            anything += [storable_text, st.floats(allow_nan=False), st.binary(max_size=12)]
        return st.one_of(anything)
    anything.append(storable_text)
    if on_sqlite:
        anything.append(st.binary(max_size=12))
    if column in {"id", "actor_id"}:
        anything.append(st.uuids().map(lambda value: value.hex if on_sqlite else value))
    elif column == "occurred_at":
        anything.append(moments.map(lambda value: str(value) if on_sqlite else value))
    elif column in {"prev_hash", "entry_hash"}:
        anything.append(hex_text)
    elif column == "detail":
        anything.append(st.dictionaries(st.text(max_size=5), st.integers()).map(str))
    return st.one_of(anything)


corruption = st.tuples(
    st.integers(min_value=1, max_value=CHAIN_LENGTH), st.sampled_from(COLUMNS)
).flatmap(lambda where: st.tuples(st.just(where[0]), st.just(where[1]), _values(where[1])))


@pytest.fixture
def chain(db: None) -> Iterator[list[AuditEntry]]:
    actor = UserFactory()
    entries = [record(n, actor if n % 2 else None) for n in range(1, CHAIN_LENGTH + 1)]
    set_triggers(create=False)
    yield entries
    set_triggers(create=True)


@FUZZ
@given(change=corruption)
def test_any_value_in_one_column_of_one_entry_breaks_the_chain_there(chain, change):
    seq, column, value = change
    original = chain[seq - 1]
    with transaction.atomic():
        before = list(audit_rows.read_entries())
        try:
            with transaction.atomic():
                corrupt(seq, column, value)
        except (DatabaseError, OverflowError):
            reject()  # the database refused the value (a number taken by another entry)
        after = list(audit_rows.read_entries())
        if sorted(map(repr, after)) == sorted(map(repr, before)):
            reject()  # the same value, or another spelling of it: nothing changed
        result = audit.verify()
        changed = next(row for row in after if row not in before)
        transaction.set_rollback(True)
    assert not result.ok
    assert result.seq == seq or result.entry_id in {str(original.id), changed.shown_id}, result
