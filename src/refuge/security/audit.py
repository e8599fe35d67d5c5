"""The tamper-evident audit trail.

Each entry commits to its predecessor and to its own id:
    entry_hash = SHA-256(0x01 || prev_hash || canonical JSON of [id, seq, time, actor, ...])
Entries written before the id was hashed carry the first format (0x00, without the id); verify
accepts either for any entry, which gives an attacker nothing: an entry's stored hash matches
only the format it was written in, so a changed id breaks it, and recomputing the hash breaks
the next entry's link. It is appended inside the caller's transaction (if the append fails, the
change rolls back), and the database refuses UPDATE and DELETE on the table. `refuge audit
verify` recomputes the chain and names the first entry that was edited, deleted, inserted or
reordered, reading the stored values defensively (refuge.security.audit_rows): a value that is
not what the trail writes is an edit, never a crash.

Details must never carry plaintext of encrypted fields: callers pass field *names*, codes and ids.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import connection, transaction

from refuge.core import clock, rows
from refuge.security import audit_rows
from refuge.security.audit_rows import StoredEntry
from refuge.security.models import AuditEntry

GENESIS_HASH = "0" * 64
# Any constant works; it only has to be the same in every process.
_PG_ADVISORY_LOCK_ID = 0x52_45_46_55_47_45  # "REFUGE"
# The first byte hashed: which fields an entry's hash covers.
_FORMAT_WITHOUT_ID = b"\x00"
_FORMAT_WITH_ID = b"\x01"


class Actor(Protocol):
    @property
    def pk(self) -> Any: ...

    def get_username(self) -> str: ...


class HashedFields(Protocol):
    """What an entry's hash covers: an AuditEntry, or a row as stored (audit_rows)."""

    @property
    def id(self) -> uuid.UUID | None: ...
    @property
    def seq(self) -> int | None: ...
    @property
    def occurred_at(self) -> dt.datetime | None: ...
    @property
    def actor_id(self) -> uuid.UUID | None: ...
    @property
    def actor_label(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def object_type(self) -> str: ...
    @property
    def object_id(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def entry_hash(self) -> str: ...


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _timestamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def compute_hash(
    *,
    prev_hash: str,
    entry_id: uuid.UUID | None,
    seq: int,
    occurred_at: dt.datetime,
    actor_id: uuid.UUID | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    detail: str,
    with_id: bool = True,
) -> str:
    """The hash of one entry; `with_id=False` gives the format of entries written before ids
    were hashed (verification only: `record` always hashes the id)."""
    fields: list[Any] = [
        seq,
        _timestamp(occurred_at),
        str(actor_id) if actor_id else None,
        actor_label,
        action,
        object_type,
        object_id,
        detail,
    ]
    if with_id:
        if entry_id is None:
            raise ValueError("an entry's hash covers its id")
        prefix, body = _FORMAT_WITH_ID, canonical_json([str(entry_id), *fields])
    else:
        prefix, body = _FORMAT_WITHOUT_ID, canonical_json(fields)
    return hashlib.sha256(prefix + bytes.fromhex(prev_hash) + body.encode("utf-8")).hexdigest()


def entry_hash_of(
    entry: HashedFields,
    *,
    prev_hash: str | None = None,
    seq: int | None = None,
    with_id: bool = True,
) -> str:
    number = entry.seq if seq is None else seq
    if number is None or entry.occurred_at is None:
        raise ValueError("an entry without a number or a time has no hash")
    return compute_hash(
        prev_hash=entry.prev_hash if prev_hash is None else prev_hash,
        entry_id=entry.id,
        seq=number,
        occurred_at=entry.occurred_at,
        actor_id=entry.actor_id,
        actor_label=entry.actor_label,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        detail=entry.detail,
        with_id=with_id,
    )


def hash_matches(entry: HashedFields, *, seq: int | None = None) -> bool:
    """Does the stored hash match the entry's fields (under `seq`, if given), in either format?
    Only for well-formed entries: audit_rows has checked the values a hash needs."""
    if entry.id is None:
        return entry_hash_of(entry, seq=seq, with_id=False) == entry.entry_hash
    return entry.entry_hash in {
        entry_hash_of(entry, seq=seq),
        entry_hash_of(entry, seq=seq, with_id=False),
    }


def _lock_head() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_ADVISORY_LOCK_ID])
    # SQLite: transactions begin IMMEDIATE (settings), so the writer already holds the lock.


