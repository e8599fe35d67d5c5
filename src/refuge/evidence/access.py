"""Need-to-know for evidence files: they follow their case.

Whoever may see a case may list its evidence, read the metadata and download the files; whoever
may add to a case's timeline (the LOG action: the team, and operators on emergency cases) may
upload to it. The case rule itself lives in refuge.cases.access; this module only points at it,
so the two can never drift apart. Everyone else gets 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from refuge.cases.models import Case
from refuge.evidence.models import EvidenceFile
from refuge.security import access


def _scope_evidence(
    actor: Any, queryset: QuerySet[EvidenceFile], action: str
) -> QuerySet[EvidenceFile]:
    cases = access.scope(actor, Case.objects.all(), action=action)
    return queryset.filter(case__in=cases.values("pk"))


def can_reveal_evidence(actor: Any, evidence: EvidenceFile) -> bool:
    """The original file name and description are case narrative (T3): readable by those who
    may read the case's narrative."""
    return access.can_reveal(actor, evidence.case)


def register_rules() -> None:
    access.register(EvidenceFile, _scope_evidence)
    access.register_reveal(EvidenceFile, can_reveal_evidence)
