"""Raising a surge of alerts at once: a thousand check-ins missed in the same minute.

`raise_alerts` does what as many `emergencies.raise_alert` calls would, in one transaction whose
number of queries does not grow with the alerts: dedupe keys and active emergencies read once;
for alerts that open new emergencies (one person each), data keys, emergencies, their people and
cases, alerts, events and audit entries each written with one statement, and the first
escalation step fired for all of them together (`escalation.fire_first_steps`); alerts about a
person or case already in an active emergency join it the same way (the alert, the JOINED
event, the audit entry, a priority raised if the alert's is higher; nobody is paged again).
What a batch cannot settle in bulk goes through `raise_alert` itself, after the rest: a second
alert for a person of the same batch, or a person whose case another alert of the batch opens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Q

from refuge.alerts.models import ACTIVE_STATES, Alert, Emergency, EmergencyEvent, EmergencyState
from refuge.alerts.services import emergencies, escalation
from refuge.cases.models import Case
from refuge.core import clock, rows, wakeup
from refuge.core.ids import random_code
from refuge.people.models import ProtectedPerson
from refuge.security import audit
from refuge.security.fields import new_data_keys
from refuge.security.models import DataKey

_CODE_DRAWS = 40


@dataclass(frozen=True)
class AlertSpec:
    """One alert of a surge: what `raise_alert` takes, about one person."""

    source: str
    person: ProtectedPerson
    priority: int
    reported_at: dt.datetime
    dedupe_key: str
    late: bool = False


def raise_alerts(specs: Sequence[AlertSpec]) -> int:
    """Raise every alert not raised before (by dedupe key); return how many were raised."""
    if not specs:
        return 0
    with transaction.atomic():
        cases = _open_cases([spec.person.pk for spec in specs])
        audit._lock_head()  # the same lock order as raise_alert: audit head, then the keys
        emergencies._lock_keys(
            [f"person:{spec.person.pk}" for spec in specs]
            + [f"case:{case.pk}" for found in cases.values() for case in found]
            + [f"alert:{spec.dedupe_key}" for spec in specs]
        )
        known = set(
            Alert.objects.filter(dedupe_key__in=[s.dedupe_key for s in specs]).values_list(
                "dedupe_key", flat=True
            )
        )
        active = _active_emergencies(specs, cases)
        fresh: list[AlertSpec] = []
        joining: list[tuple[AlertSpec, Emergency]] = []
        later: list[AlertSpec] = []
        seen: set[Any] = set()
        opened_cases: set[Any] = set()
        for spec in specs:
            if spec.dedupe_key in known:
                continue
            known.add(spec.dedupe_key)
            person_cases = {case.pk for case in cases[spec.person.pk]}
            if spec.person.pk in seen or person_cases & opened_cases:
                later.append(spec)  # joins what this batch opens for them
            elif spec.person.pk in active:
                joining.append((spec, active[spec.person.pk]))
            else:
                fresh.append(spec)
                opened_cases |= person_cases
            seen.add(spec.person.pk)
        _open_all(fresh, cases)
        _join_all(joining, cases)
        for spec in later:  # rare; each joins exactly as it always has
            emergencies.raise_alert(
                source=spec.source,
                people=[spec.person],
                priority=spec.priority,
                reported_at=spec.reported_at,
                dedupe_key=spec.dedupe_key,
                late=spec.late,
            )
        if fresh:
            wakeup.wake_worker()
    return len(fresh) + len(joining) + len(later)


def _open_cases(people: list[Any]) -> dict[Any, list[Case]]:
    """Each person's open cases, oldest first (as `raise_alert` links them)."""
    found: dict[Any, list[Case]] = {pk: [] for pk in people}
    through = Case.people.through
    links = (
        through.objects.filter(
            protectedperson_id__in=people, case__status__in=emergencies.OPEN_CASE_STATUSES
        )
        .select_related("case")
        .order_by("case__created_at")
    )
    for link in links:
        found[link.protectedperson_id].append(link.case)
    return found


def _active_emergencies(
    specs: Sequence[AlertSpec], cases: dict[Any, list[Case]]
) -> dict[Any, Emergency]:
    """The active emergency each person's alert joins, as `raise_alert` chooses it: the oldest
    one about the person or one of their open cases. Locked, as `raise_alert` locks it."""
    people = [spec.person.pk for spec in specs]
    active = Q(emergency__state__in=ACTIVE_STATES)
    by_person = Emergency.people.through.objects.filter(
        active, protectedperson_id__in=people
    ).values_list("protectedperson_id", "emergency_id", "emergency__opened_at")
    case_ids = {case.pk for found in cases.values() for case in found}
    by_case = Emergency.cases.through.objects.filter(active, case_id__in=case_ids).values_list(
        "case_id", "emergency_id", "emergency__opened_at"
    )
    candidates: dict[Any, list[tuple[dt.datetime, Any]]] = {pk: [] for pk in people}
    for person, emergency, opened in by_person:
        candidates[person].append((opened, emergency))
    of_case: dict[Any, list[tuple[dt.datetime, Any]]] = {}
    for case_id, emergency, opened in by_case:
        of_case.setdefault(case_id, []).append((opened, emergency))
    chosen: dict[Any, Any] = {}
    for person, own in candidates.items():
        found = own + [hit for case in cases.get(person, []) for hit in of_case.get(case.pk, [])]
        if found:
            chosen[person] = min(found)[1]
    locked = Emergency.objects.filter(pk__in=set(chosen.values()))
    if connection.vendor == "postgresql":
        locked = locked.select_for_update()
    emergencies_by_pk = {e.pk: e for e in locked}
    return {person: emergencies_by_pk[pk] for person, pk in chosen.items()}


