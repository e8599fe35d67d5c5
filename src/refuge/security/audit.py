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

from refuge.core import clock
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
    with transaction.atomic():
        _lock_head()
        head = AuditEntry.objects.order_by("-seq").only("seq", "entry_hash").first()
        seq = head.seq + 1 if head else 1
        prev_hash = head.entry_hash if head else GENESIS_HASH
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
        entry.save(force_insert=True)
        return entry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    problem: str = ""
    seq: int | None = None
    entry_id: str = ""


def _iter_entries() -> Iterator[AuditEntry]:
    # Keyset pagination keeps memory flat on long chains.
    last = 0
    while True:
        batch = list(AuditEntry.objects.filter(seq__gt=last).order_by("seq")[:2000])
        if not batch:
            return
        yield from batch
        last = batch[-1].seq


def _with_next(entries: Iterator[AuditEntry]) -> Iterator[tuple[AuditEntry, AuditEntry | None]]:
    current = next(entries, None)
    while current is not None:
        following = next(entries, None)
        yield current, following
        current = following


def verify() -> VerifyResult:
    """Walk the chain in seq order and report the first entry that does not fit."""
    prev: AuditEntry | None = None
    checked = 0
    for entry, following in _with_next(_iter_entries()):
        problem = _diagnose(entry, prev, following)
        if problem is not None:
            culprit, message = problem
            return VerifyResult(
                ok=False,
                checked=checked,
                problem=message,
                seq=culprit.seq,
                entry_id=str(culprit.id),
            )
        prev = entry
        checked += 1
    return VerifyResult(ok=True, checked=checked)


def _diagnose(  # noqa: PLR0911 - one return per kind of tampering reads best
    entry: AuditEntry, prev: AuditEntry | None, following: AuditEntry | None
) -> tuple[AuditEntry, str] | None:
    expected_seq = prev.seq + 1 if prev else 1
    expected_prev_hash = prev.entry_hash if prev else GENESIS_HASH
    if entry.seq > expected_seq:
        gap = (
            f"#{expected_seq}"
            if entry.seq == expected_seq + 1
            else f"#{expected_seq}-#{entry.seq - 1}"
        )
        return entry, f"entry {gap} was deleted (the chain jumps to #{entry.seq})"
    content_ok = entry_hash_of(entry) == entry.entry_hash
    linked = entry.prev_hash == expected_prev_hash
    if content_ok and linked:
        return None
    if prev is not None and not linked and entry.prev_hash == prev.prev_hash:
        # This entry was chained to the one before `prev`: `prev` was slipped in between.
        return prev, f"entry #{prev.seq} was inserted (it is not part of the original chain)"
    if not content_ok:
        for other_seq in (entry.seq + 1, entry.seq - 1):
            if other_seq > 0 and entry_hash_of(entry, seq=other_seq) == entry.entry_hash:
                return entry, f"entry #{entry.seq} was reordered (it was recorded as #{other_seq})"
        if following is not None and following.prev_hash == expected_prev_hash:
            return entry, f"entry #{entry.seq} was inserted (it is not part of the original chain)"
        return entry, f"entry #{entry.seq} was edited (its content does not match its hash)"
    return entry, f"entry #{entry.seq} does not follow #{expected_seq - 1} (the chain is broken)"
