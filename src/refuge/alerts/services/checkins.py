"""Check-ins, PINs and the lockout, cancellation and missed deadlines. The schedules themselves
(kind, window, pause, PINs) are set in services.checkin_schedules.

The window. A check-in with a right PIN counts only inside the window before the pending deadline
(alerts.deadlines); an earlier one is recorded as early and leaves the deadline pending, so a
check-in at 09:22 no longer silences the evening's 21:00. Early or not, the normal and the duress
PIN are treated alike.

Duress design. A check-in with the duress PIN must look exactly like one with the normal PIN:
same result, same next deadline, same status, and the same work on the request path, so that its
response time gives nothing away either. Both take one code path: both PIN hashes are computed
(alerts.pins.match), a Checkin row is written (its under_duress flag is the only difference, a
value in the same INSERT), the deadline advances, and the worker is sent the same signal on
commit. The worker's tick finds the duress check-ins whose alarm is not raised yet through a
partial index (`raise_duress_alarms`) and raises the top-priority duress alert, within
milliseconds (a duress check-in's signal asks for a tick) or, if the signal is lost, at the next
poll. Raising the alert on the request path would add a dozen writes to the duress path only,
which a stopwatch can tell apart; a job queued for every check-in would cost every check-in (and
the worker) a row and its bookkeeping for the rare one that needs it.

Wrong PINs count towards a lockout; the duress PIN is a success like the normal one, so the
lockout cannot reveal whether a duress PIN exists. Links, sender bindings and inbound message ids
live in alerts.services.checkin_links, SOS in alerts.services.sos (both re-exported here).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from refuge.alerts import deadlines, pins
from refuge.alerts.models import (
    ACTIVE_STATES,
    Alert,
    Checkin,
    CheckinSchedule,
    EmergencyEvent,
    EmergencySource,
    InboundMessage,
    Priority,
)
from refuge.alerts.services import (
    cancellation,
    checkin_links,
    checkin_lockout,
    checkin_schedules,
    emergencies,
    missed,
    sos,
    source_windows,
)
from refuge.core import clock, jobs, rows, wakeup
from refuge.people.models import ProtectedPerson
from refuge.security import audit

logger = logging.getLogger(__name__)

LOCKOUT_ATTEMPTS = checkin_lockout.LOCKOUT_ATTEMPTS
LOCKOUT = checkin_lockout.LOCKOUT
# Duress check-ins raised per transaction by one tick (each in a savepoint of its own).
DURESS_ALARMS_PER_TICK = 100
MAX_PIN_INPUT = 64
CHECKINS_KEPT = dt.timedelta(days=30)
INBOUND_KEPT = dt.timedelta(days=7)
# Hashed instead of a missing schedule's PINs, so an unknown sender costs the same hashing.
_NOBODY = "00000000-0000-0000-0000-000000000000"

# The personal links, for interfaces that manage a person's check-ins in one place.
link_issue = checkin_links.link_issue
link_revoke = checkin_links.link_revoke
link_path = checkin_links.link_path
link_person = checkin_links.link_person
# Schedules, for interfaces that manage a person's check-ins in one place.
schedule_of = checkin_schedules.schedule_of
schedule_set = checkin_schedules.schedule_set
schedule_pause = checkin_schedules.schedule_pause
schedule_resume = checkin_schedules.schedule_resume
pins_set = checkin_schedules.pins_set
rule_of = checkin_schedules.rule_of
window_opens = checkin_schedules.window_opens
pending_window = checkin_schedules.pending_window
MAX_PAUSE = checkin_schedules.MAX_PAUSE
# The lockout, for interfaces that show and lift it with the rest of the schedule.
lock_state = checkin_lockout.lock_state
checkins_unlock = checkin_lockout.checkins_unlock
# SOS, for interfaces that take SOS and check-ins from the same place.
sos_submit = sos.sos_submit
sos_from_unknown = sos.sos_from_unknown
# The per-address limit of links that open nothing.
bad_link_limited = source_windows.bad_link_limited


def limit_window_left() -> int:
    """Seconds until the per-address limits start again (for Retry-After)."""
    return source_windows.window_left(clock.now())


@dataclass(frozen=True)
class CheckinResult:
    """What the person is told. Deliberately has no field that could say "duress".

    An accepted check-in either counted (the next deadline moved on) or was `early` (before the
    window: recorded, the pending deadline stays); either way the person is told the window of
    the deadline now pending, from `window_opens` to `next_deadline`."""

    accepted: bool
    next_deadline: dt.datetime | None = None
    time_zone: str = ""
    window_opens: dt.datetime | None = None
    early: bool = False
    locked: bool = False


REFUSED = CheckinResult(accepted=False)
# Check-ins are locked after wrong PINs: the person's page says so (and to reach the team another
# way); it is the same whatever PIN was entered, so it says nothing about a duress PIN.
LOCKED = CheckinResult(accepted=False, locked=True)


@dataclass(frozen=True)
class _Attempt:
    """Which PIN was entered, on which schedule (locked for update), and whether its check-ins
    are locked (already, or by this very attempt)."""

    verdict: pins.PinMatch
    schedule: CheckinSchedule | None
    locked: bool = False


def _verify(
    schedule: CheckinSchedule | None, pin: str, channel: str, *, person: Any = None
) -> _Attempt:
    """Which PIN this is, counting failures towards the lockout. Call inside a transaction.
    The schedule is read locked here, by its id or (given `person` instead) by its person's."""
    pin = (pin or "").strip()[:MAX_PIN_INPUT]
    # The person is not joined: a check-in never needs it, and the rare paths that do (a
    # lockout's alert, a cancelled SOS) read it then.
    locked = CheckinSchedule.objects.select_for_update()
    if schedule is not None:
        current: CheckinSchedule | None = locked.get(pk=schedule.pk)
    elif person is not None:
        current = locked.filter(person=person).first()
    else:
        current = None
    if current is None:
        pins.match(_NOBODY, pin, normal_hash="", duress_hash="")
        return _Attempt(pins.PinMatch.NONE, None)
    verdict = pins.match(
        str(current.pk), pin, normal_hash=current.pin_hash, duress_hash=current.duress_pin_hash
    )
    now = clock.now()
    if checkin_lockout.is_locked(current, now):
        _record_while_locked(current, now, channel, under_duress=verdict is pins.PinMatch.DURESS)
        return _Attempt(pins.PinMatch.NONE, current, locked=True)
    if verdict is pins.PinMatch.NONE:
        return _Attempt(
            verdict, current, locked=checkin_lockout.count_failure(current, now, channel)
        )
    return _Attempt(verdict, current)


