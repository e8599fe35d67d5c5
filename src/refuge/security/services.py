"""Key management: rotating the key-encryption key (KEK) and reporting where the keyring stands.

A rotation bumps the KEK version that wraps new data keys, then re-wraps every existing data key
under it in batches, each batch its own transaction. Records are never touched: they keep their
data keys, and a wrapped key names the KEK version it was wrapped with, so every record stays
readable before, during and after a rotation. A rotation interrupted by a crash is finished by
running it again; the version is only bumped when no rotation is unfinished.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from refuge.core import clock
from refuge.security import audit
from refuge.security.crypto import DecryptionError, KeyContext
from refuge.security.models import DataKey, KeyRing
from refuge.security.provider import get_crypto

Progress = Callable[[int, int], None]
"""Called after each committed batch with (keys re-wrapped so far, keys to re-wrap in total)."""


@dataclass(frozen=True)
class KeyStatus:
    current_kek_version: int
    total_keys: int
    outdated_keys: int

    @property
    def rotation_unfinished(self) -> bool:
        return self.outdated_keys > 0


@dataclass(frozen=True)
class RotationResult:
    from_version: int
    kek_version: int
    resumed: bool
    rewrapped: int
    failed: int


def _ring(*, lock: bool = False) -> KeyRing:
    ring, _created = KeyRing.objects.get_or_create(id=1)
    if lock:
        ring = KeyRing.objects.select_for_update().get(id=1)
    return ring


def keys_status() -> KeyStatus:
    ring = _ring()
    return KeyStatus(
        current_kek_version=ring.current_kek_version,
        total_keys=DataKey.objects.count(),
        outdated_keys=DataKey.objects.filter(kek_version__lt=ring.current_kek_version).count(),
    )


def _begin(actor: audit.Actor | None) -> tuple[int, int, bool]:
    """Bump the KEK version unless a rotation is unfinished; return (from, to, resumed)."""
    with transaction.atomic():
        ring = _ring(lock=True)
        outdated = DataKey.objects.filter(kek_version__lt=ring.current_kek_version)
        oldest = outdated.order_by("kek_version").values_list("kek_version", flat=True).first()
        if oldest is not None:
            audit.record(
                "refuge.security.keys.rotation_resumed",
                actor=actor,
                object_type="security.keyring",
                object_id="1",
                detail={"kek_version": ring.current_kek_version, "remaining": outdated.count()},
            )
            return oldest, ring.current_kek_version, True
        previous = ring.current_kek_version
        ring.current_kek_version = previous + 1
        ring.save(update_fields=["current_kek_version"])
        audit.record(
            "refuge.security.keys.rotation_started",
            actor=actor,
            object_type="security.keyring",
            object_id="1",
            detail={
                "from_version": previous,
                "to_version": ring.current_kek_version,
                "keys": DataKey.objects.count(),
            },
        )
        return previous, ring.current_kek_version, False


def _rewrap(key: DataKey, version: int) -> bytes:
    crypto = get_crypto()
    context = KeyContext(str(key.id), key.purpose)
    old = bytes(key.wrapped)
    dek = crypto.unwrap_key(old, context)
    new = crypto.rewrap_key(old, context, kek_version=version)
    # A wrong re-wrap would destroy the record for good: check it before it replaces the old one.
    if crypto.unwrap_key(new, context) != dek:
        raise DecryptionError("re-wrapped key does not unwrap to the same data key")
    return new


def _rewrap_batch(
    version: int, after: Any, batch_size: int, actor: audit.Actor | None
) -> tuple[list[DataKey], int, int]:
    """Re-wrap the next batch (by id, after `after`) in one transaction: (batch, done, failed)."""
    done = failed = 0
    with transaction.atomic():
        keys = DataKey.objects.filter(kek_version__lt=version).order_by("id")
        if after is not None:
            keys = keys.filter(id__gt=after)
        batch = list(keys[:batch_size])
        for key in batch:
            try:
                wrapped = _rewrap(key, version)
            except DecryptionError:
                # Left on its old version (still unfinished); the others carry on.
                audit.record(
                    "refuge.security.keys.rewrap_failed",
                    actor=actor,
                    obj=key,
                    detail={"kek_version": key.kek_version},
                )
                failed += 1
                continue
            # Conditional: a key shredded or re-wrapped concurrently is left alone.
            done += DataKey.objects.filter(pk=key.pk, kek_version=key.kek_version).update(
                wrapped=wrapped, kek_version=version
            )
    return batch, done, failed


def keys_rotate(
    *,
    batch_size: int = 500,
    progress: Progress | None = None,
    actor: audit.Actor | None = None,
) -> RotationResult:
    """Rotate to a new KEK version (or finish an interrupted rotation) and re-wrap every data key.

    Run it outside a transaction: each batch commits on its own so a crash loses one batch of
    work at most."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    from_version, version, resumed = _begin(actor)
    total = DataKey.objects.filter(kek_version__lt=version).count()
    rewrapped = failed = 0
    after: Any = None
    while True:
        batch, done, batch_failed = _rewrap_batch(version, after, batch_size, actor)
        if not batch:
            break
        rewrapped += done
        failed += batch_failed
        after = batch[-1].id
        if progress is not None:
            progress(rewrapped, total)
    with transaction.atomic():
        remaining = DataKey.objects.filter(kek_version__lt=version).count()
        if remaining == 0:
            ring = _ring(lock=True)
            ring.rotated_at = clock.now()
            ring.save(update_fields=["rotated_at"])
        audit.record(
            "refuge.security.keys.rotation_finished"
            if remaining == 0
            else "refuge.security.keys.rotation_incomplete",
            actor=actor,
            object_type="security.keyring",
            object_id="1",
            detail={
                "kek_version": version,
                "rewrapped": rewrapped,
                "failed": failed,
                "remaining": remaining,
            },
        )
    return RotationResult(
        from_version=from_version,
        kek_version=version,
        resumed=resumed,
        rewrapped=rewrapped,
        failed=failed,
    )
