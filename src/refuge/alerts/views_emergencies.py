"""The emergency line's staff pages: log a call, the live board, one emergency with its timed
events and actions, the one-time acknowledgement link, and the response-time report.

Thin interfaces: parse, call one selector or service, render. Emergencies are fetched through
refuge.alerts.selectors_emergencies (need-to-know via security.access.scope); outsiders get 404.
Every state change is a POST with a CSRF token; a refused one re-renders the page with the reason
and status 400. The pages work without JavaScript; htmx only refreshes the board.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from refuge.accounts.models import User
from refuge.alerts import selectors_emergencies as selectors
from refuge.alerts.forms_emergencies import CallForm, NoteForm, ResolveForm
from refuge.alerts.models import (
    Emergency,
    EmergencyEvent,
    EmergencySource,
    EmergencyState,
    Outcome,
)
from refuge.alerts.services import emergencies as services
from refuge.alerts.services import response
from refuge.core import clock
from refuge.core.errors import DomainError, NotFoundError
from refuge.core.web import apply_domain_error
from refuge.security import access
from refuge.security.sealing import SealedError

SECONDS_PER_MINUTE = 60
SECONDS_PER_HOUR = 3600
SECONDS_PER_DAY = 86400
UNAUTHORIZED = 401
NOT_FOUND = 404
# Event facts worth showing next to an event; anything else in its data stays out of the page.
EVENT_FACTS = {
    "source": gettext_lazy("Source"),
    "step": gettext_lazy("Step"),
    "round": gettext_lazy("Round"),
    "channel": gettext_lazy("Channel"),
    "late": gettext_lazy("Late"),
    "outcome": gettext_lazy("Outcome"),
    "people": gettext_lazy("People"),
    "via": gettext_lazy("Via"),
    "field": gettext_lazy("Adds to"),
}
# Notes written while sealed stand in for the field they would have extended.
NOTE_FIELDS = {
    "heard": gettext_lazy("What was heard"),
    "location_hint": gettext_lazy("Location hint"),
    "resolution_note": gettext_lazy("Resolution note"),
}
CHOICE_FACTS = {
    "source": dict(EmergencySource.choices),
    "outcome": dict(Outcome.choices),
    "field": NOTE_FIELDS,
}


def _actor(request: HttpRequest) -> User:
    # login_required has already sent anonymous visitors away; this narrows the type.
    if not isinstance(request.user, User):
        raise Http404
    return request.user


def elapsed(value: dt.timedelta | None) -> str:
    """A duration as staff read it on a board: "4 min 07 s", "1 h 05 min", "2 d 3 h"."""
    if value is None:
        return "—"
    seconds = max(int(value.total_seconds()), 0)
    days, rest = divmod(seconds, SECONDS_PER_DAY)
    hours, rest = divmod(rest, SECONDS_PER_HOUR)
    minutes, secs = divmod(rest, SECONDS_PER_MINUTE)
    if days:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}
    if minutes:
        return _("%(minutes)d min %(seconds)02d s") % {"minutes": minutes, "seconds": secs}
    return _("%(seconds)d s") % {"seconds": secs}


def _since(start: dt.datetime | None, end: dt.datetime | None) -> str:
    if start is None or end is None:
        return "—"
    return elapsed(end - start)


# --- The live board -------------------------------------------------------------------------------


def _board_context(actor: User, *, loaded_at: int) -> dict[str, Any]:
    rows = [
        {
            "emergency": row.emergency,
            "people": row.people,
            "since_reported": elapsed(row.since_reported),
            "since_opened": elapsed(row.since_opened),
            "to_acknowledge": _since(row.emergency.reported_at, row.emergency.acknowledged_at),
        }
        for row in selectors.emergency_board(actor=actor)
    ]
    # Polling refreshes the session like any request; it stops once the page has not been
    # loaded by a person for the idle limit, so an unattended screen still signs out.
    idle = int(clock.now().timestamp()) - loaded_at
    return {
        "rows": rows,
        "loaded_at": loaded_at,
        "polling": idle < settings.SESSION_IDLE_SECONDS,
        "idle_minutes": settings.SESSION_IDLE_SECONDS // SECONDS_PER_MINUTE,
    }


@login_required
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    if not selectors.sees_emergencies(actor=actor):
        raise Http404
    context = _board_context(actor, loaded_at=int(clock.now().timestamp()))
    return render(request, "alerts/emergency_board.html", context)


@require_GET
def board_partial(request: HttpRequest) -> HttpResponse:
    """The board's table alone, polled by htmx every few seconds."""
    if not isinstance(request.user, User):
        # A session that ended while the board was open: send the whole page to the login form
        # instead of swapping it into the table (htmx follows HX-Redirect on any status).
        refused = HttpResponse(status=UNAUTHORIZED)
        refused["HX-Redirect"] = redirect_to_login(reverse("alerts:board"))["Location"]
        return refused
    if not selectors.sees_emergencies(actor=request.user):
        raise Http404
    try:
        loaded_at = int(request.GET.get("loaded", ""))
    except ValueError:
        loaded_at = int(clock.now().timestamp())
    return render(request, "alerts/_board.html", _board_context(request.user, loaded_at=loaded_at))


