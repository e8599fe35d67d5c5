"""Reads of the emergency line's staff side: the live board, one emergency and its timed events,
the response-time report, and a person's check-in schedule.

Every read goes through refuge.security.access.scope (the Emergency, EmergencyEvent and
CheckinSchedule rules live in refuge.alerts.access); an emergency or person the actor may not see
raises NotFoundError, exactly like one that does not exist. Emergencies carry pseudonyms only.
What was heard and where are decrypted only by `emergency_text`, which audits the read.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import statistics
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from refuge.alerts.access import LINE_ROLES, NO_EMERGENCY_ROLES, may_resolve
from refuge.alerts.models import (
    ACTIVE_STATES,
    CheckinLink,
    CheckinSchedule,
    Emergency,
    EmergencyEvent,
    EmergencyState,
    Notification,
)
from refuge.alerts.services import escalation, response
from refuge.core import clock
from refuge.core.errors import NotFoundError
from refuge.people import selectors as people_selectors
from refuge.people.models import ProtectedPerson
from refuge.security import access, audit

# The board is for what is happening now; far more open emergencies than this is a disaster the
# board cannot help with anyway, and the page must stay fast.
BOARD_LIMIT = 200
REPORT_MONTHS = 12
MAX_REPORT_MONTHS = 36
P90 = 0.9

# Histogram buckets of a response time: (upper bound, label). The last bucket is open-ended.
BUCKETS: tuple[tuple[dt.timedelta | None, Any], ...] = (
    (dt.timedelta(minutes=1), _("under 1 min")),
    (dt.timedelta(minutes=5), _("1–5 min")),
    (dt.timedelta(minutes=15), _("5–15 min")),
    (dt.timedelta(minutes=30), _("15–30 min")),
    (dt.timedelta(hours=1), _("30–60 min")),
    (None, _("1 hour or more")),
)


# --- The board and one emergency ---------------------------------------------------------------


def emergency_list(*, actor: Any, states: Iterable[str] | None = None) -> QuerySet[Emergency]:
    """Emergencies `actor` may see in `states` (the active ones by default), most urgent first:
    highest priority, then the longest waiting."""
    wanted = list(ACTIVE_STATES if states is None else states)
    return (
        access.scope(actor, Emergency.objects.filter(state__in=wanted))
        .select_related("acknowledged_by", "resolved_by", "opened_by")
        .prefetch_related("people")
        .order_by("-priority", "reported_at")
    )


@dataclass(frozen=True)
class BoardRow:
    emergency: Emergency
    people: list[str]
    since_reported: dt.timedelta
    since_opened: dt.timedelta


def emergency_board(*, actor: Any) -> list[BoardRow]:
    """The live board: every active emergency `actor` may see, with its elapsed times."""
    now = clock.now()
    return [
        BoardRow(
            emergency=emergency,
            people=sorted(p.pseudonym for p in emergency.people.all()),
            since_reported=max(now - emergency.reported_at, dt.timedelta(0)),
            since_opened=max(now - emergency.opened_at, dt.timedelta(0)),
        )
        for emergency in emergency_list(actor=actor)[:BOARD_LIMIT]
    ]


def emergency_get(*, actor: Any, emergency_id: Any, action: str = access.VIEW) -> Emergency:
    return access.get_or_404(
        actor,
        Emergency.objects.select_related(
            "acknowledged_by", "resolved_by", "opened_by", "caller", "team"
        ),
        action=action,
        pk=emergency_id,
    )


def emergency_people(*, emergency: Emergency) -> list[ProtectedPerson]:
    """The people an emergency is about, by pseudonym (T0): whoever may see the emergency sees
    whom it concerns; their identities stay behind the people pages' own rules."""
    return sorted(emergency.people.all(), key=lambda p: p.pseudonym)


@dataclass(frozen=True)
class LinkedCase:
    id: uuid.UUID
    code: str
    visible: bool  # may the actor open the case's page?


def emergency_cases(*, actor: Any, emergency: Emergency) -> list[LinkedCase]:
    """The cases linked to an emergency: every code (a random code says nothing), and which of
    them the actor may open."""
    linked = list(emergency.cases.order_by("code").only("id", "code"))
    visible = set(
        access.scope(actor, emergency.cases.all()).values_list("pk", flat=True),
    )
    return [LinkedCase(id=c.pk, code=c.code, visible=c.pk in visible) for c in linked]


def emergency_events(*, actor: Any, emergency: Emergency) -> QuerySet[EmergencyEvent]:
    """Every step of the emergency in the order it happened."""
    return (
        access.scope(actor, EmergencyEvent.objects.filter(emergency=emergency))
        .select_related("actor")
        .order_by("at")
    )