def _record_while_locked(
    schedule: CheckinSchedule, now: dt.datetime, channel: str, *, under_duress: bool
) -> None:
    """Any PIN entered while locked, right or wrong, is refused and recorded the same way (one
    row, one signal to the worker, one audit entry), so neither the answer nor the time taken
    tells them apart; a duress PIN among them still raises its alarm from the worker's tick."""
    checkin = Checkin.objects.create(
        schedule=schedule,
        at=now,
        channel=channel,
        outcome=Checkin.Outcome.LOCKED,
        under_duress=under_duress,
    )
    _signal_worker(checkin)
    audit.record(
        "refuge.alerts.checkin.refused_while_locked",
        actor=None,
        obj=schedule,
        detail={"channel": channel},
    )


def is_locked(schedule: CheckinSchedule) -> bool:
    """Are the schedule's check-ins locked right now? Pass a schedule read after any attempt
    that may have locked it (schedule_of reads it afresh)."""
    return checkin_lockout.is_locked(schedule, clock.now())


def checkin_submit(
    *,
    schedule: CheckinSchedule | None = None,
    person: ProtectedPerson | None = None,
    pin: str,
    channel: str,
) -> CheckinResult:
    """A check-in with a PIN, on `schedule` or on the schedule of `person` (read once, locked:
    a caller that has only the person need not read the schedule first). The result is the
    same for the normal and the duress PIN; a wrong PIN and a person without a schedule get
    REFUSED; any PIN while the check-ins are locked (and the wrong PIN that locks them) gets
    LOCKED."""
    with transaction.atomic():
        attempt = _verify(schedule, pin, channel, person=person)
        if attempt.locked:
            return LOCKED
        if attempt.verdict is pins.PinMatch.NONE or attempt.schedule is None:
            return REFUSED
        return _accept(
            attempt.schedule, channel, under_duress=attempt.verdict is pins.PinMatch.DURESS
        )


def _accept(schedule: CheckinSchedule, channel: str, *, under_duress: bool) -> CheckinResult:
    """Record a check-in with a right PIN. Inside the window it counts and the deadline moves
    on; before it, it is early and the deadline stays. The normal and the duress PIN take this
    same path (see the module's docstring); the worker's tick tells them apart later."""
    now = clock.now()
    rule = rule_of(schedule)
    counted = deadlines.counts(rule, checked_in_at=now, pending=schedule.next_deadline)
    checkin = Checkin(
        schedule=schedule,
        at=now,
        channel=channel,
        outcome=Checkin.Outcome.COUNTED if counted else Checkin.Outcome.EARLY,
        under_duress=under_duress,
    )
    rows.insert([checkin])  # plain SQL: this runs inside SQLite's write lock (core.rows)
    schedule.failed_attempts = 0
    changed = ["failed_attempts", "updated_at"]
    if schedule.missed_deadline is not None:
        _show_on_emergency(schedule.pk, schedule.missed_deadline, now, channel)
        schedule.missed_deadline = None
        changed.append("missed_deadline")
    if counted:
        schedule.last_checkin_at = now
        checkin_schedules.set_deadline(
            schedule,
            deadlines.deadline_after_checkin(
                rule, checked_in_at=now, pending=schedule.next_deadline
            ),
        )
        changed += ["last_checkin_at", "next_deadline", "alert_at"]
    schedule.save(update_fields=changed)
    _signal_worker(checkin)
    audit.record(
        "refuge.alerts.checkin.recorded",
        actor=None,
        obj=schedule,
        detail={"channel": channel, "counted": counted},
    )
    return CheckinResult(
        accepted=True,
        next_deadline=schedule.next_deadline,
        time_zone=schedule.time_zone,
        window_opens=window_opens(schedule),
        early=not counted,
    )