def _join_all(joining: Sequence[tuple[AlertSpec, Emergency]], cases: dict[Any, list[Case]]) -> None:
    """What `raise_alert` does when an alert joins (`emergencies._join`), for many at once."""
    if not joining:
        return
    alerts = [
        Alert(
            emergency=e,
            source=s.source,
            person=s.person,
            raised_at=s.reported_at,
            late=s.late,
            dedupe_key=s.dedupe_key,
        )
        for s, e in joining
    ]
    rows.insert(alerts)
    raised: dict[Any, int] = {}
    for spec, emergency in joining:
        if spec.priority > max(emergency.priority, raised.get(emergency.pk, 0)):
            raised[emergency.pk] = spec.priority
    by_priority: dict[int, list[Any]] = {}
    for pk, priority in raised.items():
        by_priority.setdefault(priority, []).append(pk)
    for priority, pks in by_priority.items():  # one UPDATE per priority raised to
        Emergency.objects.filter(pk__in=pks, priority__lt=priority).update(
            priority=priority, updated_at=clock.now()
        )
    Emergency.people.through.objects.bulk_create(
        [
            Emergency.people.through(emergency_id=e.pk, protectedperson_id=s.person.pk)
            for s, e in joining
        ],
        ignore_conflicts=True,
    )
    Emergency.cases.through.objects.bulk_create(
        [
            Emergency.cases.through(emergency_id=e.pk, case_id=case.pk)
            for s, e in joining
            for case in cases[s.person.pk]
        ],
        ignore_conflicts=True,
    )
    now = clock.now()
    rows.insert(
        [
            EmergencyEvent(
                emergency=e,
                kind=EmergencyEvent.Kind.JOINED,
                at=now,
                data={
                    "alert": str(a.pk),
                    "source": s.source,
                    "priority": s.priority,
                    "late": s.late,
                    "people": [s.person.pseudonym],
                },
            )
            for (s, e), a in zip(joining, alerts, strict=True)
        ]
    )
    audit.record_many(
        [
            audit.Entry(
                "refuge.alerts.emergency.joined",
                obj=e,
                detail={
                    "code": e.code,
                    "alert": str(a.pk),
                    "source": s.source,
                    "late": s.late,
                    "priority": max(e.priority, raised.get(e.pk, 0)),
                },
            )
            for (s, e), a in zip(joining, alerts, strict=True)
        ]
    )


def _codes(count: int) -> list[str]:
    """`count` emergency codes, unique among themselves and in the table."""
    codes: set[str] = set()
    for attempt in range(_CODE_DRAWS):
        while len(codes) < count:
            codes.add(random_code("E", length=4 + attempt // 8))
        taken = set(Emergency.objects.filter(code__in=codes).values_list("code", flat=True))
        if not taken:
            return sorted(codes)
        codes -= taken
    raise RuntimeError("could not draw unique emergency codes")  # pragma: no cover


def _open_all(fresh: Sequence[AlertSpec], cases: dict[Any, list[Case]]) -> None:
    if not fresh:
        return
    now = clock.now()
    snapshot = escalation.freeze_policy()
    record_keys = new_data_keys(DataKey.Purpose.RECORD, len(fresh))
    location_keys = new_data_keys(DataKey.Purpose.LOCATION, len(fresh))
    opened: list[Emergency] = []
    for spec, code, data_key, location_key in zip(
        fresh, _codes(len(fresh)), record_keys, location_keys, strict=True
    ):
        found = cases[spec.person.pk]
        opened.append(
            Emergency(
                code=code,
                source=spec.source,
                priority=spec.priority,
                state=EmergencyState.OPEN,
                team=found[0].team if found else None,
                reported_at=spec.reported_at,
                opened_at=now,
                policy_snapshot=snapshot,
                escalation_step=0,
                escalation_round=0,
                next_escalation_at=now,
                data_key=data_key,
                location_key=location_key,
            )
        )
    rows.insert(opened)
    Emergency.people.through.objects.bulk_create(
        Emergency.people.through(emergency_id=e.pk, protectedperson_id=s.person.pk)
        for e, s in zip(opened, fresh, strict=True)
    )
    Emergency.cases.through.objects.bulk_create(
        Emergency.cases.through(emergency_id=e.pk, case_id=case.pk)
        for e, s in zip(opened, fresh, strict=True)
        for case in cases[s.person.pk]
    )
    alerts = [
        Alert(
            emergency=e,
            source=s.source,
            person=s.person,
            raised_at=s.reported_at,
            late=s.late,
            dedupe_key=s.dedupe_key,
        )
        for e, s in zip(opened, fresh, strict=True)
    ]
    rows.insert(alerts)
    rows.insert(
        [
            EmergencyEvent(
                emergency=e,
                kind=EmergencyEvent.Kind.OPENED,
                at=now,
                data={
                    "alert": str(a.pk),
                    "source": s.source,
                    "priority": s.priority,
                    "late": s.late,
                },
            )
            for e, a, s in zip(opened, alerts, fresh, strict=True)
        ]
    )
    audit.record_many(
        [
            audit.Entry(
                "refuge.alerts.emergency.opened",
                obj=e,
                detail={
                    "code": e.code,
                    "source": s.source,
                    "priority": s.priority,
                    "late": s.late,
                    "people": [str(s.person.pk)],
                    "cases": [str(case.pk) for case in cases[s.person.pk]],
                },
            )
            for e, s in zip(opened, fresh, strict=True)
        ]
    )
    escalation.fire_first_steps(opened, now)