@dataclass(frozen=True)
class EmergencyText:
    heard: str
    location_hint: str
    resolution_note: str


def emergency_text(*, actor: Any, emergency: Emergency) -> EmergencyText:
    """Decrypt what was heard, the location hint and the resolution note; every such read is in
    the audit log. NotFoundError for anyone who may not see the emergency."""
    if not access.scope(actor, Emergency.objects.filter(pk=emergency.pk)).exists():
        raise NotFoundError
    with transaction.atomic():
        audit.record("refuge.alerts.emergency.viewed", actor=actor, obj=emergency, detail={})
    return EmergencyText(
        heard=emergency.heard or "",
        location_hint=emergency.location_hint or "",
        resolution_note=emergency.resolution_note or "",
    )


@dataclass(frozen=True)
class OpenEmergency:
    """One line of the open-emergencies card and badge: T0 facts only (works while sealed)."""

    id: uuid.UUID
    code: str
    priority: int
    priority_label: str
    source_label: str
    state: str
    state_label: str
    reported_at: dt.datetime
    age: dt.timedelta

    @property
    def unacknowledged(self) -> bool:
        return self.state == EmergencyState.OPEN


@dataclass(frozen=True)
class OpenEmergencies:
    rows: list[OpenEmergency]
    unacknowledged: int
    more: bool  # there are more than BOARD_LIMIT: the count shows "200+"

    @property
    def count(self) -> int:
        return len(self.rows)


def open_emergencies(*, actor: Any) -> OpenEmergencies:
    """The active emergencies `actor` may act on, most urgent first, for the navigation badge
    and the dashboard card of every staff page: one query, encrypted fields never loaded."""
    now = clock.now()
    found = list(
        access.scope(actor, Emergency.objects.filter(state__in=ACTIVE_STATES))
        .order_by("-priority", "reported_at")
        .only("id", "code", "priority", "source", "state", "reported_at")[: BOARD_LIMIT + 1]
    )
    rows = [
        OpenEmergency(
            id=e.pk,
            code=e.code,
            priority=e.priority,
            priority_label=e.get_priority_display(),
            source_label=e.get_source_display(),
            state=e.state,
            state_label=e.get_state_display(),
            reported_at=e.reported_at,
            age=max(now - e.reported_at, dt.timedelta(0)),
        )
        for e in found[:BOARD_LIMIT]
    ]
    return OpenEmergencies(
        rows=rows,
        unacknowledged=sum(1 for row in rows if row.unacknowledged),
        more=len(found) > BOARD_LIMIT,
    )


# --- Logging a call -----------------------------------------------------------------------------


def call_people_choices(*, actor: Any) -> QuerySet[ProtectedPerson]:
    """Who an operator can name as the caller or as concerned: the people `actor` may see."""
    return people_selectors.person_list(actor=actor).only("id", "pseudonym", "is_minor")


def event_note_text(*, event: EmergencyEvent) -> str | None:
    """The decrypted text of a note event fetched through `emergency_events`."""
    return response.event_note(event)


# --- The acknowledgement link -------------------------------------------------------------------


def ack_link_emergency(*, token: str) -> Emergency | None:
    """The active emergency a one-time acknowledgement link would acknowledge, or None when the
    link is unknown, used already (its digest was burnt), or its recipient left. Changes
    nothing: a mail scanner opening the link must not acknowledge for anyone."""
    if not token or len(token) > response.MAX_TOKEN:
        return None
    notification = (
        Notification.objects.filter(ack_token_digest=escalation.token_digest(token))
        .select_related("emergency", "recipient")
        .first()
    )
    if notification is None or not notification.recipient.is_active:
        return None
    emergency = notification.emergency
    return emergency if emergency.is_active else None


def emergency_pseudonyms(*, emergency: Emergency) -> list[str]:
    return [p.pseudonym for p in emergency_people(emergency=emergency)]


# --- The report ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    label: str
    count: int


@dataclass(frozen=True)
class Distribution:
    count: int
    median: dt.timedelta | None
    p90: dt.timedelta | None
    maximum: dt.timedelta | None
    buckets: list[Bucket]


@dataclass(frozen=True)
class MonthReport:
    month: dt.date  # the first day of the month, in the viewer's time zone
    emergencies: int
    to_acknowledge: Distribution
    to_on_site: Distribution


