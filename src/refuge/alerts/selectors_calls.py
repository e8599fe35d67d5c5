"""Reads of the calls logged without paging (alerts.models.CallRecord).

Every read goes through refuge.security.access.scope (the rule is in alerts.access: the line
sees every logged call, anyone else who may log one sees their own); a call the actor may not
see raises NotFoundError, like one that does not exist. What was heard is decrypted only by
`call_text`, which audits the read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from refuge.alerts.models import CallRecord, Emergency
from refuge.core.errors import NotFoundError
from refuge.security import access, audit


def call_list(*, actor: Any, escalated: bool | None = None) -> QuerySet[CallRecord]:
    """Logged calls `actor` may see, the latest call first; `escalated` filters on whether
    they were turned into an emergency."""
    calls = access.scope(actor, CallRecord.objects.all())
    if escalated is not None:
        calls = calls.filter(emergency__isnull=not escalated)
    return (
        calls.select_related("logged_by", "caller", "emergency", "escalated_by")
        .prefetch_related("people")
        .order_by("-received_at", "code")
    )


def call_get(*, actor: Any, call_id: Any, action: str = access.VIEW) -> CallRecord:
    return access.get_or_404(
        actor,
        CallRecord.objects.select_related("logged_by", "caller", "emergency", "escalated_by"),
        action=action,
        pk=call_id,
    )


@dataclass(frozen=True)
class CallText:
    heard: str
    location_hint: str


def call_text(*, actor: Any, call: CallRecord) -> CallText:
    """Decrypt what was heard and the location hint; the read is audited. SealedError while
    sealed; NotFoundError for anyone who may not see the call."""
    if not access.scope(actor, CallRecord.objects.filter(pk=call.pk)).exists():
        raise NotFoundError
    text = CallText(heard=call.heard or "", location_hint=call.location_hint or "")
    with transaction.atomic():
        audit.record("refuge.alerts.call.viewed", actor=actor, obj=call, detail={})
    return text


@dataclass(frozen=True)
class LinkedCall:
    id: uuid.UUID
    code: str
    received_at: Any
    visible: bool  # may the actor open the logged call?


def emergency_calls(*, actor: Any, emergency: Emergency) -> list[LinkedCall]:
    """The logged calls that were turned into `emergency` (fetched through access): every code,
    and which of them the actor may open."""
    linked = list(
        CallRecord.objects.filter(emergency=emergency)
        .order_by("received_at")
        .only("id", "code", "received_at")
    )
    if not linked:
        return []
    visible = set(
        access.scope(actor, CallRecord.objects.filter(emergency=emergency)).values_list(
            "pk", flat=True
        )
    )
    return [LinkedCall(c.pk, c.code, c.received_at, c.pk in visible) for c in linked]
