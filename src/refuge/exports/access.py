"""Who may see an export request: its requester, and every coordinator (they approve).

Everyone else gets nothing, so refuge.security.access.scope() turns another person's request
into a 404. Downloading is narrower still (the requester only); the services check that.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from refuge.accounts.models import Role
from refuge.exports.models import ExportRequest
from refuge.security import access


def _scope_requests(
    actor: Any, queryset: QuerySet[ExportRequest], action: str
) -> QuerySet[ExportRequest]:
    del action  # seeing and acting follow the same rule; the services check the role
    if actor.role == Role.COORDINATOR:
        return queryset
    if actor.role == Role.ADMIN:
        return queryset.none()
    return queryset.filter(requested_by=actor)


def register_rules() -> None:
    access.register(ExportRequest, _scope_requests)
