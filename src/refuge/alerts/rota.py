"""Who is on call at a given moment: the rota's rotation, unless an override covers the moment."""

from __future__ import annotations

import datetime as dt
from typing import Any

from refuge.alerts.models import OnCallRota, RotaMember, RotaOverride


def on_call(rota: OnCallRota, at: dt.datetime) -> Any:
    """The staff member on call on `rota` at `at`, or None when the rota has nobody."""
    override = (
        RotaOverride.objects.filter(rota=rota, starts_at__lte=at, ends_at__gt=at)
        .select_related("user")
        .order_by("-starts_at")
        .first()
    )
    if override is not None and override.user.is_active:
        return override.user
    members = [
        m.user
        for m in RotaMember.objects.filter(rota=rota).select_related("user")
        if m.user.is_active
    ]
    if not members:
        return None
    shift = dt.timedelta(days=rota.shift_days)
    elapsed = at - rota.starts_on
    index = (elapsed // shift) % len(members) if elapsed >= dt.timedelta(0) else 0
    return members[int(index)]
