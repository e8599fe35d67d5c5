"""Raising alerts: open an emergency, or join the one already active for the same people or cases.

`raise_alert` is the single door every signal comes through (the operator's call, the SOS page,
a duress PIN, a missed check-in, a locked-out channel). It is idempotent by `dedupe_key`, and on
PostgreSQL two concurrent alerts about the same person or case are serialised by advisory locks
(taken after the audit-chain lock every audited write takes anyway, so the lock order is always
the same), so they cannot open two emergencies. On SQLite every writing transaction begins
IMMEDIATE and writers are serialised already.

Staff actions (acknowledge, on the way, on site, resolve, notes) are in `services.response`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from refuge.accounts.models import Team, User
from refuge.alerts.access import NO_EMERGENCY_ROLES
from refuge.alerts.models import (
    ACTIVE_STATES,
    Alert,
    Emergency,
    EmergencyEvent,
    EmergencySource,
    EmergencyState,
    Priority,
)
from refuge.alerts.services import call_time, escalation, notes
from refuge.cases.models import Case, CaseStatus
from refuge.core import clock, jobs, wakeup
from refuge.core.errors import DomainError
from refuge.core.ids import random_code
from refuge.people import validation
from refuge.people.models import ProtectedPerson
from refuge.security import access, audit

OPEN_CASE_STATUSES = (CaseStatus.INTAKE, CaseStatus.VERIFICATION, CaseStatus.ACTIVE)
logger = logging.getLogger(__name__)

MAX_TEXT = 20_000
MAX_DEDUPE_KEY = 200


def raise_alert(
    *,
    source: str,
    people: Sequence[ProtectedPerson] = (),
    cases: Sequence[Case] = (),
    priority: int = Priority.HIGH,
    reported_at: dt.datetime,
    dedupe_key: str,
    late: bool = False,
    actor: User | None = None,
    caller: ProtectedPerson | None = None,
    heard: str | None = None,
    location_hint: str | None = None,
    team: Team | None = None,
    join: Emergency | None = None,
) -> Emergency:
    """Record one alert and return the emergency it opened or joined.

    Raising the same `dedupe_key` again returns that alert's emergency unchanged. An alert about a
    person or case of an active emergency joins it (its priority is raised if the alert's is
    higher; nobody is paged again); otherwise it joins `join` if that is still active (an SOS
    flood, see services.sos), or a new emergency opens and escalates at once."""
    if source not in EmergencySource.values:
        raise ValueError(f"unknown alert source {source!r}")
    if priority not in Priority.values:
        raise ValueError(f"unknown priority {priority!r}")
    if not dedupe_key or len(dedupe_key) > MAX_DEDUPE_KEY:
        raise ValueError("a dedupe key is 1 to 200 characters")
    if source == EmergencySource.DURESS:
        priority = Priority.TOP
    people_list = list({p.pk: p for p in people}.values())
    try:
        with transaction.atomic():
            case_list = _cases_of(people_list, cases)
            # Fixed lock order (audit head first) so callers that audited already cannot deadlock.
            audit._lock_head()
            _lock_keys(
                [f"person:{p.pk}" for p in people_list]
                + [f"case:{c.pk}" for c in case_list]
                + [f"alert:{dedupe_key}"]
            )
            existing = _existing(dedupe_key)
            if existing is not None:
                return existing
            alert = Alert(
                source=source,
                person=people_list[0] if people_list else caller,
                raised_at=reported_at,
                late=late,
                dedupe_key=dedupe_key,
            )
            emergency = _active_for(people_list, case_list, fallback=join)
            if emergency is None:
                emergency = _open(
                    source=source,
                    priority=priority,
                    reported_at=reported_at,
                    actor=actor,
                    caller=caller,
                    heard=heard,
                    location_hint=location_hint,
                    team=team or (case_list[0].team if case_list else None),
                )
                emergency.people.add(*people_list)
                emergency.cases.add(*case_list)
                alert.emergency = emergency
                alert.save(force_insert=True)
                _opened(emergency, alert, actor=actor, people=people_list, cases=case_list)
                _page_at_once(emergency)
            else:
                alert.emergency = emergency
                alert.save(force_insert=True)
                _join(
                    emergency,
                    alert,
                    priority=priority,
                    actor=actor,
                    people=people_list,
                    cases=case_list,
                    heard=heard,
                    location_hint=location_hint,
                )
            return emergency
    except IntegrityError:
        # The same dedupe key committed by another transaction between our check and our insert.
        raced = _existing(dedupe_key)
        if raced is None:
            raise
        return raced


def _existing(dedupe_key: str) -> Emergency | None:
    alert = Alert.objects.filter(dedupe_key=dedupe_key).select_related("emergency").first()
    return alert.emergency if alert is not None else None


def _cases_of(people: Sequence[ProtectedPerson], cases: Iterable[Case]) -> list[Case]:
    """The given cases first, then the people's open cases (oldest first), each once."""
    found: dict[Any, Case] = {c.pk: c for c in cases}
    if people:
        for case in (
            Case.objects.filter(people__in=[p.pk for p in people], status__in=OPEN_CASE_STATUSES)
            .select_related("team")
            .order_by("created_at")
            .distinct()
        ):
            found.setdefault(case.pk, case)
    return list(found.values())


