"""Telling coordinators when the instance became sealed without anyone sealing it.

Seal now and the unseal raise their notices where they happen (security.services_seal). But keyd
also loses the keys when it stops: a crash, a restart, the host rebooted or seized. The worker
asks keyd on every tick (a local socket call); when keyd is sealed (or unreachable, which is the
same) while the newest seal notice still says "unsealed", it raises "Refuge was sealed" with no
account, which goes out on the coordinators' channels like any notice. Before the first unseal
there is nothing to compare with, so nothing is raised.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction

from refuge.accounts import notices
from refuge.accounts.models import SecurityNotice
from refuge.security import audit
from refuge.security.keyd.client import keyd_client

TICK = "accounts.seal_watch"
_SEAL_KINDS = (SecurityNotice.Kind.SEALED, SecurityNotice.Kind.UNSEALED)


def seal_watch_tick(now: dt.datetime | None = None) -> int:
    """Returns 1 when it raised a notice, else 0."""
    del now
    if settings.KEY_MODE != "sealed":
        return 0
    if not keyd_client().status().sealed:
        return 0
    with transaction.atomic():
        newest = (
            SecurityNotice.objects.filter(kind__in=_SEAL_KINDS)
            .select_for_update()
            .order_by("-created_at")
            .first()
        )
        if newest is None or newest.kind != SecurityNotice.Kind.UNSEALED:
            return 0
        audit.record("refuge.accounts.seal.lost", actor=None, detail={"reason": "keyd_sealed"})
        notices.notice_raise(kind=SecurityNotice.Kind.SEALED, user=None)
    return 1
