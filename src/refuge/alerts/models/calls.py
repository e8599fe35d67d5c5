"""Calls to the emergency line logged without paging anyone."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from refuge.alerts.models.emergencies import Emergency
from refuge.core.models import UUIDModel
from refuge.security.fields import DataKeyField, EncryptedTextField
from refuge.security.models import DataKey


class CallRecord(UUIDModel):
    """A call the operator wrote down without opening an emergency: a silent or probing call, a
    caller who would not say who they are. Nobody is paged. It can be turned into an emergency
    later (which pages as usual and keeps the call's time and text); `emergency` then says which.

    What was heard and the location hint are encrypted under keys of their own, like an
    emergency's; everything else is T0 (codes, pseudonyms, times)."""

    code = models.CharField(_("code"), max_length=12, unique=True)
    received_at = models.DateTimeField(_("call received at"))
    logged_at = models.DateTimeField(_("logged at"))
    logged_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("logged by")
    )
    # A protected person who called, or nobody known (an unknown caller).
    caller = models.ForeignKey(
        "people.ProtectedPerson", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    people = models.ManyToManyField(
        "people.ProtectedPerson", related_name="call_records", blank=True
    )
    data_key = DataKeyField()
    location_key = DataKeyField(purpose=DataKey.Purpose.LOCATION)
    heard = EncryptedTextField(_("what was heard"))
    location_hint = EncryptedTextField(_("location hint"), key_field="location_key")
    # Set once, when the call is turned into an emergency (or joins the one already open).
    emergency = models.ForeignKey(
        Emergency, on_delete=models.PROTECT, related_name="call_records", null=True, blank=True
    )
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    objects: ClassVar[models.Manager[CallRecord]]

    class Meta:
        ordering = ("-received_at",)
        verbose_name = _("logged call")
        verbose_name_plural = _("logged calls")
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["received_at"], name="alerts_callrecord_received"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def is_escalated(self) -> bool:
        return self.emergency_id is not None
