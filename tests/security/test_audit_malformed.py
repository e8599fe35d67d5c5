"""`refuge audit verify` reads the table as stored: an edited primary key, a value of the wrong
type, a NULL, a timestamp that does not parse, a truncated hash, bad JSON: each is reported as
a broken chain at the entry's position, never raised as a traceback."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.db import connection

from refuge.security import audit
from refuge.security.models import AuditEntry
from tests.factories import UserFactory
from tests.security.audit_tamper import corrupt, record, set_triggers

CHAIN_LENGTH = 6
TARGET = 3


@pytest.fixture
def chain(db: None) -> Iterator[list[AuditEntry]]:
    actor = UserFactory()
    entries = [record(n, actor) for n in range(1, CHAIN_LENGTH + 1)]
    set_triggers(create=False)
    yield entries
    set_triggers(create=True)


def _broken_at(seq: int, entry_id: str) -> audit.VerifyResult:
    result = audit.verify()
    assert not result.ok
    assert (result.kind, result.seq, result.entry_id) == (audit.EDITED, seq, entry_id), result
    assert f"#{seq}" in result.problem
    assert result.checked == seq - 1
    return result


def _only_on_sqlite() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL refuses this value in the column's type")


@pytest.mark.parametrize("value", ["not-a-uuid", "", "5", "'; DROP TABLE x; --"])
def test_an_id_that_is_not_a_uuid_is_an_edit(chain, value):
    corrupt(TARGET, "id", value)
    result = _broken_at(TARGET, value)
    assert "id" in result.problem


def test_an_id_changed_to_another_uuid_is_an_edit(chain):
    other = uuid.uuid4()
    corrupt(TARGET, "id", other.hex if connection.vendor == "sqlite" else other)
    _broken_at(TARGET, str(other))


def test_a_null_id_is_an_edit(chain):
    corrupt(TARGET, "id", None)
    result = _broken_at(TARGET, "")
    assert "NULL" in result.problem


@pytest.mark.parametrize("seq", [1, TARGET, CHAIN_LENGTH])
def test_a_null_number_is_an_edit_at_the_entrys_place(chain, seq):
    corrupt(seq, "seq", None)
    _broken_at(seq, str(chain[seq - 1].id))


@pytest.mark.parametrize("value", ["three", 3.5, b"\x03"])
def test_a_number_of_another_type_is_an_edit(chain, value):
    _only_on_sqlite()
    corrupt(TARGET, "seq", value)
    _broken_at(TARGET, str(chain[TARGET - 1].id))


@pytest.mark.parametrize("value", [None, "yesterday", "2026-13-45 99:99:99", "12345", ""])
def test_a_time_that_does_not_parse_is_an_edit(chain, value):
    corrupt(TARGET, "occurred_at", value)
    result = _broken_at(TARGET, str(chain[TARGET - 1].id))
    assert "time" in result.problem


def test_a_time_moved_by_a_microsecond_is_an_edit(chain):
    moved = chain[TARGET - 1].occurred_at + dt.timedelta(microseconds=1)
    corrupt(TARGET, "occurred_at", moved)
    _broken_at(TARGET, str(chain[TARGET - 1].id))


@pytest.mark.parametrize("value", ["nobody", "12"])
def test_an_actor_id_that_is_not_a_uuid_is_an_edit(chain, value):
    corrupt(TARGET, "actor_id", value)
    _broken_at(TARGET, str(chain[TARGET - 1].id))


def test_a_removed_actor_is_an_edit(chain):
    corrupt(TARGET, "actor_id", None)
    _broken_at(TARGET, str(chain[TARGET - 1].id))


@pytest.mark.parametrize("value", ['{"n":', "[]", '{"n": 3}', "null", None])
def test_a_detail_that_is_not_canonical_json_is_an_edit(chain, value):
    corrupt(TARGET, "detail", value)
    result = _broken_at(TARGET, str(chain[TARGET - 1].id))
    assert "detail" in result.problem


@pytest.mark.parametrize("column", ["entry_hash", "prev_hash"])
@pytest.mark.parametrize("cut", [63, 1, 0])
def test_a_truncated_hash_is_an_edit(chain, column, cut):
    corrupt(TARGET, column, getattr(chain[TARGET - 1], column)[:cut])
    result = _broken_at(TARGET, str(chain[TARGET - 1].id))
    assert "hash" in result.problem


@pytest.mark.parametrize("column", ["actor_label", "action", "object_type", "object_id"])
def test_a_null_text_is_an_edit(chain, column):
    corrupt(TARGET, column, None)
    _broken_at(TARGET, str(chain[TARGET - 1].id))


def test_binary_data_in_a_text_column_is_an_edit(chain):
    _only_on_sqlite()
    corrupt(TARGET, "action", b"refuge.security.test.recorded")
    _broken_at(TARGET, str(chain[TARGET - 1].id))


def test_an_unplaceable_row_is_reported_without_a_position(chain):
    corrupt(TARGET, "prev_hash", "f" * 64)
    corrupt(TARGET, "entry_hash", "e" * 64)
    corrupt(TARGET + 1, "prev_hash", "d" * 64)
    corrupt(TARGET, "seq", None)
    result = audit.verify()
    assert not result.ok
    # The gap the row left is found first; the row itself cannot be placed by its links.
    assert (result.kind, result.seq) == (audit.DELETED, TARGET)


def test_entries_hashed_without_their_id_still_verify(chain):
    """Entries written before the id was hashed keep verifying after the upgrade."""
    for entry in AuditEntry.objects.order_by("seq"):
        previous = AuditEntry.objects.filter(seq=entry.seq - 1).first()
        prev_hash = previous.entry_hash if previous else audit.GENESIS_HASH
        legacy = audit.entry_hash_of(entry, prev_hash=prev_hash, with_id=False)
        AuditEntry.objects.filter(pk=entry.pk).update(prev_hash=prev_hash, entry_hash=legacy)
    assert audit.verify() == audit.VerifyResult(ok=True, checked=CHAIN_LENGTH)
    AuditEntry.objects.filter(seq=TARGET).update(detail='{"n":999}')
    _broken_at(TARGET, str(chain[TARGET - 1].id))


def test_the_command_reports_an_edited_id_without_a_traceback(chain, capsys):
    corrupt(TARGET, "id", "not-a-uuid")
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit", "verify")
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert f"audit chain BROKEN at entry #{TARGET} (id not-a-uuid)" in err
    assert "Traceback" not in err


def test_the_command_reports_an_unplaceable_row(chain, capsys):
    corrupt(CHAIN_LENGTH, "prev_hash", "f" * 64)
    corrupt(CHAIN_LENGTH, "entry_hash", "e" * 64)
    corrupt(CHAIN_LENGTH, "seq", None)
    with pytest.raises(SystemExit):
        call_command("audit", "verify")
    err = capsys.readouterr().err
    assert "audit chain BROKEN at an entry (id " in err
    assert "cannot be placed" in err
