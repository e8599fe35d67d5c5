"""A protected person's check-ins, for staff: the schedule, the next deadline and its window spelled
out in the person's and the viewer's time zones, the last and the recent check-ins, the PIN lockout,
and the forms that change them (schedule, pause and resume, PINs, unlock, the personal link).

The schedule follows the person: whoever may see the person sees it (operators see every
schedule's state), whoever may change the person changes it. Outsiders get 404. PINs are never
rendered back, never logged (sensitive_post_parameters keeps them out of error reports), and a new
personal link is shown once, in the response to the POST that issued it.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from refuge.alerts import selectors_checkins as checkin_history
from refuge.alerts import selectors_emergencies as selectors
from refuge.alerts.forms_checkins import UnlockForm
from refuge.alerts.forms_emergencies import PauseForm, PinsForm, ScheduleForm
from refuge.alerts.models import CheckinSchedule
from refuge.alerts.services import checkin_links
from refuge.alerts.services import checkins as services
from refuge.alerts.views_emergencies import _actor, elapsed
from refuge.core import clock, formatting
from refuge.core.errors import DomainError
from refuge.core.web import apply_domain_error
from refuge.people.models import ProtectedPerson
from refuge.security import access


@dataclass(frozen=True)
class Moment:
    """One instant as the page shows it: in the person's zone, in the viewer's, and relative."""

    at: dt.datetime
    person_zone: str
    viewer_zone: str
    relative: str


def _in_zone(value: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    local = timezone.localtime(value, zone)
    offset = local.strftime("%z")
    return _("%(when)s (%(zone)s, UTC%(offset)s)") % {
        "when": formatting.weekday_datetime(local),
        "zone": zone.key,
        "offset": f"{offset[:3]}:{offset[3:]}",
    }


def _person_zone(schedule: CheckinSchedule) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(schedule.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def moment(value: dt.datetime | None, schedule: CheckinSchedule) -> Moment | None:
    if value is None:
        return None
    now = clock.now()
    viewer = timezone.get_current_timezone()
    if value >= now:
        relative = _("in %(duration)s") % {"duration": elapsed(value - now)}
    else:
        relative = _("%(duration)s ago") % {"duration": elapsed(now - value)}
    return Moment(
        at=value,
        person_zone=_in_zone(value, _person_zone(schedule)),
        viewer_zone=_in_zone(value, viewer if isinstance(viewer, zoneinfo.ZoneInfo) else _utc()),
        relative=relative,
    )


def _utc() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo("UTC")


def _schedule_initial(schedule: CheckinSchedule | None) -> dict[str, Any]:
    if schedule is None:
        return {"kind": CheckinSchedule.Kind.DAILY, "time_zone": settings.TIME_ZONE}
    return {
        "kind": schedule.kind,
        "interval_hours": schedule.interval_hours,
        "daily_time": schedule.daily_time,
        "time_zone": schedule.time_zone,
        "grace_minutes": schedule.grace_minutes,
        "window_minutes": schedule.window_minutes,
    }


def _render(
    request: HttpRequest,
    person: ProtectedPerson,
    *,
    schedule_form: ScheduleForm | None = None,
    pause_form: PauseForm | None = None,
    pins_form: PinsForm | None = None,
    unlock_form: UnlockForm | None = None,
    new_link: str = "",
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    actor = _actor(request)
    schedule = selectors.checkin_schedule_get(actor=actor, person=person)
    can_edit = selectors.checkin_schedule_can_edit(actor=actor, person=person)
    context: dict[str, Any] = {
        "person": person,
        "schedule": schedule,
        "can_edit": can_edit,
        "viewer_zone": timezone.get_current_timezone_name(),
        "new_link": new_link,
        "error": error,
    }
    if schedule is not None:
        context |= {
            "window_opens": moment(services.window_opens(schedule), schedule),
            "next_deadline": moment(schedule.next_deadline, schedule),
            "alert_at": moment(schedule.alert_at, schedule),
            "last_checkin": moment(schedule.last_checkin_at, schedule),
            "paused_until": moment(schedule.paused_until, schedule),
            "recent_checkins": [
                (checkin, moment(checkin.at, schedule))
                for checkin in checkin_history.checkin_recent(schedule=schedule)
            ],
            "pin_set": bool(schedule.pin_hash),
            "duress_pin_set": bool(schedule.duress_pin_hash),
            **_lock_context(schedule),
        }
    if can_edit:
        context |= {
            "links": selectors.checkin_live_links(person=person),
            "schedule_form": schedule_form or ScheduleForm(initial=_schedule_initial(schedule)),
            "pause_form": pause_form or PauseForm(),
            "pins_form": pins_form or PinsForm(),
            "unlock_form": unlock_form or UnlockForm(),
        }
    return render(request, "alerts/checkins_person.html", context, status=status)


def _lock_context(schedule: CheckinSchedule) -> dict[str, Any]:
    """The lockout as staff see it: since when, until when, after how many wrong PINs, how
    many attempts since; and the latest locks and unlocks."""
    lock = services.lock_state(schedule)
    return {
        "lock": lock,
        "locked_at": moment(lock.locked_at, schedule) if lock else None,
        "locked_until": moment(lock.locked_until, schedule) if lock else None,
        "lock_attempts": services.LOCKOUT_ATTEMPTS,
        "lock_history": [
            (event, moment(event.at, schedule))
            for event in checkin_history.lock_history(schedule=schedule)
        ],
    }


@login_required
@require_GET
def person_checkins(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    person = selectors.checkin_person_get(actor=_actor(request), person_id=person_id)
    return _render(request, person)


def _for_edit(request: HttpRequest, person_id: uuid.UUID) -> ProtectedPerson:
    return selectors.checkin_person_get(
        actor=_actor(request), person_id=person_id, action=access.EDIT
    )


def _schedule_for_edit(request: HttpRequest, person: ProtectedPerson) -> CheckinSchedule | None:
    return selectors.checkin_schedule_get(actor=_actor(request), person=person, action=access.EDIT)


def _done(request: HttpRequest, person: ProtectedPerson, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("alerts:person_checkins", person_id=person.pk)


def _no_schedule(request: HttpRequest, person: ProtectedPerson) -> HttpResponse:
    return _render(request, person, error=_("Set a schedule first."), status=400)


@login_required
@require_POST
def checkins_schedule_set(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    person = _for_edit(request, person_id)
    form = ScheduleForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.schedule_set(
                actor=_actor(request),
                person=person,
                kind=data["kind"],
                interval_hours=data["interval_hours"],
                daily_time=data["daily_time"],
                time_zone=data["time_zone"],
                grace_minutes=data["grace_minutes"],
                window_minutes=data["window_minutes"],
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            return _done(request, person, _("Check-in schedule saved."))
    return _render(request, person, schedule_form=form, status=400)


@login_required
@require_POST
def checkins_pause(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    person = _for_edit(request, person_id)
    schedule = _schedule_for_edit(request, person)
    if schedule is None:
        return _no_schedule(request, person)
    form = PauseForm(request.POST)
    if form.is_valid():
        try:
            services.schedule_pause(
                actor=_actor(request), schedule=schedule, until=form.cleaned_data["until"]
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            return _done(request, person, _("Check-ins paused."))
    return _render(request, person, pause_form=form, status=400)


@login_required
@require_POST
def checkins_resume(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    person = _for_edit(request, person_id)
    schedule = _schedule_for_edit(request, person)
    if schedule is None:
        return _no_schedule(request, person)
    try:
        services.schedule_resume(actor=_actor(request), schedule=schedule)
    except DomainError as error:
        return _render(request, person, error=error.message, status=400)
    return _done(request, person, _("Check-ins resumed."))


@sensitive_post_parameters("pin", "duress_pin")
@login_required
@require_POST
def checkins_pins_set(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    person = _for_edit(request, person_id)
    schedule = _schedule_for_edit(request, person)
    if schedule is None:
        return _no_schedule(request, person)
    form = PinsForm(request.POST)
    if form.is_valid():
        try:
            services.pins_set(
                actor=_actor(request),
                schedule=schedule,
                pin=form.cleaned_data["pin"],
                duress_pin=form.cleaned_data["duress_pin"] or None,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            return _done(
                request, person, _("PINs set. Tell the person in person, never in writing.")
            )
    # The inputs are PasswordInput(render_value=False): what was typed is never sent back.
    return _render(request, person, pins_form=form, status=400)


@login_required
@require_POST
def checkins_unlock(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    person = _for_edit(request, person_id)
    schedule = _schedule_for_edit(request, person)
    if schedule is None:
        return _no_schedule(request, person)
    form = UnlockForm(request.POST)
    if form.is_valid():
        try:
            services.checkins_unlock(
                actor=_actor(request), schedule=schedule, reason=form.cleaned_data["reason"]
            )
        except DomainError as error:
            if not error.field_errors:  # e.g. not locked (any more): no form to show it on
                return _render(request, person, error=error.message, status=400)
            apply_domain_error(form, error)
        else:
            return _done(request, person, _("Check-ins unlocked. The person can check in again."))
    return _render(request, person, unlock_form=form, status=400)


@login_required
@require_POST
def checkins_link_issue(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    person = _for_edit(request, person_id)
    try:
        token = checkin_links.link_issue(actor=_actor(request), person=person)
    except DomainError as error:
        return _render(request, person, error=error.message, status=400)
    # Shown once, in this response only (staff pages are never cached).
    return _render(request, person, new_link=personal_link(token))


@login_required
@require_POST
def checkins_link_revoke(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    person = _for_edit(request, person_id)
    try:
        checkin_links.link_revoke(actor=_actor(request), person=person)
    except DomainError as error:
        return _render(request, person, error=error.message, status=400)
    return _done(request, person, _("The personal link no longer works."))


def personal_link(token: str) -> str:
    """The protected person's own SOS and check-in page (on the public address, which may differ
    from the staff site's)."""
    return settings.PUBLIC_BASE_URL + checkin_links.link_path(token)