def _show_on_emergency(
    schedule_id: Any, deadline: dt.datetime, now: dt.datetime, channel: str
) -> None:
    """The first check-in after a missed deadline goes on the timeline of the emergency the miss
    raised, while it is active: the people answering it learn the person checked in, when and
    how. The same for the normal and the duress PIN (a duress check-in's alarm joins the same
    emergency moments later, at top priority)."""
    emergency_id = (
        Alert.objects.filter(
            dedupe_key=missed.dedupe_key(schedule_id, deadline),
            emergency__state__in=ACTIVE_STATES,
        )
        .values_list("emergency_id", flat=True)
        .first()
    )
    if emergency_id is None:
        return  # resolved meanwhile, or the miss joined nothing that is still open
    rows.insert(
        [
            EmergencyEvent(
                emergency_id=emergency_id,
                kind=EmergencyEvent.Kind.CHECKED_IN_LATE,
                at=now,
                data={"channel": channel, "deadline": deadline.astimezone(dt.UTC).isoformat()},
            )
        ]
    )


def _signal_worker(checkin: Checkin) -> None:
    """The same signal to the worker on commit for the normal and the duress PIN (one datagram,
    or one NOTIFY statement), but only a duress check-in's asks for a tick: the worker ticks at
    once and the alarm is raised within milliseconds; a normal one's makes it tick for nothing
    (bench/README.md, "Check-ins"). Neither the page, nor the work the request does, tells the
    two apart."""
    wakeup.wake_worker(work=checkin.under_duress)


def raise_duress_alarms(now: dt.datetime | None = None) -> int:
    """The worker's tick: raise the top-priority duress alert of every duress check-in whose
    alarm is not raised yet (it opens an emergency or joins the person's open one), and mark it
    raised in the same transaction. One read of an index that is empty almost always.

    Claimed with SKIP LOCKED on PostgreSQL, so two workers never raise the same one; and an
    alert is never raised twice (its dedupe key is the check-in's). One that fails stays
    unraised, logged, and is tried again at the next tick; the others are raised all the same.
    Returns how many alarms were raised."""
    now = now or clock.now()
    pending = Checkin.objects.filter(under_duress=True, alarm_raised_at__isnull=True)
    if not pending.exists():
        return 0  # the common case: no write transaction (on SQLite, no write lock)
    raised = 0
    with transaction.atomic():
        claimed = pending.select_related("schedule__person").order_by("at")
        if connection.vendor == "postgresql":
            claimed = claimed.select_for_update(skip_locked=True, of=("self",))
        for checkin in claimed[:DURESS_ALARMS_PER_TICK]:
            try:
                with transaction.atomic():
                    emergencies.raise_alert(
                        source=EmergencySource.DURESS,
                        people=[checkin.schedule.person],
                        priority=Priority.TOP,
                        reported_at=checkin.at,
                        dedupe_key=f"duress:{checkin.pk}",
                    )
                    Checkin.objects.filter(pk=checkin.pk).update(alarm_raised_at=now)
            except Exception as exc:  # noqa: BLE001 - one bad row must not hold back the others
                logger.warning(
                    "duress alarm of check-in %s not raised yet: %s",
                    checkin.pk,
                    jobs.describe_error(exc),
                )
                continue
            raised += 1
    return raised


def cancel_submit(*, schedule: CheckinSchedule | None, pin: str, channel: str) -> bool:
    """The person cancels an SOS with their PIN. With the duress PIN the alarm stays and
    escalates (cancellation.cancel_by_person); the caller shows the same page for both."""
    with transaction.atomic():
        attempt = _verify(schedule, pin, channel)
        current = attempt.schedule
        if attempt.verdict is pins.PinMatch.NONE or current is None:
            return False
        current.failed_attempts = 0
        current.save(update_fields=["failed_attempts", "updated_at"])
        cancellation.cancel_by_person(
            person=current.person,
            via_duress=attempt.verdict is pins.PinMatch.DURESS,
            channel=channel,
        )
    return True


def checkins_detect_missed(now: dt.datetime | None = None, limit: int = missed.LIMIT) -> int:
    """Raise an alert for every schedule whose deadline + grace has passed, then move it on to
    its next deadline (alerts.services.missed). Returns how many schedules fired."""
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
