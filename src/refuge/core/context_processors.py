"""Template context shared by every staff page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from refuge.core import clock
from refuge.core.models import WorkerHeartbeat

WORKER_STALE_AFTER = dt.timedelta(seconds=30)


def refuge(request: HttpRequest) -> dict[str, Any]:
    context: dict[str, Any] = {"demo_mode": settings.DEMO_MODE}
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        latest = WorkerHeartbeat.objects.order_by("-last_tick_at").first()
        context["worker_down"] = latest is None or (
            clock.now() - latest.last_tick_at > WORKER_STALE_AFTER
        )
    return context
