"""Check-in schedules, PINs, check-ins, cancellation and missed deadlines.

Duress design. A check-in with the duress PIN must look exactly like one with the normal PIN:
same result, same next deadline, same status, and the same work on the request path, so that its
response time gives nothing away either. Both take one code path: both PIN hashes are computed
(alerts.pins.match), a Checkin row is written (its under_duress flag is the only difference, a
value in the same INSERT), the deadline advances, and one follow-up job is queued. The job, run
by the worker within one poll interval, raises the top-priority duress alert when the flag is
set and does nothing otherwise. Raising the alert on the request path would add a dozen writes
to the duress path only, which a stopwatch can tell apart.

Wrong PINs count towards a lockout; the duress PIN is a success like the normal one, so the
lockout cannot reveal whether a duress PIN exists. Links, sender bindings and inbound message ids
live in alerts.services.checkin_links, SOS in alerts.services.sos (both re-exported here).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from refuge.alerts import deadlines, pins
from refuge.alerts.models import (
    Checkin,
    CheckinSchedule,
    EmergencySource,
    InboundMessage,
    Priority,
)
from refuge.alerts.services import checkin_links, emergencies, sos
from refuge.alerts.services.checkin_links import can_edit_person
from refuge.core import clock, jobs
from refuge.core.errors import DomainError
from refuge.people.models import ProtectedPerson
from refuge.security import audit

logger = logging.getLogger(__name__)

LOCKOUT_ATTEMPTS = 5
LOCKOUT = dt.timedelta(minutes=30)
FOLLOWUP_JOB = "alerts.checkin_followup"
MAX_PIN_INPUT = 64
MAX_PAUSE = dt.timedelta(days=366)
CHECKINS_KEPT = dt.timedelta(days=30)
INBOUND_KEPT = dt.timedelta(days=7)
# Hashed instead of a missing schedule's PINs, so an unknown sender costs the same hashing.
_NOBODY = "00000000-0000-0000-0000-000000000000"

# The personal links, for interfaces that manage a person's check-ins in one place.
link_issue = checkin_links.link_issue
link_revoke = checkin_links.link_revoke
link_path = checkin_links.link_path
link_person = checkin_links.link_person
# SOS, for interfaces that take SOS and check-ins from the same place.
sos_submit = sos.sos_submit
sos_from_unknown = sos.sos_from_unknown


@dataclass(frozen=True)
class CheckinResult:
    """What the person is told. Deliberately has no field that could say "duress"."""

    accepted: bool
    next_deadline: dt.datetime | None = None
    time_zone: str = ""


REFUSED = CheckinResult(accepted=False)


def schedule_of(person: ProtectedPerson) -> CheckinSchedule | None:
    return CheckinSchedule.objects.filter(person=person).first()


def rule_of(schedule: CheckinSchedule) -> deadlines.Rule:
    return deadlines.Rule(
        kind=schedule.kind,
        interval_hours=schedule.interval_hours,
        daily_time=schedule.daily_time,
        time_zone=schedule.time_zone,
    )


def _set_deadline(schedule: CheckinSchedule, deadline: dt.datetime) -> None:
    schedule.next_deadline = deadline
    schedule.alert_at = deadline + dt.timedelta(minutes=schedule.grace_minutes)


def _restart(schedule: CheckinSchedule, now: dt.datetime, *, from_last: bool) -> None:
    rule = rule_of(schedule)
    after = schedule.last_checkin_at if from_last and schedule.last_checkin_at else now
    deadline = deadlines.first_deadline(rule, after=after)
    if deadline <= now:
        deadline = deadlines.first_deadline(rule, after=now)
    _set_deadline(schedule, deadline)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _clean_schedule(
    kind: str,
    interval_hours: int | None,
    daily_time: dt.time | None,
    time_zone: str,
    grace_minutes: int,
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if kind not in CheckinSchedule.Kind.values:
        errors["kind"] = [_("Choose “every N hours” or “daily at a time”.")]
    elif kind == CheckinSchedule.Kind.INTERVAL and not (
        _is_int(interval_hours)
        and deadlines.MIN_INTERVAL_HOURS <= int(interval_hours or 0) <= deadlines.MAX_INTERVAL_HOURS
    ):
        errors["interval_hours"] = [_("Enter a whole number of hours from 1 to 168.")]
    elif kind == CheckinSchedule.Kind.DAILY and not isinstance(daily_time, dt.time):
        errors["daily_time"] = [_("Enter a time of day, e.g. 21:00.")]
    if not deadlines.valid_zone(time_zone):
        errors["time_zone"] = [_("Choose a time zone such as Europe/Moscow.")]
    if not (
        _is_int(grace_minutes)
        and deadlines.MIN_GRACE_MINUTES <= grace_minutes <= deadlines.MAX_GRACE_MINUTES
    ):
        errors["grace_minutes"] = [_("Enter a grace period from 5 to 1440 minutes.")]
    return errors


def schedule_set(
    *,
    actor: Any,
    person: ProtectedPerson,
    kind: str,
    interval_hours: int | None = None,
    daily_time: dt.time | None = None,
    time_zone: str,
    grace_minutes: int,
) -> CheckinSchedule:
    """Create or change a person's schedule; the deadline is counted from the last check-in
    (or from now, when there was none or it would already be past)."""
    can_edit_person(actor, person)
    errors = _clean_schedule(kind, interval_hours, daily_time, time_zone, grace_minutes)
    if errors:
        raise DomainError(_("Please correct the errors below."), field_errors=errors)
    with transaction.atomic():
        schedule = CheckinSchedule.objects.select_for_update().filter(person=person).first()
        created = schedule is None
        if schedule is None:
            schedule = CheckinSchedule(person=person)
        schedule.kind = kind
        is_interval = kind == CheckinSchedule.Kind.INTERVAL
        schedule.interval_hours = interval_hours if is_interval else None
        schedule.daily_time = None if is_interval else daily_time
        schedule.time_zone = time_zone
        schedule.grace_minutes = grace_minutes
        _restart(schedule, clock.now(), from_last=True)
        schedule.save()
        audit.record(
            "refuge.alerts.schedule.created" if created else "refuge.alerts.schedule.changed",
            actor=actor,
            obj=schedule,
            detail={"person": str(person.pk), "kind": kind, "grace_minutes": grace_minutes},
        )
    return schedule


def schedule_pause(
    *, actor: Any, schedule: CheckinSchedule, until: dt.datetime | None = None
) -> CheckinSchedule:
    """No missed-check-in alerts until resumed (or until `until`, when the worker resumes it)."""
    can_edit_person(actor, schedule.person)
    now = clock.now()
    if until is not None and not (now < until <= now + MAX_PAUSE):
        raise DomainError(
            _("Please correct the errors below."),
            field_errors={"until": [_("Choose a time in the future, within a year.")]},
        )
    with transaction.atomic():
        schedule.paused = True
        schedule.paused_until = until
        schedule.save(update_fields=["paused", "paused_until", "updated_at"])
        audit.record(
            "refuge.alerts.schedule.paused",
            actor=actor,
            obj=schedule,
            detail={"until": until.isoformat() if until else None},
        )
    return schedule


def schedule_resume(*, actor: Any, schedule: CheckinSchedule) -> CheckinSchedule:
    """Alerts again; the next deadline is counted from now."""
    can_edit_person(actor, schedule.person)
    with transaction.atomic():
        _resume(schedule, clock.now())
        audit.record("refuge.alerts.schedule.resumed", actor=actor, obj=schedule, detail={})
    return schedule


def _resume(schedule: CheckinSchedule, now: dt.datetime) -> None:
    schedule.paused = False
    schedule.paused_until = None
    _restart(schedule, now, from_last=False)
    schedule.save(
        update_fields=["paused", "paused_until", "next_deadline", "alert_at", "updated_at"]
    )


def pins_set(
    *, actor: Any, schedule: CheckinSchedule, pin: str, duress_pin: str | None
) -> CheckinSchedule:
    """Set the normal PIN and the duress PIN (None or empty: no duress PIN). Clears a lockout.
    PIN values are never logged or audited; only keyed hashes are stored."""
    can_edit_person(actor, schedule.person)
    errors: dict[str, list[str]] = {}
    if not pins.PIN_RE.match(pin or ""):
        errors["pin"] = [_("A PIN is 4 to 8 digits.")]
    if duress_pin and not pins.PIN_RE.match(duress_pin):
        errors["duress_pin"] = [_("A PIN is 4 to 8 digits.")]
    elif duress_pin and duress_pin == pin:
        errors["duress_pin"] = [_("The duress PIN must differ from the normal PIN.")]
    if errors:
        raise DomainError(_("Please correct the errors below."), field_errors=errors)
    with transaction.atomic():
        schedule.pin_hash = pins.pin_hash(str(schedule.pk), pin)
        schedule.duress_pin_hash = pins.pin_hash(str(schedule.pk), duress_pin) if duress_pin else ""
        schedule.failed_attempts = 0
        schedule.locked_until = None
        schedule.save(
            update_fields=[
                "pin_hash",
                "duress_pin_hash",
                "failed_attempts",
                "locked_until",
                "updated_at",
            ]
        )
        audit.record(
            "refuge.alerts.schedule.pins_set",
            actor=actor,
            obj=schedule,
            detail={"duress_pin": bool(duress_pin)},
        )
    return schedule


def _verify(
    schedule: CheckinSchedule | None, pin: str, channel: str
) -> tuple[pins.PinMatch, CheckinSchedule | None]:
    """Which PIN this is, counting failures towards the lockout. Call inside a transaction."""
    pin = (pin or "").strip()[:MAX_PIN_INPUT]
    if schedule is None:
        pins.match(_NOBODY, pin, normal_hash="", duress_hash="")
        return pins.PinMatch.NONE, None
    locked = CheckinSchedule.objects.select_for_update(of=("self",)).select_related("person")
    current = locked.get(pk=schedule.pk)
    verdict = pins.match(
        str(current.pk), pin, normal_hash=current.pin_hash, duress_hash=current.duress_pin_hash
    )
    now = clock.now()
    if current.locked_until is not None and current.locked_until > now:
        return pins.PinMatch.NONE, current  # locked: not counted, the same refusal
    if verdict is pins.PinMatch.NONE:
        _count_failure(current, now, channel)
    return verdict, current


def _count_failure(schedule: CheckinSchedule, now: dt.datetime, channel: str) -> None:
    schedule.failed_attempts += 1
    if schedule.failed_attempts < LOCKOUT_ATTEMPTS:
        schedule.save(update_fields=["failed_attempts", "updated_at"])
        audit.record(
            "refuge.alerts.checkin.refused",
            actor=None,
            obj=schedule,
            detail={"channel": channel, "failures": schedule.failed_attempts},
        )
        return
    schedule.failed_attempts = 0
    schedule.locked_until = now + LOCKOUT
    schedule.save(update_fields=["failed_attempts", "locked_until", "updated_at"])
    audit.record(
        "refuge.alerts.schedule.locked",
        actor=None,
        obj=schedule,
        detail={"channel": channel, "until": schedule.locked_until.isoformat()},
    )
    emergencies.raise_alert(
        source=EmergencySource.LOCKOUT,
        people=[schedule.person],
        priority=Priority.HIGH,
        reported_at=now,
        dedupe_key=f"lockout:{schedule.pk}:{now.isoformat()}",
    )


def checkin_submit(*, schedule: CheckinSchedule | None, pin: str, channel: str) -> CheckinResult:
    """A check-in with a PIN. The result is the same for the normal and the duress PIN; a
    wrong PIN, a locked channel and a person without a schedule all get REFUSED."""
    with transaction.atomic():
        verdict, current = _verify(schedule, pin, channel)
        if verdict is pins.PinMatch.NONE or current is None:
            return REFUSED
        now = clock.now()
        checkin = Checkin.objects.create(
            schedule=current,
            at=now,
            channel=channel,
            under_duress=verdict is pins.PinMatch.DURESS,
        )
        deadline = deadlines.deadline_after_checkin(
            rule_of(current), checked_in_at=now, pending=current.next_deadline
        )
        current.last_checkin_at = now
        current.failed_attempts = 0
        _set_deadline(current, deadline)
        current.save(
            update_fields=[
                "last_checkin_at",
                "failed_attempts",
                "next_deadline",
                "alert_at",
                "updated_at",
            ]
        )
        jobs.enqueue(FOLLOWUP_JOB, {"checkin": checkin.pk}, idempotency_key=f"checkin:{checkin.pk}")
        audit.record(
            "refuge.alerts.checkin.recorded", actor=None, obj=current, detail={"channel": channel}
        )
    return CheckinResult(accepted=True, next_deadline=deadline, time_zone=current.time_zone)


def checkin_followup(*, checkin_id: Any) -> None:
    """Run by the worker after every check-in: a duress check-in opens a top-priority
    emergency (or joins the person's open one); a normal one needs nothing."""
    checkin = Checkin.objects.select_related("schedule__person").filter(pk=checkin_id).first()
    if checkin is None or not checkin.under_duress:
        return
    emergencies.raise_alert(
        source=EmergencySource.DURESS,
        people=[checkin.schedule.person],
        priority=Priority.TOP,
        reported_at=checkin.at,
        dedupe_key=f"duress:{checkin.pk}",
    )


def cancel_submit(*, schedule: CheckinSchedule | None, pin: str, channel: str) -> bool:
    """The person cancels an SOS with their PIN. With the duress PIN the alarm stays and
    escalates (emergencies.cancel_by_person); the caller shows the same page for both."""
    with transaction.atomic():
        verdict, current = _verify(schedule, pin, channel)
        if verdict is pins.PinMatch.NONE or current is None:
            return False
        current.failed_attempts = 0
        current.save(update_fields=["failed_attempts", "updated_at"])
        emergencies.cancel_by_person(
            person=current.person, via_duress=verdict is pins.PinMatch.DURESS, channel=channel
        )
    return True


def checkins_detect_missed(now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Raise an alert for every schedule whose deadline + grace has passed, then move it on to
    its next deadline (alerts.services.missed). Returns how many schedules fired."""
    from refuge.alerts.services import missed  # noqa: PLC0415 - missed builds on this module

    return missed.detect(now, limit)


def checkins_purge(now: dt.datetime | None = None) -> int:
    """Raw check-ins are kept CHECKINS_KEPT (the schedule keeps the last one's time), inbound
    message ids INBOUND_KEPT (far longer than a signed webhook stays valid)."""
    now = now or clock.now()
    with transaction.atomic():
        checkins_gone, _by_model = Checkin.objects.filter(at__lt=now - CHECKINS_KEPT).delete()
        inbound_gone, _by_model = InboundMessage.objects.filter(
            received_at__lt=now - INBOUND_KEPT
        ).delete()
    return checkins_gone + inbound_gone
