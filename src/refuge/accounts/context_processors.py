"""Template context for every page: the coordinators' count of open security notices."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from refuge.accounts import notices, stepup
from refuge.accounts.models import Role


def security(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or getattr(user, "role", "") != Role.COORDINATOR:
        return {}
    if not stepup.is_verified(user):
        return {}
    return {"security_notice_count": notices.notice_open_count(actor=user)}
