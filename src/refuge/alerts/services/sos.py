"""SOS from the protected person (page, SMS, Telegram) and from senders nobody bound.

No SOS is ever dropped, and none pages everyone twice:

- **Repeats.** A person's SOS pressed again within SOS_REPEAT_WINDOW of their last one, while its
  emergency is still active, is counted on that alert (`repeats`, `last_repeat_at`) instead of
  being raised again: the emergency shows "SOS pressed 5 times", the page answers the same way
  each time, and a press that floods the page costs one UPDATE, not an alert, an event and an
  audit entry. After the window, a press is raised again (it joins the active emergency, so
  nobody is paged, and the timeline shows it).
- **Floods from one address.** SOS from the web page are also counted per client address
  (services.source_windows, which never stores the address). The first SOS_PER_SOURCE from
  different links in a window are raised as usual; every further one is still raised, but into
  one "SOS flood from one address" emergency for that address and window, which is paged once
  (its people are all listed on it). A person who already has an active emergency joins their
  own, as always.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.db import transaction
from django.db.models import F

from refuge.alerts.models import (
    ACTIVE_STATES,
    Alert,
    EmergencySource,
    Priority,
    SourceWindow,
)
from refuge.alerts.services import emergencies, source_windows
from refuge.core import clock
from refuge.people.models import ProtectedPerson

logger = logging.getLogger(__name__)

UNKNOWN_SOS_PREFIX = "sos-unknown:"
UNKNOWN_SOS_PER_HOUR = 5
SOS_REPEAT_WINDOW = dt.timedelta(minutes=10)
SOS_SOURCES = (EmergencySource.SOS, EmergencySource.SOS_FLOOD)


def sos_submit(*, person: ProtectedPerson, channel: str, address: str = "") -> None:
    """SOS: a top-priority alert, opening an emergency or joining the person's open one; a
    repeat within minutes is counted on the person's last SOS. `address` is the client address
    of a web request ("" for SMS and Telegram): used for the flood limit, never stored."""
    del channel  # the alert's source says SOS; how it arrived does not change the response
    now = clock.now()
    with transaction.atomic():
        if _counted_as_repeat(person, now):
            return
        window = source_windows.count(address, "sos", now) if address else None
        if window is not None and window.sos > source_windows.SOS_PER_SOURCE:
            _raise_in_flood(person, window, now)
            return
        emergencies.raise_alert(
            source=EmergencySource.SOS,
            people=[person],
            priority=Priority.TOP,
            reported_at=now,
            dedupe_key=f"sos:{uuid.uuid4()}",
        )


def _counted_as_repeat(person: ProtectedPerson, now: dt.datetime) -> bool:
    last = (
        Alert.objects.filter(
            person=person,
            source__in=SOS_SOURCES,
            raised_at__gte=now - SOS_REPEAT_WINDOW,
            emergency__state__in=ACTIVE_STATES,
        )
        .order_by("-raised_at")
        .values_list("pk", flat=True)
        .first()
    )
    if last is None:
        return False
    Alert.objects.filter(pk=last).update(repeats=F("repeats") + 1, last_repeat_at=now)
    return True


def _raise_in_flood(person: ProtectedPerson, window: SourceWindow, now: dt.datetime) -> None:
    """Beyond the limit: raised all the same, into the address's one flood emergency (opened,
    and paged, by the first SOS beyond the limit)."""
    emergency = emergencies.raise_alert(
        source=EmergencySource.SOS_FLOOD,
        people=[person],
        priority=Priority.TOP,
        reported_at=now,
        dedupe_key=f"sos:{uuid.uuid4()}",
        join=window.flood_emergency,
    )
    if window.flood_emergency_id != emergency.pk and emergency.source == EmergencySource.SOS_FLOOD:
        window.flood_emergency = emergency
        window.save(update_fields=["flood_emergency"])
    logger.warning(
        "SOS beyond the limit of one address: raised into flood emergency %s", emergency.code
    )


def sos_from_unknown(*, sender: str) -> None:
    """SOS from a number or chat nobody bound: maybe a known person on a borrowed phone. It is
    raised like an unknown caller's (high priority, no person), at most once per sender per ten
    minutes, and at most UNKNOWN_SOS_PER_HOUR times an hour from all unknown senders together,
    so strangers cannot page the team at will. `sender` is the keyed hash, never the number."""
    now = clock.now()
    recent = Alert.objects.filter(
        dedupe_key__startswith=UNKNOWN_SOS_PREFIX, raised_at__gte=now - dt.timedelta(hours=1)
    )
    if recent.count() >= UNKNOWN_SOS_PER_HOUR:
        logger.warning("SOS from an unknown sender not raised: hourly limit reached")
        return
    bucket = int(now.timestamp()) // 600
    emergencies.raise_alert(
        source=EmergencySource.SOS,
        priority=Priority.HIGH,
        reported_at=now,
        dedupe_key=f"{UNKNOWN_SOS_PREFIX}{sender[-24:]}:{bucket}",
    )
