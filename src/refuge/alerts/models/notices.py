"""Coordinators' security notices (accounts.SecurityNotice) on their notification channels."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from refuge.alerts.models.escalation import StaffChannel


class NoticeDelivery(models.Model):
    """Outbox row: one security notice for one coordinator, written in the transaction that
    raised the notice and sent by the worker at least once, like a Notification. A notice is not
    an emergency: nothing escalates and nothing is acknowledged by message; retries stop when
    someone marks the notice as seen, or after a day."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    notice = models.ForeignKey(
        "accounts.SecurityNotice", on_delete=models.CASCADE, related_name="deliveries"
    )
    recipient = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    # Which of the recipient's channels to try next (failover moves down the list), and the
    # kind of the one it went out on (kept if the channel is removed later).
    channel = models.ForeignKey(
        StaffChannel, on_delete=models.SET_NULL, related_name="+", null=True, blank=True
    )
    channel_kind = models.CharField(max_length=10, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()

    objects: ClassVar[models.Manager[NoticeDelivery]]

    class Meta:
        ordering = ("created_at",)
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(
                fields=["notice", "recipient"], name="alerts_notice_delivery_once"
            ),
        ]
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["state", "next_attempt_at"], name="alerts_notice_delivery_due"),
        ]

    def __str__(self) -> str:
        return f"notice delivery {self.pk}"
