"""JSON endpoints of a person's check-in schedule: read, set, pause, resume, PINs, unlock after a
PIN lockout, recent check-ins, personal link.

The schedule follows the person: reading needs VIEW on the person, changing needs EDIT (whoever
may see or change the person, see alerts.access). A person the caller may not see answers 404,
exactly like one that does not exist. PINs are accepted, never returned; a new personal link is
returned once.
"""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Status

from refuge.accounts.api import actor, responses
from refuge.accounts.models import User
from refuge.alerts import selectors_checkins as checkin_history
from refuge.alerts import selectors_emergencies as selectors
from refuge.alerts.api.checkin_schemas import (
    CheckinOut,
    LinkOut,
    PauseIn,
    PinsIn,
    ScheduleIn,
    ScheduleOut,
    UnlockIn,
)
from refuge.alerts.models import Checkin, CheckinSchedule
from refuge.alerts.services import checkin_links, checkins
from refuge.cases.api.schemas import PersonRefOut
from refuge.core.errors import NotFoundError
from refuge.people.models import ProtectedPerson
from refuge.security import access

router = Router(tags=["emergency line"])


def _person_ref(person: ProtectedPerson) -> PersonRefOut:
    return PersonRefOut(id=person.pk, pseudonym=person.pseudonym, is_minor=person.is_minor)


def _person(user: User, person_id: UUID, action: str) -> ProtectedPerson:
    return selectors.checkin_person_get(actor=user, person_id=person_id, action=action)


def _schedule(user: User, person: ProtectedPerson, action: str) -> CheckinSchedule:
    schedule = selectors.checkin_schedule_get(actor=user, person=person, action=action)
    if schedule is None:
        raise NotFoundError
    return schedule


def _schedule_out(schedule: CheckinSchedule) -> ScheduleOut:
    lock = checkins.lock_state(schedule)
    return ScheduleOut(
        person=_person_ref(schedule.person),
        kind=CheckinSchedule.Kind(schedule.kind),
        interval_hours=schedule.interval_hours,
        daily_time=schedule.daily_time,
        time_zone=schedule.time_zone,
        grace_minutes=schedule.grace_minutes,
        window_minutes=schedule.window_minutes,
        paused=schedule.paused,
        paused_until=schedule.paused_until,
        next_deadline=schedule.next_deadline,
        window_opens_at=checkins.window_opens(schedule),
        alert_at=schedule.alert_at,
        last_checkin_at=schedule.last_checkin_at,
        pin_set=bool(schedule.pin_hash),
        duress_pin_set=bool(schedule.duress_pin_hash),
        live_links=len(selectors.checkin_live_links(person=schedule.person)),
        failed_attempts=schedule.failed_attempts,
        locked=lock is not None,
        locked_at=lock.locked_at if lock else None,
        locked_until=lock.locked_until if lock else None,
        attempts_while_locked=lock.attempts_while_locked if lock else 0,
    )


SCHEDULE = "/people/{person_id}/checkin-schedule"


@router.get(
    SCHEDULE,
    response=responses(200, ScheduleOut),
    summary="A person's check-in schedule (404 when there is none)",
)
def schedule_detail(request: HttpRequest, person_id: UUID) -> ScheduleOut:
    user = actor(request)
    return _schedule_out(_schedule(user, _person(user, person_id, access.VIEW), access.VIEW))


@router.put(
    SCHEDULE,
    response=responses(200, ScheduleOut),
    summary="Create or change a person's check-in schedule",
)
def schedule_set(request: HttpRequest, person_id: UUID, payload: ScheduleIn) -> ScheduleOut:
    user = actor(request)
    schedule = checkins.schedule_set(
        actor=user,
        person=_person(user, person_id, access.EDIT),
        kind=payload.kind,
        interval_hours=payload.interval_hours,
        daily_time=payload.daily_time,
        time_zone=payload.time_zone,
        grace_minutes=payload.grace_minutes,
        window_minutes=payload.window_minutes,
    )
    return _schedule_out(schedule)


@router.get(
    f"{SCHEDULE}/checkins",
    response=responses(200, list[CheckinOut]),
    summary="The schedule's recent check-ins, newest first (counted or early; kept 30 days)",
)
def schedule_checkins(request: HttpRequest, person_id: UUID) -> list[CheckinOut]:
    user = actor(request)
    schedule = _schedule(user, _person(user, person_id, access.VIEW), access.VIEW)
    return [
        CheckinOut(
            at=checkin.at,
            channel=Checkin.Channel(checkin.channel),
            outcome=Checkin.Outcome(checkin.outcome),
        )
        for checkin in checkin_history.checkin_recent(schedule=schedule)
    ]


def _for_edit(request: HttpRequest, person_id: UUID) -> tuple[User, CheckinSchedule]:
    user = actor(request)
    return user, _schedule(user, _person(user, person_id, access.EDIT), access.EDIT)


@router.post(f"{SCHEDULE}/pause", response=responses(200, ScheduleOut), summary="Pause")
def schedule_pause(request: HttpRequest, person_id: UUID, payload: PauseIn) -> ScheduleOut:
    user, schedule = _for_edit(request, person_id)
    return _schedule_out(
        checkins.schedule_pause(actor=user, schedule=schedule, until=payload.until)
    )


@router.post(f"{SCHEDULE}/resume", response=responses(200, ScheduleOut), summary="Resume")
def schedule_resume(request: HttpRequest, person_id: UUID) -> ScheduleOut:
    user, schedule = _for_edit(request, person_id)
    return _schedule_out(checkins.schedule_resume(actor=user, schedule=schedule))


@router.post(
    f"{SCHEDULE}/pins",
    response=responses(200, ScheduleOut),
    summary="Set the normal and the duress PIN (never returned)",
)
def schedule_pins(request: HttpRequest, person_id: UUID, payload: PinsIn) -> ScheduleOut:
    user, schedule = _for_edit(request, person_id)
    schedule = checkins.pins_set(
        actor=user, schedule=schedule, pin=payload.pin, duress_pin=payload.duress_pin or None
    )
    return _schedule_out(schedule)


@router.post(
    f"{SCHEDULE}/unlock",
    response=responses(200, ScheduleOut),
    summary="Lift a PIN lockout, with a reason (audited; the reason is a note on the emergency)",
)
def schedule_unlock(request: HttpRequest, person_id: UUID, payload: UnlockIn) -> ScheduleOut:
    user, schedule = _for_edit(request, person_id)
    return _schedule_out(
        checkins.checkins_unlock(actor=user, schedule=schedule, reason=payload.reason)
    )


@router.post(
    f"{SCHEDULE}/link",
    response=responses(201, LinkOut),
    summary="Issue a new personal link (returned once; the previous one stops working)",
)
def schedule_link_issue(request: HttpRequest, person_id: UUID) -> Status[LinkOut]:
    user = actor(request)
    token = checkin_links.link_issue(actor=user, person=_person(user, person_id, access.EDIT))
    return Status(201, LinkOut(url=settings.PUBLIC_BASE_URL + checkin_links.link_path(token)))


@router.delete(
    f"{SCHEDULE}/link",
    response=responses(204, None),
    summary="Revoke the personal link",
)
def schedule_link_revoke(request: HttpRequest, person_id: UUID) -> Status[None]:
    user = actor(request)
    checkin_links.link_revoke(actor=user, person=_person(user, person_id, access.EDIT))
    return Status(204, None)
