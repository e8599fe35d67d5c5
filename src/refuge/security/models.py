"""Key material references and the audit chain. Never plaintext keys: data keys are stored
wrapped by a key-encryption key (KEK) derived from the master key."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.db import models


class KeyRing(models.Model):
    """Singleton row: which KEK version wraps new data keys. Not secret."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    current_kek_version = models.PositiveIntegerField(default=1)
    rotated_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager[KeyRing]]

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.CheckConstraint(condition=models.Q(id=1), name="security_keyring_singleton"),
        ]

    def __str__(self) -> str:
        return f"KEK v{self.current_kek_version}"


class DataKey(models.Model):
    """A per-record data key (DEK), wrapped. Records point at their own key, so re-wrapping after
    a KEK rotation touches this table only, and one record can be crypto-shredded alone."""

    class Purpose(models.TextChoices):
        RECORD = "record"
        LOCATION = "location"

    # Keys are made with time-ordered ids (security.fields._wrapped_keys), not this default.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    kek_version = models.PositiveIntegerField()
    wrapped = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects: ClassVar[models.Manager[DataKey]]

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["kek_version"], name="security_datakey_kek"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} key {self.id} (KEK v{self.kek_version})"


class AuditEntry(models.Model):
    """One link of the append-only, hash-chained audit trail (see refuge.security.audit).

    The database refuses UPDATE and DELETE on this table (triggers in migration 0002)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    seq = models.BigIntegerField(unique=True)
    occurred_at = models.DateTimeField()
    actor_id = models.UUIDField(null=True, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    # Canonical JSON text, hashed exactly as stored. Never holds plaintext of encrypted fields.
    detail = models.TextField(default="{}")
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)

    objects: ClassVar[models.Manager[AuditEntry]]

    class Meta:
        ordering = ("seq",)
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["object_type", "object_id"], name="security_audit_object"),
            models.Index(fields=["actor_id", "occurred_at"], name="security_audit_actor"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"


class Seal(models.Model):
    """Singleton row written by `refuge seal init`: the root key wrapped by the unseal key.

    Nothing here is secret. The unseal key exists only as k-of-n shares held by people; the share
    payload hashes let a wrong share be named before combining (they reveal nothing, payloads are
    uniformly random); the intake public key lets a sealed server write new data keys it cannot
    read back (see refuge.security.intakebox)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    instance_id = models.CharField(max_length=8)
    threshold = models.PositiveSmallIntegerField()
    shares = models.PositiveSmallIntegerField()
    wrapped_root = models.BinaryField()
    # {"1": "<sha-256 hex of share #1's payload>", ...}
    share_hashes = models.JSONField()
    intake_public_key = models.BinaryField()
    created_at = models.DateTimeField()

    objects: ClassVar[models.Manager[Seal]]

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.CheckConstraint(condition=models.Q(id=1), name="security_seal_singleton"),
        ]

    def __str__(self) -> str:
        return f"seal {self.instance_id} ({self.threshold} of {self.shares})"
