"""The evidence section of the case page, and labels for custody events.

The case page belongs to the cases app, which may not import evidence (a lower layer never knows
a higher one); it includes evidence/_case_evidence.html, which loads these tags.
"""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.utils.translation import gettext_lazy as _

from refuge.accounts.models import User
from refuge.cases.models import Case
from refuge.evidence import presentation, selectors, services, views
from refuge.security.models import AuditEntry

register = template.Library()

CUSTODY_LABELS = {
    services.INTAKE: _("Received (intake)"),
    services.VIEW: _("Viewed"),
    services.DOWNLOAD: _("Downloaded"),
    services.VERIFIED: _("Integrity verified"),
    services.INTEGRITY_FAILED: _("Integrity check FAILED"),
}
FAILURE_LABELS = {
    "missing": _("the stored file is missing"),
    "does_not_decrypt": _("the stored file does not decrypt (altered or damaged)"),
    "size_mismatch": _("the size differs from the recorded size"),
    "hash_mismatch": _("the SHA-256 differs from the recorded one"),
    "changed_while_sent": _("the stored file changed while it was being sent"),
}


@register.simple_tag(takes_context=True)
def case_evidence(context: template.Context, case: Case) -> dict[str, Any]:
    request = context.get("request")
    actor = getattr(request, "user", None)
    if not isinstance(actor, User):
        return {"rows": [], "can_upload": False}
    files = list(selectors.evidence_list(actor=actor, case=case))
    # Uploading needs what adding to the timeline needs (access.LOG on the case); the case page
    # has already worked that out as `can_log`.
    can_log = context.get("can_log")
    can_upload = (
        can_log if isinstance(can_log, bool) else selectors.can_upload(actor=actor, case=case)
    )
    return {
        "rows": presentation.rows(actor, files),
        "can_upload": can_upload,
        "form": views.upload_form(actor, case, case_files=files) if can_upload else None,
    }


@register.filter
def custody_label(entry: AuditEntry) -> str:
    return str(CUSTODY_LABELS.get(entry.action, entry.action))


@register.filter
def custody_detail(entry: AuditEntry) -> str:
    """The part of an entry's detail worth showing: the purpose or the failure."""
    try:
        detail = json.loads(entry.detail)
    except ValueError:
        return ""
    purpose = detail.get("purpose")
    if purpose:
        return str(services.PURPOSES.get(purpose, purpose))
    reason = detail.get("reason")
    if reason:
        return str(FAILURE_LABELS.get(reason, reason))
    return ""
