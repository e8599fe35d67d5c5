"""Cases, their timeline and tasks."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from refuge.core.models import UUIDModel
from refuge.people.models import RiskLevel
from refuge.security.fields import DataKeyField, EncryptedTextField


class CaseType(models.TextChoices):
    EMERGENCY = "emergency", _("Emergency")
    EVACUATION = "evacuation", _("Evacuation & relocation")
    LEGAL = "legal", _("Legal")
    DOCUMENTATION = "documentation", _("Documentation only")


class CaseStatus(models.TextChoices):
    INTAKE = "intake", _("Intake")
    VERIFICATION = "verification", _("Verification")
    ACTIVE = "active", pgettext_lazy("case status", "Active")
    CLOSED = "closed", _("Closed")
    ARCHIVED = "archived", _("Archived")


# The workflow: only these transitions are allowed.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    CaseStatus.INTAKE: (CaseStatus.VERIFICATION, CaseStatus.CLOSED),
    CaseStatus.VERIFICATION: (CaseStatus.ACTIVE, CaseStatus.CLOSED),
    CaseStatus.ACTIVE: (CaseStatus.CLOSED,),
    CaseStatus.CLOSED: (CaseStatus.ACTIVE, CaseStatus.ARCHIVED),
    CaseStatus.ARCHIVED: (),
}


class Case(UUIDModel):
    code = models.CharField(_("code"), max_length=12, unique=True)
    case_type = models.CharField(_("type"), max_length=20, choices=CaseType.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=CaseStatus.choices, default=CaseStatus.INTAKE
    )
    risk_level = models.CharField(
        _("risk level"), max_length=10, choices=RiskLevel.choices, default=RiskLevel.HIGH
    )
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.PROTECT, related_name="cases", verbose_name=_("team")
    )
    people = models.ManyToManyField(
        "people.ProtectedPerson", related_name="cases", verbose_name=_("people"), blank=True
    )
    opened_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    data_key = DataKeyField()
    summary = EncryptedTextField(_("summary"))

    objects: ClassVar[models.Manager[Case]]

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["status", "case_type"], name="cases_case_status_type"),
            models.Index(fields=["team", "-created_at"], name="cases_case_team_created"),
            # A team's case ids from the index alone: the need-to-know subquery
            # "case IN (cases of my teams)" that scopes tasks, timelines and people.
            models.Index(fields=["team", "id"], name="cases_case_team_ids"),
        ]

    def __str__(self) -> str:
        return self.code

    def allowed_transitions(self) -> tuple[str, ...]:
        return TRANSITIONS[self.status]


class TimelineEntry(UUIDModel):
    class Kind(models.TextChoices):
        OPENED = "opened", _("Case opened")
        NOTE = "note", _("Note")
        CALL = "call", _("Call")
        STATUS = "status", _("Status change")
        ASSIGNMENT = "assignment", _("Assignment")
        TASK = "task", _("Task")
        PEOPLE = "people", _("People")
        UPDATE = "update", _("Update")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    author = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    occurred_at = models.DateTimeField(_("time"))
    # Structured facts (status from/to, task id, assignee id); never identities.
    data = models.JSONField(default=dict, blank=True)

    data_key = DataKeyField()
    text = EncryptedTextField(_("text"))

    objects: ClassVar[models.Manager[TimelineEntry]]

    class Meta:
        ordering = ("-occurred_at", "-created_at")
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["case", "-occurred_at"], name="cases_timeline_case_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.case}"


class Task(UUIDModel):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="tasks")
    due_date = models.DateField(_("due date"), null=True, blank=True)
    assignee = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        related_name="assigned_tasks",
        null=True,
        blank=True,
        verbose_name=_("assignee"),
    )
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    done_at = models.DateTimeField(null=True, blank=True)

    data_key = DataKeyField()
    title = EncryptedTextField(_("task"))

    objects: ClassVar[models.Manager[Task]]

    class Meta:
        ordering = ("done_at", "due_date", "created_at")
        indexes: ClassVar[list[Any]] = [
            models.Index(
                fields=["assignee", "done_at", "due_date"], name="cases_task_assignee_due"
            ),
            # The open tasks of given cases and who has them, from the index alone (the case
            # list's assignee filter for a team member).
            models.Index(fields=["case", "done_at", "assignee"], name="cases_task_case_open"),
        ]

    def __str__(self) -> str:
        return f"task on {self.case}"