# --- Log a call -----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def call_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    if not selectors.sees_emergencies(actor=actor):
        raise Http404
    form = CallForm(
        request.POST if request.method == "POST" else None,
        people=selectors.call_people_choices(actor=actor),
    )
    if form.is_bound and form.is_valid():
        try:
            emergency = services.emergency_open_call(
                actor=actor,
                caller=form.cleaned_data["caller"],
                heard=form.cleaned_data["heard"],
                location_hint=form.cleaned_data["location_hint"],
                people=list(form.cleaned_data["people"]),
                cases=[],  # the people's open cases are linked by the service
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(
                request,
                _("Emergency %(code)s is open; escalation has started.") % {"code": emergency.code},
            )
            return redirect("alerts:emergency_detail", emergency_id=emergency.pk)
    status = 400 if form.is_bound else 200
    return render(request, "alerts/emergency_call.html", {"form": form}, status=status)


# --- One emergency --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventRow:
    event: EmergencyEvent
    since_call: str
    facts: list[tuple[str, str]]
    note: str | None


def _fact_value(value: Any, choices: dict[str, Any] | None = None) -> str:
    if choices is not None:
        return str(choices.get(value, value))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _event_rows(actor: User, emergency: Emergency) -> list[EventRow]:
    rows = []
    for item in selectors.emergency_events(actor=actor, emergency=emergency):
        data = item.data or {}
        facts = [
            (str(label), _fact_value(data[key], CHOICE_FACTS.get(key)))
            for key, label in EVENT_FACTS.items()
            if data.get(key) not in (None, "", [], False)
        ]
        item.emergency = emergency  # the note is under the emergency's key, loaded already
        try:
            note = selectors.event_note_text(event=item)
        except SealedError:  # alerts work while sealed; the note's text waits for the unseal
            note = _("(sealed: readable after the unseal)")
        rows.append(EventRow(item, _since(emergency.reported_at, item.at), facts, note))
    return rows


def _text_unless_sealed(actor: User, emergency: Emergency) -> selectors.EmergencyText | None:
    """None while sealed: the page still works, the encrypted parts say "sealed"."""
    try:
        return selectors.emergency_text(actor=actor, emergency=emergency)
    except SealedError:
        return None


def _render_detail(
    request: HttpRequest,
    emergency: Emergency,
    *,
    resolve_form: ResolveForm | None = None,
    note_form: NoteForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    actor = _actor(request)
    state = emergency.state
    context = {
        "emergency": emergency,
        "people": selectors.emergency_people(emergency=emergency),
        "cases": selectors.emergency_cases(actor=actor, emergency=emergency),
        "text": _text_unless_sealed(actor, emergency),
        "events": _event_rows(actor, emergency),
        "times": [
            (_("Call or SOS"), emergency.reported_at, "—"),
            (_("Opened"), emergency.opened_at, _since(emergency.reported_at, emergency.opened_at)),
            *(
                (label, at, _since(emergency.reported_at, at))
                for label, at in (
                    (_("First notification"), emergency.first_notified_at),
                    (_("Acknowledged"), emergency.acknowledged_at),
                    (_("On the way"), emergency.en_route_at),
                    (_("On site"), emergency.on_site_at),
                    (_("Resolved"), emergency.resolved_at),
                )
                if at is not None
            ),
        ],
        "can_acknowledge": state == EmergencyState.OPEN,
        "can_en_route": state in {EmergencyState.OPEN, EmergencyState.ACKNOWLEDGED},
        "can_on_site": state
        in {EmergencyState.OPEN, EmergencyState.ACKNOWLEDGED, EmergencyState.EN_ROUTE},
        "is_active": emergency.is_active,
        "resolve_form": resolve_form or ResolveForm(),
        "note_form": note_form or NoteForm(),
        "error": error,
    }
    return render(request, "alerts/emergency_detail.html", context, status=status)


def _emergency(request: HttpRequest, emergency_id: uuid.UUID, action: str) -> Emergency:
    return selectors.emergency_get(actor=_actor(request), emergency_id=emergency_id, action=action)


@login_required
@require_GET
def emergency_detail(request: HttpRequest, emergency_id: uuid.UUID) -> HttpResponse:
    return _render_detail(request, _emergency(request, emergency_id, access.VIEW))


def _detail_url(emergency: Emergency, anchor: str = "") -> str:
    url = reverse("alerts:emergency_detail", args=[emergency.pk])
    return f"{url}#{anchor}" if anchor else url


def _act(
    request: HttpRequest,
    emergency_id: uuid.UUID,
    change: Callable[..., Any],
    done: str,
) -> HttpResponse:
    actor = _actor(request)
    emergency = _emergency(request, emergency_id, access.EDIT)
    try:
        change(actor=actor, emergency=emergency)
    except DomainError as error:
        emergency.refresh_from_db()
        return _render_detail(request, emergency, error=error.message, status=400)
    messages.success(request, done % {"code": emergency.code})
    return redirect(_detail_url(emergency))


@login_required
@require_POST
def emergency_acknowledge(request: HttpRequest, emergency_id: uuid.UUID) -> HttpResponse:
    return _act(
        request, emergency_id, response.emergency_acknowledge, _("You acknowledged %(code)s.")
    )


@login_required
@require_POST
def emergency_en_route(request: HttpRequest, emergency_id: uuid.UUID) -> HttpResponse:
    return _act(
        request, emergency_id, response.emergency_en_route, _("%(code)s: you are on the way.")
    )


@login_required
@require_POST
def emergency_on_site(request: HttpRequest, emergency_id: uuid.UUID) -> HttpResponse:
    return _act(request, emergency_id, response.emergency_on_site, _("%(code)s: you are on site."))


@login_required
@require_POST
def emergency_resolve(request: HttpRequest, emergency_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    emergency = _emergency(request, emergency_id, access.EDIT)
    form = ResolveForm(request.POST)
    if form.is_valid():
        try:
            response.emergency_resolve(
                actor=actor,
                emergency=emergency,
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["note"],
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("%(code)s is resolved.") % {"code": emergency.code})
            return redirect(_detail_url(emergency))
    emergency.refresh_from_db()
    return _render_detail(request, emergency, resolve_form=form, status=400)


@login_required
@require_POST
def emergency_note(request: HttpRequest, emergency_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    emergency = _emergency(request, emergency_id, access.LOG)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            response.emergency_add_note(
                actor=actor, emergency=emergency, text=form.cleaned_data["text"]
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("Note added."))
            return redirect(_detail_url(emergency, "events"))
    emergency.refresh_from_db()
    return _render_detail(request, emergency, note_form=form, status=400)


# --- The one-time acknowledgement link ------------------------------------------------------------


def _ack_page(
    request: HttpRequest, emergency: Emergency | None, *, done: bool = False
) -> HttpResponse:
    """The confirmation (a usable link), the thanks (just used), or the neutral page (unknown or
    used link, with status 404). Only the code and pseudonyms, never anything else."""
    context = {
        "emergency": emergency,
        "people": selectors.emergency_pseudonyms(emergency=emergency) if emergency else [],
        "done": done,
    }
    status = 200 if emergency is not None else NOT_FOUND
    # The token is in the URL; the site-wide Referrer-Policy (same-origin) keeps it from other
    # sites. Not no-referrer: browsers would then send "Origin: null" and fail the CSRF check.
    return render(request, "alerts/ack_link.html", context, status=status)


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def ack_link(request: HttpRequest, token: str) -> HttpResponse:
    """The link in a notification: GET asks for confirmation (a mail scanner or a link preview
    must not acknowledge anything); POST acknowledges. No login needed: the token is the
    capability, and it works once."""
    if request.method == "GET":
        return _ack_page(request, selectors.ack_link_emergency(token=token))
    try:
        emergency = response.emergency_acknowledge_by_token(token)
    except (NotFoundError, DomainError):
        return _ack_page(request, None)
    return _ack_page(request, emergency, done=True)


# --- The report -----------------------------------------------------------------------------------


@login_required
@require_GET
def report(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    try:
        months = int(request.GET.get("months", selectors.REPORT_MONTHS))
    except ValueError:
        months = selectors.REPORT_MONTHS
    rows = selectors.emergency_report(actor=actor, months=months)
    context = {
        "months": [
            {
                "report": month,
                "stats": [
                    (_("Time to acknowledge"), month.to_acknowledge, _stats(month.to_acknowledge)),
                    (_("Time to on site"), month.to_on_site, _stats(month.to_on_site)),
                ],
            }
            for month in rows
        ],
        "window": min(max(months, 1), selectors.MAX_REPORT_MONTHS),
    }
    return render(request, "alerts/report.html", context)


def _stats(dist: selectors.Distribution) -> dict[str, str]:
    return {
        "median": elapsed(dist.median),
        "p90": elapsed(dist.p90),
        "maximum": elapsed(dist.maximum),
    }
