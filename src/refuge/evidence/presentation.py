"""How an evidence file is shown and named, for the pages, the API and downloads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.http import content_disposition_header

from refuge.evidence import media_types, selectors
from refuge.evidence.models import EvidenceFile


@dataclass(frozen=True)
class EvidenceRow:
    evidence: EvidenceFile
    # Decrypted only for those who may read the case's narrative; None for everyone else.
    original_name: str | None
    description: str | None


def row(actor: Any, evidence: EvidenceFile) -> EvidenceRow:
    if selectors.can_reveal(actor=actor, evidence=evidence):
        return EvidenceRow(evidence, evidence.original_name, evidence.description)
    return EvidenceRow(evidence, None, None)


def rows(actor: Any, files: Any) -> list[EvidenceRow]:
    """Rows of files of one or more cases, asking the reveal rule once per case."""
    revealed: dict[Any, bool] = {}
    out: list[EvidenceRow] = []
    for evidence in files:
        if evidence.case_id not in revealed:
            revealed[evidence.case_id] = selectors.can_reveal(actor=actor, evidence=evidence)
        if revealed[evidence.case_id]:
            out.append(EvidenceRow(evidence, evidence.original_name, evidence.description))
        else:
            out.append(EvidenceRow(evidence, None, None))
    return out


def pseudonymous_name(evidence: EvidenceFile) -> str:
    return f"evidence-{evidence.short_id}.{media_types.extension(evidence.media_type)}"


def download_name(actor: Any, evidence: EvidenceFile) -> str:
    shown = row(actor, evidence).original_name
    return shown or pseudonymous_name(evidence)


def attachment_header(filename: str) -> str:
    """Content-Disposition: attachment, with an RFC 5987 filename* for non-ASCII names."""
    header = content_disposition_header(as_attachment=True, filename=filename)
    return header or "attachment"


def origin_label(evidence: EvidenceFile) -> str:
    return f"{evidence.short_id} · {evidence.media_type} · {evidence.sha256[:12]}…"
