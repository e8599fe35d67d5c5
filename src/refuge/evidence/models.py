"""Evidence files and their working copies.

The file's bytes live encrypted on disk under EVIDENCE_DIR as `<storage_name>.bin` (never the
user's file name); this row holds what is needed to find, decrypt and check them. The evidentiary
copy is never modified: a redacted or transcoded version is a new row of kind WORKING that points
at it through `derived_from`, with its own hash and its own custody log.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from refuge.core.models import UUIDModel
from refuge.security.fields import DataKeyField, EncryptedTextField


class EvidenceKind(models.TextChoices):
    EVIDENTIARY = "evidentiary", _("Evidentiary copy")
    WORKING = "working", _("Working copy")


class EvidenceFile(UUIDModel):
    case = models.ForeignKey(
        "cases.Case", on_delete=models.PROTECT, related_name="evidence", verbose_name=_("case")
    )
    kind = models.CharField(
        _("kind"), max_length=20, choices=EvidenceKind.choices, default=EvidenceKind.EVIDENTIARY
    )
    derived_from = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        related_name="working_copies",
        null=True,
        blank=True,
        verbose_name=_("working copy of"),
    )
    # Detected from the first bytes (refuge.evidence.media_types), never taken from the client.
    media_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)  # of the original bytes, hex
    storage_name = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    uploaded_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    data_key = DataKeyField()
    original_name = EncryptedTextField(_("original file name"))
    description = EncryptedTextField(_("description"))

    objects: ClassVar[models.Manager[EvidenceFile]]

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("evidence file")
        verbose_name_plural = _("evidence files")
        constraints: ClassVar[list[Any]] = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind=EvidenceKind.EVIDENTIARY, derived_from__isnull=True)
                    | models.Q(kind=EvidenceKind.WORKING, derived_from__isnull=False)
                ),
                name="evidence_working_copy_has_origin",
            ),
        ]
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["case", "-created_at"], name="evidence_case_created"),
        ]

    def __str__(self) -> str:
        return f"evidence {str(self.pk)[:8]} on {self.case_id}"

    @property
    def short_id(self) -> str:
        return str(self.pk)[:8]

    @property
    def is_working_copy(self) -> bool:
        return self.kind == EvidenceKind.WORKING
