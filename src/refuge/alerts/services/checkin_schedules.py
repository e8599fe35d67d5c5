"""A protected person's check-in schedule, as staff set it: kind, time zone, grace period, the
check-in window, pause and resume, and the PINs (keyed hashes only). The deadline arithmetic is in
alerts.deadlines; check-ins themselves, lockout and missed deadlines in services.checkins."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from refuge.alerts import deadlines, pins
from refuge.alerts.models import CheckinSchedule
from refuge.alerts.services.checkin_links import can_edit_person
from refuge.core import clock
from refuge.core.errors import DomainError
from refuge.people.models import ProtectedPerson
from refuge.security import audit

MAX_PAUSE = dt.timedelta(days=366)


def schedule_of(person: ProtectedPerson) -> CheckinSchedule | None:
    return CheckinSchedule.objects.filter(person=person).first()


def rule_of(schedule: CheckinSchedule) -> deadlines.Rule:
    return deadlines.Rule(
        kind=schedule.kind,
        interval_hours=schedule.interval_hours,
        daily_time=schedule.daily_time,
        time_zone=schedule.time_zone,
        window_minutes=schedule.window_minutes,
    )


def window_opens(schedule: CheckinSchedule) -> dt.datetime | None:
    """When check-ins start to count towards the pending deadline (None: none pending)."""
    if schedule.next_deadline is None:
        return None
    return deadlines.window_opens(rule_of(schedule), schedule.next_deadline)


def pending_window(
    schedule: CheckinSchedule | None,
) -> tuple[dt.datetime, dt.datetime, str] | None:
    """(opens, deadline, the person's time zone) of the check-in the schedule waits for; None
    while paused or when there is no schedule, as nothing is awaited then."""
    if schedule is None or schedule.paused or schedule.next_deadline is None:
        return None
    opens = deadlines.window_opens(rule_of(schedule), schedule.next_deadline)
    return opens, schedule.next_deadline, schedule.time_zone


def set_deadline(schedule: CheckinSchedule, deadline: dt.datetime) -> None:
    schedule.next_deadline = deadline
    schedule.alert_at = deadline + dt.timedelta(minutes=schedule.grace_minutes)


def restart(schedule: CheckinSchedule, now: dt.datetime, *, from_last: bool) -> None:
    rule = rule_of(schedule)
    after = schedule.last_checkin_at if from_last and schedule.last_checkin_at else now
    deadline = deadlines.first_deadline(rule, after=after)
    if deadline <= now:
        deadline = deadlines.first_deadline(rule, after=now)
    set_deadline(schedule, deadline)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _clean_window(
    kind: str, interval_hours: int | None, window_minutes: int | None
) -> list[str] | None:
    """What is wrong with a window (None: nothing). It may not exceed the period, or one
    check-in could count for two deadlines."""
    if window_minutes is None:
        return None
    if not _is_int(window_minutes) or window_minutes < deadlines.MIN_WINDOW_MINUTES:
        return [_("Enter a whole number of minutes, at least 15.")]
    if kind == CheckinSchedule.Kind.INTERVAL and window_minutes > (interval_hours or 0) * 60:
        return [
            _("The window cannot be longer than the interval (%(minutes)s minutes).")
            % {"minutes": (interval_hours or 0) * 60}
        ]
    if kind == CheckinSchedule.Kind.DAILY and window_minutes > deadlines.DAY_MINUTES:
        return [_("The window of a daily schedule cannot be longer than a day (1440 minutes).")]
    return None


def _clean_schedule(
    *,
    kind: str,
    interval_hours: int | None,
    daily_time: dt.time | None,
    time_zone: str,
    grace_minutes: int,
    window_minutes: int | None,
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
    if not errors and (window := _clean_window(kind, interval_hours, window_minutes)):
        errors["window_minutes"] = window
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
    window_minutes: int | None = None,
) -> CheckinSchedule:
    """Create or change a person's schedule; the deadline is counted from the last check-in
    (or from now, when there was none or it would already be past). Check-ins count from
    `window_minutes` before each deadline; None: 4 hours for a daily schedule, the whole
    interval for an interval schedule."""
    can_edit_person(actor, person)
    errors = _clean_schedule(
        kind=kind,
        interval_hours=interval_hours,
        daily_time=daily_time,
        time_zone=time_zone,
        grace_minutes=grace_minutes,
        window_minutes=window_minutes,
    )
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
        schedule.window_minutes = window_minutes or deadlines.default_window_minutes(
            kind, interval_hours
        )
        restart(schedule, clock.now(), from_last=True)
        schedule.save()
        audit.record(
            "refuge.alerts.schedule.created" if created else "refuge.alerts.schedule.changed",
            actor=actor,
            obj=schedule,
            detail={
                "person": str(person.pk),
                "kind": kind,
                "grace_minutes": grace_minutes,
                "window_minutes": schedule.window_minutes,
            },
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
        resume(schedule, clock.now())
        audit.record("refuge.alerts.schedule.resumed", actor=actor, obj=schedule, detail={})
    return schedule


def resume(schedule: CheckinSchedule, now: dt.datetime) -> None:
    schedule.paused = False
    schedule.paused_until = None
    restart(schedule, now, from_last=False)
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
        schedule.locked_at = None
        schedule.locked_until = None
        schedule.save(
            update_fields=[
                "pin_hash",
                "duress_pin_hash",
                "failed_attempts",
                "locked_at",
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
