"""SOS from the protected person (page, SMS, Telegram) and from senders nobody bound."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from refuge.alerts.models import Alert, EmergencySource, Priority
from refuge.alerts.services import emergencies
from refuge.core import clock
from refuge.people.models import ProtectedPerson

logger = logging.getLogger(__name__)

UNKNOWN_SOS_PREFIX = "sos-unknown:"
UNKNOWN_SOS_PER_HOUR = 5


def sos_submit(*, person: ProtectedPerson, channel: str) -> None:
    """SOS: a top-priority alert, opening an emergency or joining the person's open one."""
    del channel  # the alert's source says SOS; how it arrived does not change the response
    emergencies.raise_alert(
        source=EmergencySource.SOS,
        people=[person],
        priority=Priority.TOP,
        reported_at=clock.now(),
        dedupe_key=f"sos:{uuid.uuid4()}",
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
