"""Reads of evidence files and their custody logs, always scoped by need-to-know."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from refuge.cases.models import Case
from refuge.evidence.models import EvidenceFile, EvidenceKind
from refuge.security import access
from refuge.security.models import AuditEntry

CUSTODY_PREFIX = "refuge.evidence.custody."
OBJECT_TYPE = "evidence.evidencefile"


def evidence_list(*, actor: Any, case: Case) -> QuerySet[EvidenceFile]:
    return (
        access.scope(actor, EvidenceFile.objects.filter(case=case))
        .select_related("uploaded_by", "data_key", "case")
        .order_by("-created_at")
    )


def evidentiary_copies(*, actor: Any, case: Case) -> QuerySet[EvidenceFile]:
    """What a working copy may be derived from."""
    return evidence_list(actor=actor, case=case).filter(kind=EvidenceKind.EVIDENTIARY)


def evidence_get(*, actor: Any, evidence_id: Any, action: str = access.VIEW) -> EvidenceFile:
    return access.get_or_404(
        actor,
        EvidenceFile.objects.select_related(
            "case", "case__team", "uploaded_by", "data_key", "derived_from"
        ),
        action=action,
        pk=evidence_id,
    )


def evidence_on_case(*, actor: Any, case: Case, evidence_id: Any) -> EvidenceFile:
    """A file of this case (a working copy's origin, named in a form or request)."""
    return access.get_or_404(actor, EvidenceFile.objects.filter(case=case), pk=evidence_id)


def case_for_upload(*, actor: Any, case_id: Any) -> Case:
    """The case to upload to: whoever may add to its timeline (access.LOG)."""
    return access.get_or_404(
        actor, Case.objects.select_related("team"), action=access.LOG, pk=case_id
    )


def case_for_listing(*, actor: Any, case_id: Any) -> Case:
    return access.get_or_404(actor, Case.objects.select_related("team"), pk=case_id)


def can_upload(*, actor: Any, case: Case) -> bool:
    return access.scope(actor, Case.objects.filter(pk=case.pk), action=access.LOG).exists()


def can_reveal(*, actor: Any, evidence: EvidenceFile) -> bool:
    return access.can_reveal(actor, evidence)


def working_copies(*, actor: Any, evidence: EvidenceFile) -> QuerySet[EvidenceFile]:
    return access.scope(actor, EvidenceFile.objects.filter(derived_from=evidence)).select_related(
        "uploaded_by"
    )


def custody_log(*, evidence: EvidenceFile) -> QuerySet[AuditEntry]:
    """The file's custody events, oldest first. Call only with a file fetched through
    evidence_get: the log is visible to exactly those who may see the file."""
    return AuditEntry.objects.filter(
        object_type=OBJECT_TYPE, object_id=str(evidence.pk), action__startswith=CUSTODY_PREFIX
    ).order_by("seq")


def evidence_all() -> QuerySet[EvidenceFile]:
    """Every file, for `refuge evidence verify --all` (an operator's command, not a person's
    view: the command itself is the access decision)."""
    return EvidenceFile.objects.select_related("data_key").order_by("created_at")


def evidence_by_id(evidence_id: Any) -> EvidenceFile | None:
    return EvidenceFile.objects.select_related("data_key").filter(pk=evidence_id).first()
