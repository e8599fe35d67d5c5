"""Escalation policies and steps, on-call rotas, staff channels, the notification outbox."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from refuge.alerts.models.emergencies import Emergency
from refuge.core.models import UUIDModel


class EscalationPolicy(UUIDModel):
    name = models.CharField(_("name"), max_length=100, unique=True)
    is_default = models.BooleanField(_("default policy"), default=False)
    # Repeat the whole policy this many times before staying on its last step.
    repeat = models.PositiveSmallIntegerField(_("repeat"), default=1)
    # An acknowledgement must be followed by "on my way" within this time, or escalation resumes.
    en_route_within_minutes = models.PositiveIntegerField(
        _("on the way within (minutes)"), default=10
    )

    objects: ClassVar[models.Manager[EscalationPolicy]]

    class Meta:
        ordering = ("name",)
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="alerts_one_default_policy",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class EscalationStep(models.Model):
    class Target(models.TextChoices):
        ON_CALL = "on_call", _("On-call operator")
        CASE_LAWYER = "case_lawyer", _("The case's lawyer")
        CASE_TEAM = "case_team", _("The whole case team")
        COORDINATORS = "coordinators", _("Coordinators")
        USER = "user", _("A named staff member")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    # Minutes after the previous step (0 for the first: at once).
    delay_minutes = models.PositiveIntegerField(default=0)
    target = models.CharField(max_length=20, choices=Target.choices)
    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    rota = models.ForeignKey(
        "alerts.OnCallRota", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # Channel kinds to use (empty: each recipient's channels in their own order).
    channel_kinds = models.JSONField(default=list, blank=True)

    objects: ClassVar[models.Manager[EscalationStep]]

    class Meta:
        ordering = ("policy", "position")
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["policy", "position"], name="alerts_step_position"),
        ]

    def __str__(self) -> str:
        return f"step {self.position} of {self.policy_id}"


class OnCallRota(UUIDModel):
    """Weekly (or N-day) rotation through an ordered list of staff, with overrides."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    starts_on = models.DateTimeField(_("rotation starts"))
    shift_days = models.PositiveSmallIntegerField(_("shift length (days)"), default=7)

    objects: ClassVar[models.Manager[OnCallRota]]

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class RotaMember(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    rota = models.ForeignKey(OnCallRota, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()

    objects: ClassVar[models.Manager[RotaMember]]

    class Meta:
        ordering = ("rota", "position")
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["rota", "position"], name="alerts_rota_position"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} #{self.position}"


class RotaOverride(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    rota = models.ForeignKey(OnCallRota, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    objects: ClassVar[models.Manager[RotaOverride]]

    class Meta:
        ordering = ("starts_at",)
        constraints: ClassVar[list[Any]] = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="alerts_override_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"override {self.starts_at}–{self.ends_at}"


class StaffChannel(UUIDModel):
    """How to reach a staff member, in their order of preference (failover goes down the list)."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("E-mail")
        TELEGRAM = "telegram", _("Telegram")
        SIGNAL = "signal", _("Signal")
        MATRIX = "matrix", _("Matrix")
        WEBHOOK = "webhook", _("Webhook")

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="channels")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    # An Apprise URL (mailto://, tgram://, signal://, matrix://, json://) or an e-mail address.
    target = models.CharField(_("address"), max_length=500)
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    objects: ClassVar[models.Manager[StaffChannel]]

    class Meta:
        ordering = ("user", "position")

    def __str__(self) -> str:
        return f"{self.kind} channel of {self.user_id}"


class Notification(models.Model):
    """Transactional outbox row: written in the same transaction as the decision to notify,
    delivered by the worker at least once; the idempotency key stops a second row for the same
    (emergency, step, round, recipient)."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    emergency = models.ForeignKey(Emergency, on_delete=models.CASCADE, related_name="notifications")
    recipient = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    step = models.PositiveSmallIntegerField()
    round = models.PositiveSmallIntegerField(default=0)
    idempotency_key = models.CharField(max_length=200, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    # Which of the recipient's channels to try next (failover moves down the list).
    channel = models.ForeignKey(
        StaffChannel, on_delete=models.SET_NULL, related_name="+", null=True, blank=True
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    # Digest of the one-time acknowledgement token in the message's link.
    ack_token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects: ClassVar[models.Manager[Notification]]

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["state", "next_attempt_at"], name="alerts_notification_due"),
        ]

    def __str__(self) -> str:
        return f"notification {self.pk}"


class NotificationAttempt(models.Model):
    """Every delivery attempt, successful or not, on which channel."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="attempt_log"
    )
    channel_kind = models.CharField(max_length=10)
    at = models.DateTimeField()
    ok = models.BooleanField()
    error = models.CharField(max_length=500, blank=True)

    objects: ClassVar[models.Manager[NotificationAttempt]]

    class Meta:
        ordering = ("at",)

    def __str__(self) -> str:
        return f"attempt at {self.at}"