def _head() -> tuple[int, str] | None:
    """(seq, entry_hash) of the chain's last entry. Plain SQL: this runs in every audited write,
    and the ORM's query building costs more than the indexed read (refuge.core.rows)."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote('seq')}, {quote('entry_hash')} FROM {quote(AuditEntry._meta.db_table)}"  # noqa: S608
            f" ORDER BY {quote('seq')} DESC LIMIT 1"
        )
        row = cursor.fetchone()
    return (int(row[0]), str(row[1])) if row is not None else None


@dataclass(frozen=True)
class Entry:
    """One entry for `record_many`: the arguments `record` takes."""

    action: str
    actor: Actor | None = None
    obj: Any = None
    object_type: str = ""
    object_id: str = ""
    detail: Mapping[str, Any] | None = None


def record(
    action: str,
    *,
    actor: Actor | None,
    obj: Any = None,
    object_type: str = "",
    object_id: str = "",
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry. Call inside the transaction of the change it records."""
    return record_many([Entry(action, actor, obj, object_type, object_id, detail)])[0]


def record_many(entries: list[Entry]) -> list[AuditEntry]:
    """Append entries in order, with one read of the chain's head and one INSERT (a surge of a
    thousand missed check-ins writes thousands). Call inside the transaction of the change they
    record. Every entry is checked before anything is written."""
    if not entries:
        return []
    unsaved = [_entry(spec) for spec in entries]
    # No savepoint: an entry that cannot be appended must roll back the caller's change with it,
    # and inside the caller's transaction a savepoint would only add two statements to every
    # audited write.
    with transaction.atomic(savepoint=False):
        _lock_head()
        head = _head()
        seq = head[0] if head else 0
        prev_hash = head[1] if head else GENESIS_HASH
        occurred_at = clock.now().astimezone(dt.UTC)  # under the lock: times follow the chain
        for entry in unsaved:
            seq += 1
            entry.seq, entry.prev_hash, entry.occurred_at = seq, prev_hash, occurred_at
            entry.entry_hash = prev_hash = entry_hash_of(entry)
        rows.insert(unsaved)
    return unsaved


def _entry(spec: Entry) -> AuditEntry:
    action, obj = spec.action, spec.obj
    if not action.startswith("refuge.") or action.count(".") < 3:  # noqa: PLR2004
        raise ValueError(f"audit action codes look like refuge.<app>.<entity>.<event>: {action!r}")
    object_type, object_id = spec.object_type, spec.object_id
    if obj is not None:
        object_type = object_type or f"{obj._meta.app_label}.{obj._meta.model_name}"
        object_id = object_id or str(obj.pk)
    actor = spec.actor
    return AuditEntry(
        id=uuid.uuid4(),
        actor_id=actor.pk if actor is not None and actor.pk else None,
        actor_label=actor.get_username() if actor is not None else "system",
        action=action,
        object_type=object_type,
        object_id=object_id,
        detail=canonical_json(dict(spec.detail or {})),
    )


@dataclass(frozen=True)
class VerifyResult:
    """What `verify()` found. On failure, `seq` and `entry_id` name the first bad entry; for a
    deleted entry `seq` is the missing number and `entry_id` is empty (the row is gone); for an
    entry whose number is unreadable and whose place cannot be worked out, `seq` is None."""

    ok: bool
    checked: int
    problem: str = ""
    kind: str = ""
    seq: int | None = None
    entry_id: str = ""