def nearest_rank(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of sorted `values` (p90 of 10 values is the 9th)."""
    index = max(math.ceil(fraction * len(values)) - 1, 0)
    return values[index]


def distribution(durations: Iterable[dt.timedelta]) -> Distribution:
    seconds = sorted(max(d.total_seconds(), 0.0) for d in durations)
    bounds = [b.total_seconds() for b, _label in BUCKETS if b is not None]
    counts = [0] * len(BUCKETS)
    for value in seconds:
        counts[bisect.bisect_right(bounds, value)] += 1
    buckets = [Bucket(str(label), n) for (_bound, label), n in zip(BUCKETS, counts, strict=True)]
    if not seconds:
        return Distribution(0, None, None, None, buckets)
    return Distribution(
        count=len(seconds),
        median=dt.timedelta(seconds=statistics.median(seconds)),
        p90=dt.timedelta(seconds=nearest_rank(seconds, P90)),
        maximum=dt.timedelta(seconds=seconds[-1]),
        buckets=buckets,
    )


def _month_start(value: dt.datetime) -> dt.date:
    return timezone.localtime(value).date().replace(day=1)


def _months_back(first: dt.date, months: int) -> dt.date:
    index = first.year * 12 + first.month - 1 - (months - 1)
    return dt.date(index // 12, index % 12 + 1, 1)


def emergency_report(*, actor: Any, months: int = REPORT_MONTHS) -> list[MonthReport]:
    """Time to acknowledge (call/SOS -> acknowledged) and to on site (call/SOS -> on site), per
    month of the call, newest month first, over the last `months` months in the viewer's time
    zone. For the emergency line's roles only (coordinators and operators)."""
    if actor is None or getattr(actor, "role", None) not in LINE_ROLES:
        raise NotFoundError
    months = min(max(months, 1), MAX_REPORT_MONTHS)
    first = _months_back(_month_start(clock.now()), months)
    start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    rows = access.scope(actor, Emergency.objects.filter(reported_at__gte=start)).values_list(
        "reported_at", "acknowledged_at", "on_site_at"
    )
    grouped: dict[dt.date, list[tuple[dt.datetime, dt.datetime | None, dt.datetime | None]]] = {}
    for row in rows:
        grouped.setdefault(_month_start(row[0]), []).append(row)
    report: list[MonthReport] = []
    for month in sorted(grouped, reverse=True):
        items = grouped[month]
        report.append(
            MonthReport(
                month=month,
                emergencies=len(items),
                to_acknowledge=distribution(ack - rep for rep, ack, _site in items if ack),
                to_on_site=distribution(site - rep for rep, _ack, site in items if site),
            )
        )
    return report


# --- Check-in schedules -------------------------------------------------------------------------


def checkin_person_get(*, actor: Any, person_id: Any, action: str = access.VIEW) -> ProtectedPerson:
    """The person whose check-ins are shown or changed: the schedule follows the person."""
    return people_selectors.person_get(actor=actor, person_id=person_id, action=action)


def checkin_schedule_get(
    *, actor: Any, person: ProtectedPerson, action: str = access.VIEW
) -> CheckinSchedule | None:
    """The person's schedule, or None when there is none (or the actor may not see it)."""
    return (
        access.scope(actor, CheckinSchedule.objects.filter(person=person), action=action)
        .select_related("person")
        .first()
    )


def checkin_schedule_can_edit(*, actor: Any, person: ProtectedPerson) -> bool:
    try:
        checkin_person_get(actor=actor, person_id=person.pk, action=access.EDIT)
    except NotFoundError:
        return False
    return True


def checkin_live_links(*, person: ProtectedPerson) -> list[CheckinLink]:
    """The person's personal links that still work (normally one). Call only with a person the
    actor was allowed to fetch: links carry no rule of their own, they follow the person."""
    return list(
        CheckinLink.objects.filter(person=person, revoked_at__isnull=True).order_by("-created_at")
    )


def emergency_may_resolve(*, actor: Any, emergency: Emergency) -> bool:
    """May `actor` resolve `emergency` (fetched through access)? See alerts.access."""
    return emergency.is_active and may_resolve(actor, emergency)


def sees_report(*, actor: Any) -> bool:
    """Is `actor` on the emergency line (operators and coordinators), whose report it is?"""
    return bool(
        getattr(actor, "is_authenticated", False) and actor.is_active and actor.role in LINE_ROLES
    )


def sees_emergencies(*, actor: Any) -> bool:
    """Does `actor`'s role see emergencies at all (and so the board and "Log a call")?
    Administrators and analysts never do (alerts.access)."""
    return bool(
        getattr(actor, "is_authenticated", False)
        and actor.is_active
        and actor.role not in NO_EMERGENCY_ROLES
    )
