"""The emergency line: emergencies and their timed events, check-ins, escalation, notifications.

Everything the alerting engine needs is T0 (pseudonymous, readable while sealed): pseudonyms,
deadlines, policies, staff channels. What was heard on a call and where it happened are T3/T2
fields under their own keys, and never go into a notification.
"""

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
        CANCEL_REQUESTED = "cancel_requested", _("Cancelled by the person")
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

    objects: ClassVar[models.Manager[Alert]]

    def __str__(self) -> str:
        return f"{self.source} alert"


class CheckinSchedule(UUIDModel):
    """When a protected person must check in. The next deadline lives in the database, so
    nothing is lost while workers are down."""

    class Kind(models.TextChoices):
        INTERVAL = "interval", _("Every N hours")
        DAILY = "daily", _("Daily at a time")

    person = models.OneToOneField(
        "people.ProtectedPerson", on_delete=models.CASCADE, related_name="checkin_schedule"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    interval_hours = models.PositiveIntegerField(_("every (hours)"), null=True, blank=True)
    daily_time = models.TimeField(_("daily at"), null=True, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Moscow")
    grace_minutes = models.PositiveIntegerField(_("grace period (minutes)"), default=120)
    paused = models.BooleanField(_("paused"), default=False)
    paused_until = models.DateTimeField(null=True, blank=True)
    # The deadline the person must check in by; missed when next_deadline + grace passes.
    next_deadline = models.DateTimeField(null=True, blank=True)
    # next_deadline + grace, indexed: the worker's query touches only what is due.
    alert_at = models.DateTimeField(null=True, blank=True)
    last_checkin_at = models.DateTimeField(null=True, blank=True)
    # Keyed hashes (the key is outside the database: see alerts.pins). Empty until set.
    pin_hash = models.CharField(max_length=128, blank=True)
    duress_pin_hash = models.CharField(max_length=128, blank=True)
    failed_attempts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager[CheckinSchedule]]

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["paused", "alert_at"], name="alerts_schedule_due"),
        ]
        constraints: ClassVar[list[Any]] = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="interval", interval_hours__gte=1)
                    | models.Q(kind="daily", daily_time__isnull=False)
                ),
                name="alerts_schedule_kind_has_its_value",
            ),
        ]

    def __str__(self) -> str:
        return f"check-in schedule of {self.person_id}"


class CheckinLink(UUIDModel):
    """A protected person's secret personal link to the SOS and check-in page. Only a digest of
    the token is stored; re-issuing revokes the previous link."""

    person = models.ForeignKey(
        "people.ProtectedPerson", on_delete=models.CASCADE, related_name="checkin_links"
    )
    token_digest = models.CharField(max_length=64, unique=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager[CheckinLink]]

    def __str__(self) -> str:
        return f"check-in link {self.pk}"


class ChannelBinding(UUIDModel):
    """Binds an outside sender (an SMS number, a Telegram chat) to a protected person's check-ins.
    Only a keyed hash of the normalised sender is stored (see alerts.pins), so the table does not
    list anyone's phone number or account."""

    class Kind(models.TextChoices):
        SMS = "sms", _("SMS")
        TELEGRAM = "telegram", _("Telegram")

    person = models.ForeignKey(
        "people.ProtectedPerson", on_delete=models.CASCADE, related_name="checkin_bindings"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    sender_hash = models.CharField(max_length=128)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager[ChannelBinding]]

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(
                fields=["kind", "sender_hash"],
                condition=models.Q(revoked_at__isnull=True),
                name="alerts_binding_one_live_per_sender",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} binding {self.pk}"


class InboundMessage(models.Model):
    """Ids of messages already accepted from a gateway or bot: a replayed message is refused."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=20)
    message_id = models.CharField(max_length=200)
    received_at = models.DateTimeField()

    objects: ClassVar[models.Manager[InboundMessage]]

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["source", "message_id"], name="alerts_inbound_once"),
        ]
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["received_at"], name="alerts_inbound_received"),
        ]

    def __str__(self) -> str:
        return f"{self.source} message"


class Checkin(models.Model):
    """One accepted check-in. Raw history is short-lived (see the retention job)."""

    class Channel(models.TextChoices):
        WEB = "web", _("Web page")
        WEBHOOK = "webhook", _("SMS gateway")
        TELEGRAM = "telegram", _("Telegram")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    schedule = models.ForeignKey(CheckinSchedule, on_delete=models.CASCADE, related_name="checkins")
    at = models.DateTimeField()
    channel = models.CharField(max_length=10, choices=Channel.choices)
    under_duress = models.BooleanField(default=False)

    objects: ClassVar[models.Manager[Checkin]]

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["schedule", "at"], name="alerts_checkin_schedule_at"),
        ]

    def __str__(self) -> str:
        return f"check-in at {self.at}"


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
        EMAIL = "email", _("Email")
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