@dataclass(frozen=True)
class _Finding:
    kind: str
    seq: int | None
    entry_id: str
    message: str


EDITED = "edited"
DELETED = "deleted"
INSERTED = "inserted"
REORDERED = "reordered"


class _Walk:
    """The rows in stored order with the unnumbered ones set aside: a row whose `seq` is not a
    whole number has no place in the order, so it is placed by its links afterwards."""

    def __init__(self) -> None:
        self.unnumbered: StoredEntry | None = None
        self.read_all = False

    def numbered(self) -> Iterator[StoredEntry]:
        for entry in audit_rows.read_entries():
            if entry.seq is None:
                self.unnumbered = self.unnumbered or entry
                continue
            yield entry
        self.read_all = True


def _with_next(
    entries: Iterator[StoredEntry],
) -> Generator[tuple[StoredEntry, StoredEntry | None]]:
    current = next(entries, None)
    while current is not None:
        following = next(entries, None)
        yield current, following
        current = following


def verify() -> VerifyResult:
    """Walk the chain in seq order and report the first entry that does not fit.

    A chain alone cannot show a truncated tail or a wholesale rewrite from some entry onwards
    (every later hash recomputed); signed checkpoints (security design b.7) will cover those."""
    with audit_rows.tolerant_text():
        finding, checked = _walk()
    if finding is None:
        return VerifyResult(ok=True, checked=checked)
    return VerifyResult(
        ok=False,
        checked=checked,
        problem=finding.message,
        kind=finding.kind,
        seq=finding.seq,
        entry_id=finding.entry_id,
    )


def _walk() -> tuple[_Finding | None, int]:
    """The first problem (None if there is none) and how many entries verified before it."""
    walk = _Walk()
    prev: StoredEntry | None = None
    checked = 0
    finding: _Finding | None = None
    entries = _with_next(walk.numbered())
    for entry, following in entries:
        finding = _diagnose(entry, prev, following)
        if finding is not None:
            break
        prev = entry
        checked += 1
    entries.close()  # ends the server-side cursor at once on an early stop
    unnumbered = walk.unnumbered if walk.read_all else audit_rows.first_unnumbered()
    if unnumbered is not None:
        position = _position_of(unnumbered)
        if _comes_first(position, finding):
            finding = _unreadable_number(unnumbered, position)
            if position is not None:
                checked = min(checked, max(position - 1, 0))
    return finding, checked


def _comes_first(position: int | None, finding: _Finding | None) -> bool:
    """Is a row with an unreadable number (at `position`, if known) the first problem?"""
    if finding is None or finding.seq is None:
        return True
    return position is not None and position <= finding.seq


def _diagnose(
    entry: StoredEntry, prev: StoredEntry | None, following: StoredEntry | None
) -> _Finding | None:
    assert entry.seq is not None  # noqa: S101 - _Walk.numbered yields numbered rows only
    expected_seq = prev.seq + 1 if prev is not None and prev.seq is not None else 1
    if entry.seq != expected_seq:
        return _out_of_sequence(entry, entry.seq, expected_seq)
    if entry.malformed:
        return _edited(entry, entry.malformed)
    return _diagnose_links(entry, prev, following, expected_seq)


def _diagnose_links(
    entry: StoredEntry, prev: StoredEntry | None, following: StoredEntry | None, expected_seq: int
) -> _Finding | None:
    expected_prev_hash = prev.entry_hash if prev else GENESIS_HASH
    content_ok = hash_matches(entry)
    linked = entry.prev_hash == expected_prev_hash
    if content_ok and linked:
        return None
    if prev is not None and not linked and entry.prev_hash == prev.prev_hash:
        # This entry was chained to the one before `prev`: `prev` was slipped in between and
        # the entries after it renumbered.
        return _inserted(prev)
    # The next entry links to our predecessor, skipping this one: this one is not original.
    skipped = following is not None and following.prev_hash == expected_prev_hash
    if not content_ok:
        return _content_mismatch(entry, expected_seq, skipped=skipped)
    if skipped:
        return _inserted(entry)
    if prev is not None:
        # This entry is intact but points at another version of `prev`: `prev` was rewritten
        # together with its own hash.
        culprit, why = prev, f"its hash was recomputed; #{entry.seq} still points at the original"
    else:
        culprit, why = entry, "it does not start from the chain's first hash"
    return _edited(culprit, why)


