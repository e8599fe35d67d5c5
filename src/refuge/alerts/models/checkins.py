"""Check-in schedules, personal links, sender bindings, inbound message ids, check-ins, and the
short-lived per-address windows that limit floods on the protected people's pages."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from refuge.alerts.deadlines import DAILY_WINDOW_MINUTES, DAY_MINUTES, MIN_WINDOW_MINUTES
from refuge.core.models import UUIDModel


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
    # Check-ins count only from this long before the deadline (alerts.deadlines): an early one
    # is recorded but leaves the deadline pending. At most the interval (a day for daily ones).
    window_minutes = models.PositiveIntegerField(
        _("check-ins count from (minutes before the deadline)"), default=DAILY_WINDOW_MINUTES
    )
    paused = models.BooleanField(_("paused"), default=False)
    paused_until = models.DateTimeField(null=True, blank=True)
    # The deadline the person must check in by; missed when next_deadline + grace passes.
    next_deadline = models.DateTimeField(null=True, blank=True)
    # next_deadline + grace, indexed: the worker's query touches only what is due.
    alert_at = models.DateTimeField(null=True, blank=True)
    last_checkin_at = models.DateTimeField(null=True, blank=True)
    # The deadline last missed, until the next check-in with a right PIN: that check-in is then
    # shown on the timeline of the emergency the miss raised (alerts.services.checkins).
    missed_deadline = models.DateTimeField(null=True, blank=True)
    # Keyed hashes (the key is outside the database: see alerts.pins). Empty until set.
    pin_hash = models.CharField(max_length=128, blank=True)
    duress_pin_hash = models.CharField(max_length=128, blank=True)
    # Wrong PINs in a row, and the lockout they led to (alerts.services.checkin_lockout).
    failed_attempts = models.PositiveIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager[CheckinSchedule]]

    class Meta:
        indexes: ClassVar[list[Any]] = [
            # Partial indexes: the worker's queries read only what is due, never every schedule
            # (an index on (paused, alert_at) does not serve SQLite's "NOT paused").
            models.Index(
                fields=["alert_at"], condition=models.Q(paused=False), name="alerts_schedule_due"
            ),
            models.Index(
                fields=["paused_until"],
                condition=models.Q(paused=True),
                name="alerts_schedule_pause_due",
            ),
        ]
        constraints: ClassVar[list[Any]] = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="interval", interval_hours__gte=1)
                    | models.Q(kind="daily", daily_time__isnull=False)
                ),
                name="alerts_schedule_kind_has_its_value",
            ),
            models.CheckConstraint(
                condition=models.Q(window_minutes__gte=MIN_WINDOW_MINUTES)
                & (
                    models.Q(kind="interval", window_minutes__lte=models.F("interval_hours") * 60)
                    | models.Q(kind="daily", window_minutes__lte=DAY_MINUTES)
                ),
                name="alerts_schedule_window_within_period",
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
    """Messages already accepted from a gateway or bot, by a keyed hash of their id
    (alerts.pins.inbound_message_hash): a replayed message is refused, and the table names no
    chat or number (a Telegram message id contains its chat's)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=20)
    message_hash = models.CharField(max_length=128)
    received_at = models.DateTimeField()

    objects: ClassVar[models.Manager[InboundMessage]]

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["source", "message_hash"], name="alerts_inbound_once"),
        ]
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["received_at"], name="alerts_inbound_received"),
        ]

    def __str__(self) -> str:
        return f"{self.source} message"


class Checkin(models.Model):
    """One check-in with a right PIN (normal or duress): it counted, or it was early; or any PIN
    entered while check-ins were locked, all refused alike. Raw history is short-lived (see the
    retention job)."""

    class Channel(models.TextChoices):
        WEB = "web", _("Web page")
        WEBHOOK = "webhook", _("SMS gateway")
        TELEGRAM = "telegram", _("Telegram")

    class Outcome(models.TextChoices):
        COUNTED = "counted", _("counted")
        EARLY = "early", _("early: before the window, did not count")
        LOCKED = "locked", _("refused: check-ins were locked")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    schedule = models.ForeignKey(CheckinSchedule, on_delete=models.CASCADE, related_name="checkins")
    at = models.DateTimeField()
    channel = models.CharField(max_length=10, choices=Channel.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.COUNTED)
    under_duress = models.BooleanField(default=False)
    # Set by the worker once a duress check-in's alarm is raised (never for a normal one). The
    # worker's tick finds the duress check-ins still to raise through a partial index that is
    # empty almost always, so a check-in queues nothing: the normal and the duress PIN write the
    # same one row (alerts.services.checkins).
    alarm_raised_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager[Checkin]]

    class Meta:
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["schedule", "at"], name="alerts_checkin_schedule_at"),
            models.Index(
                fields=["at"],
                condition=models.Q(under_duress=True, alarm_raised_at__isnull=True),
                name="alerts_checkin_alarm_due",
            ),
        ]

    def __str__(self) -> str:
        return f"check-in at {self.at}"


class SourceWindow(models.Model):
    """What one client address did on the protected people's pages in one short window: how many
    SOS from different links and how many links that open nothing. The address is never stored:
    `source` is a keyed hash under a key derived for this window alone (alerts.pins.source_hash),
    and the rows are deleted as soon as their window has passed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    sos = models.PositiveIntegerField(default=0)
    bad_links = models.PositiveIntegerField(default=0)
    # Where SOS beyond the limit from this address go: one emergency, paged once.
    flood_emergency = models.ForeignKey(
        "alerts.Emergency", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects: ClassVar[models.Manager[SourceWindow]]

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["source", "window_start"], name="alerts_source_once"),
        ]
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["window_start"], name="alerts_source_window_start"),
        ]

    def __str__(self) -> str:
        return f"source window at {self.window_start}"
