"""Writes of the sealing subsystem: `seal init`, unseal submissions, seal now (each audited).

Shares pass through here in memory only; the audit trail names the holder, never a share. A
refused share, the unseal and a seal-now are also announced (seal_events), so coordinators hear
of them wherever they are.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from refuge.core import clock
from refuge.security import audit, seal_events, sealing
from refuge.security import shares as share_format
from refuge.security.crypto import LocalKeyCrypto
from refuge.security.keyd.client import KeydStatus, keyd_client
from refuge.security.keystore import KEY_BYTES, load_key_file
from refuge.security.models import DataKey, Seal


class SealInitError(Exception):
    """`seal init` refused; nothing was written."""


@dataclass(frozen=True)
class SealInitResult:
    record: sealing.SealRecord
    shares: list[share_format.Share]
    migrated_key_file: Path | None


def seal_record_path() -> Path:
    return Path(settings.VAR_DIR) / "seal.json"


def seal_init(
    *,
    threshold: int,
    total: int,
    accept_total_loss: bool = False,
    actor: audit.Actor | None = None,
) -> SealInitResult:
    """Create the root key (or adopt the key file's) and split a new unseal key into shares.

    With a key file present, R := the key-file master key, so every data key wrapped under it
    stays readable; the operator must then remove the key file (the caller says so)."""
    try:
        share_format.check_threshold(threshold, total, accept_total_loss=accept_total_loss)
    except share_format.ShareError as exc:
        raise SealInitError(str(exc)) from None
    if Seal.objects.exists():
        raise SealInitError(
            _(
                "this instance is already sealed (a seal record exists); re-splitting the "
                "unseal key (`refuge seal rekey`) is not built yet"
            )
        )
    key_file = Path(settings.KEY_FILE)
    migrated: Path | None = None
    if key_file.exists():
        root = bytearray(load_key_file(key_file, create=False))
        migrated = key_file
    elif DataKey.objects.exists():
        raise SealInitError(
            _(
                "the database holds encrypted data but the key file %(path)s is missing: restore "
                "it first, or every record would become unreadable"
            )
            % {"path": key_file}
        )
    else:
        root = bytearray(secrets.token_bytes(KEY_BYTES))
    unseal_key = bytearray(secrets.token_bytes(share_format.UNSEAL_KEY_BYTES))
    try:
        instance_id = secrets.token_hex(4)
        issued = share_format.split(
            bytes(unseal_key), threshold=threshold, total=total, instance_id=instance_id
        )
        record = sealing.SealRecord(
            instance_id=instance_id,
            threshold=threshold,
            shares=total,
            wrapped_root=sealing.wrap_root(bytes(unseal_key), bytes(root), instance_id),
            share_hashes={s.index: s.payload_hash() for s in issued},
            intake_public_key=LocalKeyCrypto(bytes(root)).intake_public_key(),
            created_at=clock.now(),
        )
    finally:
        sealing.wipe(unseal_key)
        sealing.wipe(root)
    with transaction.atomic():
        record.to_model().save(force_insert=True)
        audit.record(
            "refuge.security.seal.initialised",
            actor=actor,
            object_type="security.seal",
            object_id=instance_id,
            detail={
                "threshold": threshold,
                "shares": total,
                "adopted_key_file": migrated is not None,
            },
        )
    path = seal_record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(record.to_json() + "\n", encoding="utf-8")
    return SealInitResult(record=record, shares=issued, migrated_key_file=migrated)


def seal_status() -> KeydStatus:
    return keyd_client().status()


def seal_unseal(
    *, actor: audit.Actor | None, share_text: str, passphrase: str | None = None, holder: str
) -> KeydStatus:
    """Submit one share to keyd. Raises ShareError (named) or SealedError (keyd unreachable).
    A refused share is audited (why, never the share) and announced."""
    try:
        share = share_format.read(share_text, passphrase)
        status = keyd_client().unseal(share.text())
    except share_format.ShareError as exc:
        _share_refused(actor=actor, holder=holder, reason=str(exc))
        raise
    with transaction.atomic():
        audit.record(
            "refuge.security.unseal.share_accepted",
            actor=actor,
            object_type="security.seal",
            object_id=status.instance_id,
            detail={
                "holder": holder[:150],
                "index": share.index,
                "progress": status.progress,
                "unsealed": not status.sealed,
            },
        )
        if not status.sealed:
            seal_events.seal_changed.fire(_event(seal_events.UNSEALED, actor))
    return status


def _event(kind: str, actor: audit.Actor | None) -> seal_events.SealEvent:
    return seal_events.SealEvent(kind=kind, actor_id=actor.pk if actor is not None else None)


def _instance_id() -> str:
    return str(Seal.objects.filter(id=1).values_list("instance_id", flat=True).first() or "")


def _share_refused(*, actor: audit.Actor | None, holder: str, reason: str) -> None:
    with transaction.atomic():
        audit.record(
            "refuge.security.unseal.share_refused",
            actor=actor,
            object_type="security.seal",
            object_id=_instance_id(),
            detail={"holder": holder[:150], "reason": reason[:200]},
        )
        seal_events.seal_changed.fire(_event(seal_events.SHARE_REFUSED, actor))


def seal_reset(*, actor: audit.Actor | None, holder: str) -> KeydStatus:
    status = keyd_client().reset()
    with transaction.atomic():
        audit.record(
            "refuge.security.unseal.reset",
            actor=actor,
            object_type="security.seal",
            object_id=status.instance_id,
            detail={"holder": holder[:150]},
        )
    return status


def seal_now(*, actor: audit.Actor | None, holder: str) -> KeydStatus:
    """Seal every process at once: keyd drops the root key; each process fails closed."""
    status = keyd_client().seal()
    with transaction.atomic():
        audit.record(
            "refuge.security.seal.sealed",
            actor=actor,
            object_type="security.seal",
            object_id=status.instance_id,
            detail={"holder": holder[:150]},
        )
        seal_events.seal_changed.fire(_event(seal_events.SEALED, actor))
    return status
