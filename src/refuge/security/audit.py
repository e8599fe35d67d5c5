"""The tamper-evident audit trail.

Each entry commits to its predecessor:
    entry_hash = SHA-256(0x00 || prev_hash || canonical JSON of the entry's fields)
It is appended inside the caller's transaction (if the append fails, the change rolls back), and
the database refuses UPDATE and DELETE on the table. `refuge audit verify` recomputes the chain and
names the first entry that was edited, deleted, inserted or reordered.

Details must never carry plaintext of encrypted fields: callers pass field *names*, codes and ids.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import connection, transaction

from refuge.core import clock, rows
from refuge.security.models import AuditEntry

GENESIS_HASH = "0" * 64
# Any constant works; it only has to be the same in every process.
_PG_ADVISORY_LOCK_ID = 0x52_45_46_55_47_45  # "REFUGE"


class Actor(Protocol):
    @property
    def pk(self) -> Any: ...

    def get_username(self) -> str: ...


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _timestamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def compute_hash(
    *,
    prev_hash: str,
    seq: int,
    occurred_at: dt.datetime,
    actor_id: uuid.UUID | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    detail: str,
) -> str:
    body = canonical_json(
        [
            seq,
            _timestamp(occurred_at),
            str(actor_id) if actor_id else None,
            actor_label,
            action,
            object_type,
            object_id,
            detail,
        ]
    )
    return hashlib.sha256(b"\x00" + bytes.fromhex(prev_hash) + body.encode("utf-8")).hexdigest()


def entry_hash_of(
    entry: AuditEntry, *, prev_hash: str | None = None, seq: int | None = None
) -> str:
    return compute_hash(
        prev_hash=entry.prev_hash if prev_hash is None else prev_hash,
        seq=entry.seq if seq is None else seq,
        occurred_at=entry.occurred_at,
        actor_id=entry.actor_id,
        actor_label=entry.actor_label,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        detail=entry.detail,
    )


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
    if not action.startswith("refuge.") or action.count(".") < 3:  # noqa: PLR2004
        raise ValueError(f"audit action codes look like refuge.<app>.<entity>.<event>: {action!r}")
    if obj is not None:
        object_type = object_type or f"{obj._meta.app_label}.{obj._meta.model_name}"
        object_id = object_id or str(obj.pk)
    # No savepoint: an entry that cannot be appended must roll back the caller's change with it,
    # and inside the caller's transaction a savepoint would only add two statements to every
    # audited write.
    with transaction.atomic(savepoint=False):
        _lock_head()
        head = _head()
        seq = head[0] + 1 if head else 1
        prev_hash = head[1] if head else GENESIS_HASH
        occurred_at = clock.now().astimezone(dt.UTC)
        actor_id = actor.pk if actor is not None and actor.pk else None
        actor_label = actor.get_username() if actor is not None else "system"
        detail_text = canonical_json(dict(detail or {}))
        entry = AuditEntry(
            seq=seq,
            occurred_at=occurred_at,
            actor_id=actor_id,
            actor_label=actor_label,
            action=action,
            object_type=object_type,
            object_id=object_id,
            detail=detail_text,
            prev_hash=prev_hash,
        )
        entry.entry_hash = entry_hash_of(entry)
        rows.insert([entry])
        return entry


@dataclass(frozen=True)
class VerifyResult:
    """What `verify()` found. On failure, `seq` and `entry_id` name the first bad entry; for a
    deleted entry `seq` is the missing number and `entry_id` is empty (the row is gone)."""

    ok: bool
    checked: int
    problem: str = ""
    kind: str = ""
    seq: int | None = None
    entry_id: str = ""


@dataclass(frozen=True)
class _Finding:
    kind: str
    seq: int
    entry_id: str
    message: str


EDITED = "edited"
DELETED = "deleted"
INSERTED = "inserted"
REORDERED = "reordered"


def _iter_entries() -> Iterator[AuditEntry]:
    # Keyset pagination keeps memory flat on long chains. The first page is unbounded below, so
    # a row slipped in with seq 0 or a negative seq is still seen.
    batch = list(AuditEntry.objects.order_by("seq")[:2000])
    while batch:
        yield from batch
        batch = list(AuditEntry.objects.filter(seq__gt=batch[-1].seq).order_by("seq")[:2000])


def _with_next(entries: Iterator[AuditEntry]) -> Iterator[tuple[AuditEntry, AuditEntry | None]]:
    current = next(entries, None)
    while current is not None:
        following = next(entries, None)
        yield current, following
        current = following


def verify() -> VerifyResult:
    """Walk the chain in seq order and report the first entry that does not fit.

    A chain alone cannot show a truncated tail or a wholesale rewrite from some entry onwards
    (every later hash recomputed); signed checkpoints (security design b.7) will cover those."""
    prev: AuditEntry | None = None
    checked = 0
    for entry, following in _with_next(_iter_entries()):
        finding = _diagnose(entry, prev, following)
        if finding is not None:
            return VerifyResult(
                ok=False,
                checked=checked,
                problem=finding.message,
                kind=finding.kind,
                seq=finding.seq,
                entry_id=finding.entry_id,
            )
        prev = entry
        checked += 1
    return VerifyResult(ok=True, checked=checked)


def _diagnose(
    entry: AuditEntry, prev: AuditEntry | None, following: AuditEntry | None
) -> _Finding | None:
    expected_seq = prev.seq + 1 if prev else 1
    if entry.seq != expected_seq:
        return _out_of_sequence(entry, expected_seq)
    expected_prev_hash = prev.entry_hash if prev else GENESIS_HASH
    content_ok = entry_hash_of(entry) == entry.entry_hash
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


def _out_of_sequence(entry: AuditEntry, expected_seq: int) -> _Finding:
    if entry.seq < expected_seq:
        # Only the first row can get here: nothing may come before #1.
        return _Finding(
            INSERTED, entry.seq, str(entry.id), f"entry #{entry.seq} was inserted before #1"
        )
    last = entry.seq - 1
    gap = f"#{expected_seq}" if last == expected_seq else f"#{expected_seq}-#{last}"
    return _Finding(
        DELETED, expected_seq, "", f"entry {gap} was deleted (the chain resumes at #{entry.seq})"
    )


def _content_mismatch(entry: AuditEntry, expected_seq: int, *, skipped: bool) -> _Finding:
    recorded = _recorded_seq(entry)
    if recorded is not None and _has_predecessor(entry):
        return _Finding(
            REORDERED,
            entry.seq,
            str(entry.id),
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


def _inserted(entry: AuditEntry) -> _Finding:
    return _Finding(
        INSERTED,
        entry.seq,
        str(entry.id),
        f"entry #{entry.seq} was inserted (it is not part of the original chain)",
    )


def _edited(entry: AuditEntry, why: str) -> _Finding:
    return _Finding(EDITED, entry.seq, str(entry.id), f"entry #{entry.seq} was edited ({why})")


def _recorded_seq(entry: AuditEntry) -> int | None:
    """The number `entry` had when it was hashed, if it is not its current one."""
    candidates = [entry.seq - 1, entry.seq + 1]
    if entry.prev_hash == GENESIS_HASH:
        candidates.append(1)
    # Only on a broken chain, so the unindexed lookup costs nothing in normal operation.
    candidates += [
        seq + 1
        for seq in AuditEntry.objects.filter(entry_hash=entry.prev_hash).values_list(
            "seq", flat=True
        )
    ]
    for seq in dict.fromkeys(candidates):
        if seq > 0 and seq != entry.seq and entry_hash_of(entry, seq=seq) == entry.entry_hash:
            return seq
    return None


def _has_predecessor(entry: AuditEntry) -> bool:
    if entry.prev_hash == GENESIS_HASH:
        return True
    return AuditEntry.objects.filter(entry_hash=entry.prev_hash).exists()