def _out_of_sequence(entry: StoredEntry, seq: int, expected_seq: int) -> _Finding:
    if seq < expected_seq:
        # Only the first row can get here: nothing may come before #1.
        return _Finding(INSERTED, seq, entry.shown_id, f"entry #{seq} was inserted before #1")
    last = seq - 1
    gap = f"#{expected_seq}" if last == expected_seq else f"#{expected_seq}-#{last}"
    return _Finding(
        DELETED, expected_seq, "", f"entry {gap} was deleted (the chain resumes at #{seq})"
    )


def _content_mismatch(entry: StoredEntry, expected_seq: int, *, skipped: bool) -> _Finding:
    recorded = _recorded_seq(entry)
    if recorded is not None and _has_predecessor(entry):
        return _Finding(
            REORDERED,
            entry.seq,
            entry.shown_id,
            f"entry #{entry.seq} was reordered (it was recorded as #{recorded})",
        )
    if recorded is not None:
        # Recorded under another number, after a row that no longer exists.
        return _Finding(
            DELETED,
            expected_seq,
            "",
            f"entry #{expected_seq} was deleted and the entries after it renumbered",
        )
    if skipped:
        return _inserted(entry)
    return _edited(entry, "its content does not match its hash")


def _inserted(entry: StoredEntry) -> _Finding:
    return _Finding(
        INSERTED,
        entry.seq,
        entry.shown_id,
        f"entry #{entry.seq} was inserted (it is not part of the original chain)",
    )


def _edited(entry: StoredEntry, why: str) -> _Finding:
    return _Finding(EDITED, entry.seq, entry.shown_id, f"entry #{entry.seq} was edited ({why})")


def _unreadable_number(entry: StoredEntry, position: int | None) -> _Finding:
    if position is None:
        message = (
            "an entry that cannot be placed in the chain was edited or inserted "
            f"({entry.malformed})"
        )
    else:
        message = f"entry #{position} was edited ({entry.malformed})"
    return _Finding(EDITED, position, entry.shown_id, message)


def _position_of(entry: StoredEntry) -> int | None:
    """Where a row with an unreadable number sits, by its links to its neighbours."""
    if entry.prev_hash == GENESIS_HASH:
        return 1
    if audit_rows.HASH_RE.match(entry.prev_hash):
        before = audit_rows.seqs_where("entry_hash", entry.prev_hash)
        if before:
            return before[0] + 1
    if audit_rows.HASH_RE.match(entry.entry_hash):
        after = audit_rows.seqs_where("prev_hash", entry.entry_hash)
        if after:
            return after[0] - 1
    return None


def _recorded_seq(entry: StoredEntry) -> int | None:
    """The number `entry` had when it was hashed, if it is not its current one."""
    assert entry.seq is not None  # noqa: S101 - only numbered rows are diagnosed
    candidates = [entry.seq - 1, entry.seq + 1]
    if entry.prev_hash == GENESIS_HASH:
        candidates.append(1)
    # Only on a broken chain, so the unindexed lookup costs nothing in normal operation.
    candidates += [seq + 1 for seq in audit_rows.seqs_where("entry_hash", entry.prev_hash)]
    for seq in dict.fromkeys(candidates):
        if seq > 0 and seq != entry.seq and hash_matches(entry, seq=seq):
            return seq
    return None


def _has_predecessor(entry: StoredEntry) -> bool:
    if entry.prev_hash == GENESIS_HASH:
        return True
    return bool(audit_rows.seqs_where("entry_hash", entry.prev_hash))
