"""Template context for every staff page: the open emergencies the signed-in user may act on
(the navigation badge and the dashboard card). Lazy, so a page that does not show them (an
htmx fragment, a page without the navigation) runs no query; one query when it does."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from refuge.alerts import selectors_emergencies as selectors


def open_emergencies(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if not selectors.sees_emergencies(actor=user):
        return {}
    return {
        "open_emergencies": SimpleLazyObject(lambda: selectors.open_emergencies(actor=user)),
    }