def _lock_keys(keys: Iterable[str]) -> None:
    if connection.vendor != "postgresql":
        return  # SQLite: the writer took the database lock at BEGIN IMMEDIATE
    ids = sorted(
        {
            int.from_bytes(hashlib.sha256(f"refuge/alerts/{key}".encode()).digest()[:8], "big")
            - (1 << 63)
            for key in keys
        }
    )
    with connection.cursor() as cursor:
        # One round trip for all of them, taken in ascending order (the function scan emits
        # the sorted array's elements in order), so two transactions can never deadlock.
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) AS k", [ids]
        )


def _active_for(
    people: Sequence[ProtectedPerson],
    cases: Sequence[Case],
    fallback: Emergency | None = None,
) -> Emergency | None:
    """The oldest active emergency about the people or cases, else `fallback` if it is still
    active; locked for update."""
    active = Emergency.objects.filter(state__in=ACTIVE_STATES)
    pk = None
    if people or cases:
        match = Q(people__in=[p.pk for p in people]) | Q(cases__in=[c.pk for c in cases])
        pk = active.filter(match).order_by("opened_at").values_list("pk", flat=True).first()
    if pk is None and fallback is not None:
        pk = active.filter(pk=fallback.pk).values_list("pk", flat=True).first()
    if pk is None:
        return None
    return Emergency.objects.select_for_update().get(pk=pk)


