"""Emergencies, their timed events and the raw alerts that open or join them."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from refuge.core.models import UUIDModel
from refuge.security.fields import DataKeyField, EncryptedTextField
from refuge.security.models import DataKey


class Priority(models.IntegerChoices):
    LOW = 10, _("Low")
    NORMAL = 20, _("Normal")
    HIGH = 30, _("High")
    TOP = 40, _("Top")


class EmergencySource(models.TextChoices):
    CALL = "call", _("Call to the emergency line")
    SOS = "sos", _("SOS")
    DURESS = "duress", _("Duress PIN")
    MISSED_CHECKIN = "missed_checkin", _("Missed check-in")
    LOCKOUT = "lockout", _("Check-in channel locked")
    SOS_FLOOD = "sos_flood", _("SOS flood from one address")


class EmergencyState(models.TextChoices):
    OPEN = "open", pgettext_lazy("emergency state", "Open")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    EN_ROUTE = "en_route", _("On the way")
    ON_SITE = "on_site", _("On site")
    RESOLVED = "resolved", _("Resolved")


ACTIVE_STATES = (
    EmergencyState.OPEN,
    EmergencyState.ACKNOWLEDGED,
    EmergencyState.EN_ROUTE,
    EmergencyState.ON_SITE,
)


class Outcome(models.TextChoices):
    SAFE = "safe", _("Person safe")
    FALSE_ALARM = "false_alarm", _("False alarm")
    CANCELLED_BY_PERSON = "cancelled_by_person", _("Cancelled by the person")
    DETAINED = "detained", _("Detained")
    MISSING = "missing", _("Missing")
    HANDED_TO_CASE = "handed_to_case", _("Handed over to case work")
    OTHER = "other", _("Other")


class Emergency(UUIDModel):
    """An open situation that demands a human response now. Later alerts about the same people
    or cases join it instead of paging everyone again."""

    code = models.CharField(_("code"), max_length=12, unique=True)
    source = models.CharField(_("source"), max_length=20, choices=EmergencySource.choices)
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.HIGH
    )
    state = models.CharField(
        _("state"), max_length=20, choices=EmergencyState.choices, default=EmergencyState.OPEN
    )
    people = models.ManyToManyField(
        "people.ProtectedPerson", related_name="emergencies", blank=True
    )
    cases = models.ManyToManyField("cases.Case", related_name="emergencies", blank=True)
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.PROTECT, related_name="emergencies", null=True, blank=True
    )
    # Who called: a protected person, or nobody known (an unknown caller).
    caller = models.ForeignKey(
        "people.ProtectedPerson", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    opened_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    # The times that matter: call/SOS -> opened -> first notification -> acknowledged -> on site.
    reported_at = models.DateTimeField(_("call or SOS time"))
    opened_at = models.DateTimeField(_("opened"))
    first_notified_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    en_route_at = models.DateTimeField(null=True, blank=True)
    on_site_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    outcome = models.CharField(max_length=30, choices=Outcome.choices, blank=True)

    # Escalation state. The policy is frozen onto the emergency when it opens; a step that
    # fires late or twice is ignored by its index (escalation_step is the next step to fire).
    policy_snapshot = models.JSONField(default=dict)
    escalation_step = models.PositiveIntegerField(default=0)
    escalation_round = models.PositiveIntegerField(default=0)
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    # An acknowledgement not followed by "on my way" before this time falls back to open.
    ack_expires_at = models.DateTimeField(null=True, blank=True)

    data_key = DataKeyField()
    location_key = DataKeyField(purpose=DataKey.Purpose.LOCATION)
    heard = EncryptedTextField(_("what was heard"))
    location_hint = EncryptedTextField(_("location hint"), key_field="location_key")
    resolution_note = EncryptedTextField(_("resolution note"))

    objects: ClassVar[models.Manager[Emergency]]

    class Meta:
        ordering = ("-opened_at",)
        verbose_name = _("emergency")
        verbose_name_plural = _("emergencies")
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["state", "next_escalation_at"], name="alerts_emergency_due"),
            models.Index(fields=["state", "ack_expires_at"], name="alerts_emergency_ack_due"),
            models.Index(fields=["opened_at"], name="alerts_emergency_opened"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES


class EmergencyEvent(models.Model):
    """Every step of an emergency, timed: opened, joined, notified, failed, acknowledged, ..."""

    class Kind(models.TextChoices):
        OPENED = "opened", _("Opened")
        JOINED = "joined", _("Alert joined")
        ESCALATED = "escalated", _("Escalated")
        NOTIFICATION_SENT = "notification_sent", _("Notification sent")
        NOTIFICATION_FAILED = "notification_failed", _("Notification failed")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        ACK_EXPIRED = "ack_expired", _("Acknowledgement expired")
        EN_ROUTE = "en_route", _("On the way")
        ON_SITE = "on_site", _("On site")
        NOTE = "note", _("Note")
        TIME_CORRECTED = "time_corrected", _("Time corrected")
        CANCEL_REQUESTED = "cancel_requested", _("Cancelled by the person")
        CHECKED_IN_LATE = "checked_in_late", _("Checked in after the missed deadline")
        RESOLVED = "resolved", _("Resolved")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    emergency = models.ForeignKey(Emergency, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # Structured facts only (step index, channel kind, recipient id, source); never identities.
    data = models.JSONField(default=dict, blank=True)

    objects: ClassVar[models.Manager[EmergencyEvent]]

    class Meta:
        ordering = ("at",)
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["emergency", "at"], name="alerts_event_emergency_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.emergency_id}"


class Alert(models.Model):
    """One raw signal (call, SOS, duress, missed check-in, lockout). It opens an emergency or
    joins the one already open for the same people or cases."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    emergency = models.ForeignKey(Emergency, on_delete=models.CASCADE, related_name="alerts")
    source = models.CharField(max_length=20, choices=EmergencySource.choices)
    person = models.ForeignKey(
        "people.ProtectedPerson", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    raised_at = models.DateTimeField()
    # A missed check-in detected after the worker was down: fired at once, marked late.
    late = models.BooleanField(default=False)
    # Makes raising the same alert twice (two workers, a retried request) a no-op.
    dedupe_key = models.CharField(max_length=200, unique=True)
    # The same person's SOS pressed again soon after, counted here instead of raised again
    # (alerts.services.sos): the emergency shows how often SOS was pressed.
    repeats = models.PositiveIntegerField(default=0)
    last_repeat_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager[Alert]]

    def __str__(self) -> str:
        return f"{self.source} alert"
