"""The audit chain: appended with the change it records, refused UPDATE/DELETE by the database,
and `verify()` names the first entry an attacker with database admin rights tampered with."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from refuge.accounts.models import Role, Team
from refuge.people import services as people
from refuge.people.models import ProtectedPerson
from refuge.security import audit
from refuge.security.models import AuditEntry, DataKey
from tests.factories import UserFactory

append_only = importlib.import_module("refuge.security.migrations.0002_audit_append_only")
ACTION = "refuge.security.test.recorded"
CHAIN_LENGTH = 8
# Moves rows out of the way while renumbering, past any seq the tests create.
OFFSET = 1_000_000


def _set_triggers(*, create: bool) -> None:
    with connection.cursor() as cursor:
        for sql in append_only.statements(connection.vendor, create=create):
            cursor.execute(sql)


def _record(n: int) -> AuditEntry:
    return audit.record(
        ACTION, actor=None, object_type="tests.thing", object_id=str(n), detail={"n": n}
    )


@pytest.fixture
def chain(db: None) -> Iterator[list[AuditEntry]]:
    """A chain of eight entries, with the append-only triggers dropped as an attacker would."""
    entries = [_record(n) for n in range(1, CHAIN_LENGTH + 1)]
    _set_triggers(create=False)
    yield entries
    _set_triggers(create=True)


def _shift_from(first_seq: int, by: int) -> None:
    AuditEntry.objects.filter(seq__gte=first_seq).update(seq=F("seq") + OFFSET)
    AuditEntry.objects.filter(seq__gte=OFFSET).update(seq=F("seq") - OFFSET + by)


def _verify_names(kind: str, seq: int, entry_id: str = "") -> audit.VerifyResult:
    result = audit.verify()
    assert not result.ok
    assert (result.kind, result.seq, result.entry_id) == (kind, seq, entry_id), result.problem
    assert f"#{seq}" in result.problem
    assert kind in result.problem
    return result


# --- the append belongs to the change ---------------------------------------------------------


@pytest.mark.django_db
def test_entry_rolls_back_with_the_change():
    def change_then_fail() -> None:
        with transaction.atomic():
            team = Team.objects.create(name="Rolled back team")
            audit.record("refuge.accounts.team.created", actor=None, obj=team)
            assert AuditEntry.objects.count() == 1
            raise RuntimeError

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert not Team.objects.exists()
    assert not AuditEntry.objects.exists()


def _refuse_audit_inserts(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
    if sql.startswith('INSERT INTO "security_auditentry"'):
        raise DatabaseError("disk full")
    return execute(sql, params, many, context)


@pytest.mark.django_db
def test_change_rolls_back_when_the_append_fails():
    coordinator = UserFactory(role=Role.COORDINATOR)
    with pytest.raises(DatabaseError), connection.execute_wrapper(_refuse_audit_inserts):
        people.person_create(
            actor=coordinator,
            pseudonym="OWL",
            identity=people.IdentityInput(legal_name="Nobody Testov", provided={"legal_name"}),
        )
    assert not ProtectedPerson.objects.exists()
    assert not DataKey.objects.exists()


@pytest.mark.django_db
def test_a_change_cannot_commit_without_its_entry_even_if_the_failure_is_caught():
    with transaction.atomic(), connection.execute_wrapper(_refuse_audit_inserts):
        Team.objects.create(name="Unaudited team")
        with contextlib.suppress(DatabaseError):
            audit.record("refuge.accounts.team.created", actor=None)
    assert not Team.objects.exists()


@pytest.mark.django_db
def test_an_entry_inside_the_changes_transaction_adds_no_savepoint():
    with transaction.atomic():
        team = Team.objects.create(name="Audited team")
        with CaptureQueriesContext(connection) as queries:
            audit.record("refuge.accounts.team.created", actor=None, obj=team)
    assert not [q for q in queries if "SAVEPOINT" in q["sql"]]
    assert AuditEntry.objects.get().object_id == str(team.pk)


@pytest.mark.django_db
def test_committed_change_has_its_entry():
    coordinator = UserFactory(role=Role.COORDINATOR)
    person = people.person_create(
        actor=coordinator,
        pseudonym="OWL",
        identity=people.IdentityInput(legal_name="Nobody Testov", provided={"legal_name"}),
    )
    entry = AuditEntry.objects.get(action="refuge.people.person.created")
    assert entry.object_id == str(person.pk)
    assert "Nobody" not in entry.detail
    assert audit.verify().ok


# --- the database refuses changes -------------------------------------------------------------


@pytest.mark.django_db
def test_database_refuses_update_and_delete():
    entry = _record(1)
    attempts = [
        lambda: AuditEntry.objects.filter(pk=entry.pk).update(detail="{}"),
        lambda: AuditEntry.objects.filter(pk=entry.pk).delete(),
        lambda: connection.cursor().execute("UPDATE security_auditentry SET action = 'x'"),
        lambda: connection.cursor().execute("DELETE FROM security_auditentry"),
    ]
    if connection.vendor == "postgresql":
        attempts.append(lambda: connection.cursor().execute("TRUNCATE security_auditentry"))
    for attempt in attempts:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            attempt()
    entry.refresh_from_db()
    assert entry.detail == '{"n":1}'
    assert AuditEntry.objects.count() == 1


def test_recreated_triggers_refuse_again(chain):
    _set_triggers(create=True)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(seq=1).update(detail="{}")
    _set_triggers(create=False)  # the fixture re-creates them once more


# --- verify() names the tampered entry ----------------------------------------------------------


def test_intact_chain_verifies(chain):
    result = audit.verify()
    assert result.ok
    assert result.checked == CHAIN_LENGTH


def test_empty_chain_verifies(db):
    assert audit.verify() == audit.VerifyResult(ok=True, checked=0)


@pytest.mark.parametrize("seq", [1, 4, CHAIN_LENGTH])
def test_edited_detail_is_named(chain, seq):
    AuditEntry.objects.filter(seq=seq).update(detail='{"n":999}')
    result = _verify_names(audit.EDITED, seq, str(chain[seq - 1].id))
    assert result.checked == seq - 1


def test_edited_actor_is_named(chain):
    AuditEntry.objects.filter(seq=3).update(actor_label="someone-else")
    _verify_names(audit.EDITED, 3, str(chain[2].id))


def test_edit_with_recomputed_hash_is_named(chain):
    target = AuditEntry.objects.get(seq=5)
    target.detail = '{"n":999}'
    AuditEntry.objects.filter(pk=target.pk).update(
        detail=target.detail, entry_hash=audit.entry_hash_of(target)
    )
    _verify_names(audit.EDITED, 5, str(target.id))


@pytest.mark.parametrize("seq", [1, 4])
def test_deleted_entry_is_named(chain, seq):
    AuditEntry.objects.filter(seq=seq).delete()
    _verify_names(audit.DELETED, seq)


def test_deleted_entry_with_renumbered_successors_is_named(chain):
    AuditEntry.objects.filter(seq=4).delete()
    _shift_from(5, -1)
    _verify_names(audit.DELETED, 4)


@pytest.mark.parametrize("seq", [1, 4, CHAIN_LENGTH])
def test_inserted_entry_is_named(chain, seq):
    before = AuditEntry.objects.filter(seq=seq - 1).first()
    _shift_from(seq, +1)
    forged = AuditEntry(
        seq=seq,
        occurred_at=chain[seq - 1].occurred_at,
        actor_label="system",
        action="refuge.people.identity.viewed",
        object_type="people.protectedperson",
        object_id="forged",
        detail="{}",
        prev_hash=before.entry_hash if before else audit.GENESIS_HASH,
    )
    forged.entry_hash = audit.entry_hash_of(forged)  # correct for its place in the chain
    forged.save(force_insert=True)
    _verify_names(audit.INSERTED, seq, str(forged.id))


@pytest.mark.parametrize(("first", "second"), [(3, 4), (1, 2), (2, 7)])
def test_reordered_entries_are_named(chain, first, second):
    a, b = chain[first - 1], chain[second - 1]
    AuditEntry.objects.filter(pk=a.pk).update(seq=-1)
    AuditEntry.objects.filter(pk=b.pk).update(seq=first)
    AuditEntry.objects.filter(pk=a.pk).update(seq=second)
    # The entry now at `first` is the one that was recorded as `second`.
    _verify_names(audit.REORDERED, first, str(b.id))


def test_entry_slipped_in_before_the_first_is_named(chain):
    forged = AuditEntry(
        seq=0,
        occurred_at=chain[0].occurred_at,
        actor_label="system",
        action=ACTION,
        detail="{}",
        prev_hash=audit.GENESIS_HASH,
    )
    forged.entry_hash = audit.entry_hash_of(forged)
    forged.save(force_insert=True)
    _verify_names(audit.INSERTED, 0, str(forged.id))


# --- refuge audit verify -----------------------------------------------------------------------


def test_verify_command_reports_an_intact_chain(chain, capsys):
    call_command("audit", "verify")
    assert capsys.readouterr().out.strip() == f"audit chain OK: {CHAIN_LENGTH} entries"


def test_verify_command_exits_1_and_names_the_entry(chain, capsys):
    AuditEntry.objects.filter(seq=6).update(detail="{}")
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit", "verify")
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "entry #6" in err
    assert str(chain[5].id) in err
    assert "edited" in err
