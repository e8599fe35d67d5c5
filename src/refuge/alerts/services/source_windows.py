"""Per-address limits on the protected people's pages, shared by every web server process (the
database holds the counters; gunicorn runs several processes, so memory would not do).

Each client address gets a row per WINDOW (10 minutes) with two counters: SOS from links of
different people (services.sos counts only SOS that would page; a person's repeated SOS is
counted on their own alert instead) and links that open nothing. The address itself is never
stored: the row's `source` is a keyed hash under a key derived for that window alone
(alerts.pins.source_hash), and rows are deleted as soon as their window has passed (here, when a
new window's row is written, and by the worker's tick). An IPv6 address counts by its /64, which
one client can fill with addresses at will.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from refuge.alerts import pins
from refuge.alerts.models import SourceWindow
from refuge.core import clock

WINDOW = dt.timedelta(minutes=10)
# SOS from different links of one address that page on their own; more join one flood emergency.
SOS_PER_SOURCE = 3
# Links that open nothing, from one address, before it is answered 429 instead of 404.
BAD_LINKS_PER_SOURCE = 20
IPV6_PREFIX = 64


def window_start(now: dt.datetime) -> dt.datetime:
    seconds = int(WINDOW.total_seconds())
    return dt.datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, tz=dt.UTC)


def window_left(now: dt.datetime) -> int:
    """Whole seconds until the current window ends (for Retry-After)."""
    return max(1, int((window_start(now) + WINDOW - now).total_seconds()))


def _block(address: str) -> str:
    """The address as limited: an IPv4 address, or an IPv6 address's /64; "" if unreadable."""
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return ""
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)


def count(address: str, field: str, now: dt.datetime | None = None) -> SourceWindow | None:
    """Add one to `field` ("sos" or "bad_links") of the address's current window; returns the
    row, locked for update until the caller's transaction ends (None: no readable address)."""
    block = _block(address)
    if not block:
        return None
    now = now or clock.now()
    start = window_start(now)
    digest = pins.source_hash(block, start.isoformat())
    bump: dict[str, Any] = {field: F(field) + 1}
    with transaction.atomic():
        rows = SourceWindow.objects.filter(source=digest, window_start=start)
        if not rows.update(**bump):
            purge(now)  # a new window began for this address: the old ones go
            try:
                with transaction.atomic():
                    SourceWindow.objects.create(source=digest, window_start=start, **{field: 1})
            except IntegrityError:  # another process created it a moment ago
                rows.update(**bump)
        return rows.select_for_update(of=("self",)).select_related("flood_emergency").get()


def purge(now: dt.datetime | None = None) -> int:
    """Delete the rows of every window that has passed."""
    deleted, _by_model = SourceWindow.objects.filter(
        window_start__lt=window_start(now or clock.now())
    ).delete()
    return deleted


def bad_link_limited(address: str) -> bool:
    """Count one link that opened nothing; True when this address is over the limit."""
    row = count(address, "bad_links")
    return row is not None and row.bad_links > BAD_LINKS_PER_SOURCE
