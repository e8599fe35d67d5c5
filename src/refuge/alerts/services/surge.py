"""Raising a surge of alerts at once: a thousand check-ins missed in the same minute.

`raise_alerts` does what as many `emergencies.raise_alert` calls would, in one transaction whose
number of queries does not grow with the alerts that open new emergencies (the common case in a
surge: one person each): dedupe keys and active emergencies read once, data keys, emergencies,
their people and cases, alerts, events and audit entries each written with one INSERT, and the
first escalation step fired for all of them together (`escalation.fire_first_steps`). An alert
about a person or case that already has an active emergency joins it, as always, through
`raise_alert` itself; so does a second alert for a person in the same batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
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
        busy = _people_with_active_emergencies(specs, cases)
        fresh: list[AlertSpec] = []
        joining: list[AlertSpec] = []
        seen: set[Any] = set()
        for spec in specs:
            if spec.dedupe_key in known:
                continue
            known.add(spec.dedupe_key)
            if spec.person.pk in busy or spec.person.pk in seen:
                joining.append(spec)
            else:
                fresh.append(spec)
            seen.add(spec.person.pk)
        _open_all(fresh, cases)
        for spec in joining:  # rare in a surge; each joins (or opens) exactly as it always has
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
    return len(fresh) + len(joining)


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


def _people_with_active_emergencies(
    specs: Sequence[AlertSpec], cases: dict[Any, list[Case]]
) -> set[Any]:
    people = [spec.person.pk for spec in specs]
    case_ids = {case.pk for found in cases.values() for case in found}
    active = Emergency.objects.filter(
        Q(people__in=people) | Q(cases__in=case_ids), state__in=ACTIVE_STATES
    )
    busy_people = set(active.values_list("people", flat=True))
    busy_cases = set(active.values_list("cases", flat=True))
    return {
        pk
        for pk in people
        if pk in busy_people or any(case.pk in busy_cases for case in cases.get(pk, []))
    }


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
