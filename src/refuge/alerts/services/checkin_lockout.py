"""The check-in PIN lockout: wrong PINs in a row lock a schedule's check-ins for a while, staff
see the lock and may lift it with a reason, and the person's page says check-ins are paused.

Every LOCKOUT_ATTEMPTS wrong PINs in a row lock the schedule for LOCKOUT and raise a `lockout`
alert for the team. `failed_attempts` counts wrong PINs since the last right one (normal or
duress: the duress PIN is a success like the normal one, so the lockout cannot reveal whether a
duress PIN exists) or since staff unlocked or set the PINs; a lock does not reset it, so staff see
how many wrong PINs led to it, and a lock that expires is followed by another after as many more.
While locked every PIN is refused alike; services.checkins records each such attempt the same
way (a duress PIN among them still raises its alarm, silently).

Unlocking is for the case team and coordinators (whoever may change the person), with a reason:
audited, and written as an encrypted note on the emergency the lockout raised, because a reason
may name people and the audit log and the schedule are not encrypted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from refuge.alerts.models import (
    Alert,
    Checkin,
    CheckinSchedule,
    Emergency,
    EmergencySource,
    Priority,
)
from refuge.alerts.services import emergencies, notes
from refuge.alerts.services.checkin_links import can_edit_person
from refuge.core import clock
from refuge.core.errors import DomainError
from refuge.people import validation
from refuge.security import audit

LOCKOUT_ATTEMPTS = 5
LOCKOUT = dt.timedelta(minutes=30)
MAX_REASON = 1000


@dataclass(frozen=True)
class LockState:
    """A schedule's lock as staff see it."""

    locked_at: dt.datetime | None
    locked_until: dt.datetime
    failures: int  # wrong PINs in a row that led to it
    attempts_while_locked: int  # PINs entered since, right or wrong, all refused


def is_locked(schedule: CheckinSchedule, now: dt.datetime) -> bool:
    return schedule.locked_until is not None and schedule.locked_until > now


def lock_state(schedule: CheckinSchedule) -> LockState | None:
    """The lock in force, or None. Call with a schedule the actor was allowed to fetch."""
    now = clock.now()
    if not is_locked(schedule, now) or schedule.locked_until is None:
        return None
    since = schedule.locked_at or schedule.locked_until - LOCKOUT
    attempts = Checkin.objects.filter(
        schedule=schedule, outcome=Checkin.Outcome.LOCKED, at__gte=since
    ).count()
    return LockState(
        locked_at=schedule.locked_at,
        locked_until=schedule.locked_until,
        failures=schedule.failed_attempts,
        attempts_while_locked=attempts,
    )


def count_failure(schedule: CheckinSchedule, now: dt.datetime, channel: str) -> bool:
    """Count one wrong PIN on an unlocked schedule (locked for update by the caller); lock it,
    and alert the team, at every LOCKOUT_ATTEMPTS-th in a row. True if it is now locked."""
    schedule.failed_attempts += 1
    if schedule.failed_attempts % LOCKOUT_ATTEMPTS:
        schedule.save(update_fields=["failed_attempts", "updated_at"])
        audit.record(
            "refuge.alerts.checkin.refused",
            actor=None,
            obj=schedule,
            detail={"channel": channel, "failures": schedule.failed_attempts},
        )
        return False
    schedule.locked_at = now
    schedule.locked_until = now + LOCKOUT
    schedule.save(update_fields=["failed_attempts", "locked_at", "locked_until", "updated_at"])
    audit.record(
        "refuge.alerts.schedule.locked",
        actor=None,
        obj=schedule,
        detail={
            "channel": channel,
            "until": schedule.locked_until.isoformat(),
            "failures": schedule.failed_attempts,
        },
    )
    emergencies.raise_alert(
        source=EmergencySource.LOCKOUT,
        people=[schedule.person],
        priority=Priority.HIGH,
        reported_at=now,
        dedupe_key=f"lockout:{schedule.pk}:{now.isoformat()}",
    )
    return True


def _clean_reason(reason: str) -> str:
    errors: dict[str, list[str]] = {}
    text = validation.clean_text(reason, limit=MAX_REASON, field="reason", errors=errors)
    if not text and not errors:
        errors["reason"] = [
            _("Say why check-ins may resume, e.g. how the person was reached and confirmed.")
        ]
    if errors:
        raise DomainError(_("Please correct the errors below."), field_errors=errors)
    return text


def _lockout_emergency(schedule: CheckinSchedule) -> Emergency | None:
    alert = (
        Alert.objects.filter(source=EmergencySource.LOCKOUT, person_id=schedule.person_id)
        .select_related("emergency")
        .order_by("-raised_at")
        .first()
    )
    return alert.emergency if alert is not None else None


def checkins_unlock(*, actor: Any, schedule: CheckinSchedule, reason: str) -> CheckinSchedule:
    """Lift a lockout before it runs out. The wrong-PIN count starts again from zero."""
    can_edit_person(actor, schedule.person)
    text = _clean_reason(reason)
    with transaction.atomic():
        current = CheckinSchedule.objects.select_for_update(of=("self",)).get(pk=schedule.pk)
        state = lock_state(current)
        if state is None:
            raise DomainError(_("Check-ins are not locked: there is nothing to unlock."))
        emergency = _lockout_emergency(current)
        if emergency is None:  # a lockout always raises its alert; only imported data lacks one
            raise DomainError(
                _("No emergency records this lockout. Set the PINs again to lift it.")
            )
        current.locked_until = None
        current.locked_at = None
        current.failed_attempts = 0
        current.save(update_fields=["locked_until", "locked_at", "failed_attempts", "updated_at"])
        notes.write_note(
            emergency,
            actor=actor,
            text=_("Check-ins unlocked after %(failures)s wrong PINs. Reason: %(reason)s")
            % {"failures": state.failures, "reason": text},
        )
        audit.record(
            "refuge.alerts.schedule.unlocked",
            actor=actor,
            obj=current,
            detail={
                "locked_at": state.locked_at.isoformat() if state.locked_at else None,
                "failures": state.failures,
                "attempts_while_locked": state.attempts_while_locked,
                "emergency": emergency.code,
            },
        )
    return current