def _open(
    *,
    source: str,
    priority: int,
    reported_at: dt.datetime,
    actor: User | None,
    caller: ProtectedPerson | None,
    heard: str | None,
    location_hint: str | None,
    team: Team | None,
) -> Emergency:
    now = clock.now()
    for attempt in range(40):
        emergency = Emergency(
            code=random_code("E", length=4 + attempt // 8),
            source=source,
            priority=priority,
            state=EmergencyState.OPEN,
            team=team,
            caller=caller,
            opened_by=actor,
            reported_at=reported_at,
            opened_at=now,
            policy_snapshot=escalation.freeze_policy(),
            escalation_step=0,
            escalation_round=0,
            next_escalation_at=now,
        )
        emergency.heard = heard or None
        emergency.location_hint = location_hint or None
        try:
            with transaction.atomic():
                emergency.save(force_insert=True)
        except IntegrityError:
            continue  # code collision: draw again
        return emergency
    raise DomainError(_("Could not allocate an emergency code; try again."))  # pragma: no cover


def _opened(
    emergency: Emergency,
    alert: Alert,
    *,
    actor: User | None,
    people: Sequence[ProtectedPerson],
    cases: Sequence[Case],
) -> None:
    escalation.event(
        emergency,
        EmergencyEvent.Kind.OPENED,
        actor=actor,
        at=emergency.opened_at,
        data={
            "alert": str(alert.pk),
            "source": alert.source,
            "priority": emergency.priority,
            "late": alert.late,
        },
    )
    audit.record(
        "refuge.alerts.emergency.opened",
        actor=actor,
        obj=emergency,
        detail={
            "code": emergency.code,
            "source": alert.source,
            "priority": emergency.priority,
            "late": alert.late,
            "people": [str(p.pk) for p in people],
            "cases": [str(c.pk) for c in cases],
        },
    )


def _page_at_once(emergency: Emergency) -> None:
    """Fire the first escalation step in the transaction that opens the emergency, so its
    notifications exist the moment it commits and the worker, woken by that commit, only has to
    send them. A step that fails here (a bug, a broken snapshot) must never cost the alert: it
    rolls back alone and is left due, for the worker's escalation tick to fire."""
    try:
        with transaction.atomic():
            escalation.fire_step(emergency, emergency.opened_at)
    except Exception as exc:  # noqa: BLE001 - the alert stands; the worker fires the step
        logger.error(  # noqa: TRY400 - no traceback: messages can quote data
            "first step of emergency %s left to the worker: %s",
            emergency.code,
            jobs.describe_error(exc),
        )
    wakeup.wake_worker()


def _join(
    emergency: Emergency,
    alert: Alert,
    *,
    priority: int,
    actor: User | None,
    people: Sequence[ProtectedPerson],
    cases: Sequence[Case],
    heard: str | None,
    location_hint: str | None,
) -> None:
    changed: list[str] = []
    if priority > emergency.priority:
        emergency.priority = priority
        changed.append("priority")
    if not (heard or location_hint):
        pass  # nothing to add to the emergency's texts: its keys stay closed
    elif notes.keys_open(emergency, "data_key", "location_key"):
        if heard:
            emergency.heard = _appended(emergency.heard, heard)
            changed.append("heard_ct")
        if location_hint:
            emergency.location_hint = _appended(emergency.location_hint, location_hint)
            changed.append("location_hint_ct")
    else:  # sealed: the older text cannot be read, so the new text becomes notes of its own
        if heard:
            notes.write_note(emergency, actor=actor, text=heard, field=notes.FIELD_HEARD)
        if location_hint:
            notes.write_note(
                emergency, actor=actor, text=location_hint, field=notes.FIELD_LOCATION_HINT
            )
    if changed:  # the keys too: keys_open may have created one
        emergency.save(update_fields=[*changed, "data_key", "location_key", "updated_at"])
    emergency.people.add(*people)
    emergency.cases.add(*cases)
    escalation.event(
        emergency,
        EmergencyEvent.Kind.JOINED,
        actor=actor,
        data={
            "alert": str(alert.pk),
            "source": alert.source,
            "priority": priority,
            "late": alert.late,
            "people": [p.pseudonym for p in people],
        },
    )
    audit.record(
        "refuge.alerts.emergency.joined",
        actor=actor,
        obj=emergency,
        detail={
            "code": emergency.code,
            "alert": str(alert.pk),
            "source": alert.source,
            "late": alert.late,
            "priority": emergency.priority,
        },
    )


def _appended(previous: str | None, text: str) -> str:
    stamp = clock.now().strftime("%Y-%m-%d %H:%M UTC")
    return f"{previous}\n\n[{stamp}] {text}" if previous else text


def emergency_open_call(
    *,
    actor: User,
    caller: ProtectedPerson | None,
    heard: str,
    location_hint: str,
    people: Sequence[ProtectedPerson],
    cases: Sequence[Case] = (),
    team: Team | None = None,
    reported_at: dt.datetime | None = None,
) -> Emergency:
    """The operator's record of a call to the emergency line; escalation starts at once.

    `reported_at` is when the call came in (default: now; see services.call_time). `people`,
    `cases` and `caller` must have been fetched through access by the interface; they are
    checked again here."""
    if actor.role in NO_EMERGENCY_ROLES:
        raise DomainError(_("Your role cannot open emergencies."))
    errors: dict[str, list[str]] = {}
    reported_at = call_time.call_time(reported_at, field="reported_at", errors=errors)
    heard = validation.clean_text(heard, limit=MAX_TEXT, field="heard", errors=errors)
    location_hint = validation.clean_text(
        location_hint, limit=MAX_TEXT, field="location_hint", errors=errors
    )
    everyone = visible_people(actor, [*people, *([caller] if caller else [])], errors=errors)
    case_ids = {c.pk for c in cases}
    if access.scope(actor, Case.objects.filter(pk__in=case_ids)).count() != len(case_ids):
        errors.setdefault("cases", []).append(_("One of the chosen cases cannot be found."))
    if errors:
        raise DomainError(_("Please correct the errors below."), field_errors=errors)
    return raise_alert(
        source=EmergencySource.CALL,
        people=everyone,
        cases=cases,
        priority=Priority.HIGH,
        reported_at=reported_at,
        dedupe_key=f"call:{uuid.uuid4()}",
        actor=actor,
        caller=caller,
        heard=heard,
        location_hint=location_hint,
        team=team,
    )


def visible_people(
    actor: User, people: Sequence[ProtectedPerson], *, errors: dict[str, list[str]]
) -> list[ProtectedPerson]:
    """`people`, each once, after checking again that `actor` may see every one of them (an
    error under "people" otherwise)."""
    everyone = list({p.pk: p for p in people}.values())
    ids = {p.pk for p in everyone}
    if access.scope(actor, ProtectedPerson.objects.filter(pk__in=ids)).count() != len(ids):
        errors.setdefault("people", []).append(_("One of the chosen people cannot be found."))
    return everyone
