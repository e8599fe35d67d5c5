"""Kernel models: base classes with random UUID keys and the background job queue."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.db import models

from refuge.core.choices import choice_label


class UUIDModel(models.Model):
    """Random primary keys: sequential ids reveal how many records exist and invite guessing."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def _get_FIELD_display(self, field: models.Field[Any, Any]) -> Any:  # noqa: N802 - Django's name
        # What get_<field>_display() calls. Django's own translates every label of the field
        # on every call; lists show three of them per row. See refuge.core.choices.
        return choice_label(field, getattr(self, field.attname))


class Job(models.Model):
    """A unit of background work, written in the same transaction as the change that needs it
    (transactional outbox) and run by `refuge worker`."""

    class State(models.TextChoices):
        QUEUED = "queued"
        DONE = "done"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    # A job with the same idempotency key is enqueued once, however often it is asked for.
    idempotency_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    run_after = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=10)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager[Job]]

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["state", "run_after"], name="core_job_due"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"


class WorkerHeartbeat(models.Model):
    """One row per worker process; the staff pages warn when none has ticked recently."""

    worker_id = models.CharField(max_length=100, primary_key=True)
    hostname = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_tick_at = models.DateTimeField()

    objects: ClassVar[models.Manager[WorkerHeartbeat]]

    def __str__(self) -> str:
        return self.worker_id
