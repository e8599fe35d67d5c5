"""Requests for unredacted bulk exports, under the two-person rule (security design b.6).

A request names its scope (one team's cases, or a set of cases) and a purpose; a different
coordinator approves or rejects it; the requester then downloads it once. No export file is ever
stored: the file is generated while it is downloaded. The purpose and the decision's reason are
free text that may name people, so they are encrypted like case notes (T3).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from refuge.core.models import UUIDModel
from refuge.security.fields import DataKeyField, EncryptedTextField


class ExportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved, ready to download")
    REJECTED = "rejected", _("Rejected")
    DOWNLOADED = "downloaded", _("Downloaded")
    EXPIRED = "expired", _("Expired")


class ExportScope(models.TextChoices):
    TEAM = "team", _("A team's cases")
    CASES = "cases", _("Chosen cases")


class ExportRequest(UUIDModel):
    requested_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested at"))
    scope = models.CharField(_("scope"), max_length=10, choices=ExportScope.choices)
    team = models.ForeignKey(
        "accounts.Team",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("team"),
    )
    cases = models.ManyToManyField(
        "cases.Case", related_name="+", blank=True, verbose_name=_("cases")
    )
    status = models.CharField(
        _("status"), max_length=12, choices=ExportStatus.choices, default=ExportStatus.PENDING
    )
    # While pending: the approval deadline. Once approved: the end of the download window.
    expires_at = models.DateTimeField(_("expires at"))
    decided_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    downloaded_at = models.DateTimeField(_("downloaded at"), null=True, blank=True)

    data_key = DataKeyField()
    purpose = EncryptedTextField(_("purpose"))
    decision_reason = EncryptedTextField(_("reason"))

    objects: ClassVar[models.Manager[ExportRequest]]

    class Meta:
        ordering = ("-requested_at",)
        verbose_name = _("export request")
        verbose_name_plural = _("export requests")
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["status", "expires_at"], name="exports_request_status_exp"),
            models.Index(fields=["requested_by", "-requested_at"], name="exports_request_mine"),
        ]
        constraints: ClassVar[list[Any]] = [
            # The two-person rule, once more in the database: nobody decides their own request.
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("requested_by")),
                name="exports_request_second_person",
            ),
            models.CheckConstraint(
                condition=Q(scope="cases", team__isnull=True) | Q(scope="team", team__isnull=False),
                name="exports_request_scope_team",
            ),
        ]

    def __str__(self) -> str:
        return f"export request {self.pk}"
