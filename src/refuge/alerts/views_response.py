"""One emergency's page and the actions that move it along: acknowledge, on the way, on site,
resolve, notes, and corrections of its times.

Thin interfaces: parse, call one selector or service, render. The emergency is fetched through
refuge.alerts.selectors_emergencies (need-to-know via security.access.scope); outsiders get 404.
Every state change is a POST with a CSRF token; a refused one re-renders the page with the reason
and status 400. Who may resolve is decided by the service (alerts.access.may_resolve); the page
only shows the form to those who may, and says who may otherwise.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from refuge.accounts.models import User
from refuge.alerts import selectors_calls
from refuge.alerts import selectors_emergencies as selectors
from refuge.alerts import selectors_timeline as timeline
from refuge.alerts.display import elapsed
from refuge.alerts.forms_emergencies import NoteForm, ResolveForm, TimeCorrectionForm
from refuge.alerts.models import Emergency, EmergencyEvent, EmergencyState
from refuge.alerts.services import corrections, response
from refuge.alerts.views_emergencies import _actor
from refuge.core.errors import DomainError
from refuge.core.web import apply_domain_error
from refuge.security import access
from refuge.security.sealing import SealedError


@dataclass(frozen=True)
class EventRow:
    row: timeline.TimelineRow
    since_call: str

    @property
    def event(self) -> EmergencyEvent:
        return self.row.event


def _since(start: Any, end: Any) -> str:
    if start is None or end is None:
        return "—"
    return elapsed(end - start)


def _text_unless_sealed(actor: User, emergency: Emergency) -> selectors.EmergencyText | None:
    """None while sealed: the page still works, the encrypted parts say "sealed"."""
    try:
        return selectors.emergency_text(actor=actor, emergency=emergency)
    except SealedError:
        return None


def _times(emergency: Emergency, rows: list[timeline.TimelineRow]) -> list[dict[str, Any]]:
    """The times table: each recorded step, how long after the call, and, when it was
    corrected, the time first recorded."""
    first_recorded: dict[str, str] = {}
    for row in rows:
        data = row.event.data or {}
        if row.event.kind == EmergencyEvent.Kind.TIME_CORRECTED:
            first_recorded[str(data.get("field"))] = str(data.get("original", ""))
    steps = [
        ("reported_at", _("Call or SOS"), emergency.reported_at),
        ("opened_at", _("Opened"), emergency.opened_at),
        ("first_notified_at", _("First notification"), emergency.first_notified_at),
        ("acknowledged_at", _("Acknowledged"), emergency.acknowledged_at),
        ("en_route_at", _("On the way"), emergency.en_route_at),
        ("on_site_at", _("On site"), emergency.on_site_at),
        ("resolved_at", _("Resolved"), emergency.resolved_at),
    ]
    return [
        {
            "label": label,
            "at": at,
            "since": "—" if name == "reported_at" else _since(emergency.reported_at, at),
            "first_recorded": timeline.parse_time(first_recorded.get(name)),
        }
        for name, label, at in steps
        if at is not None
    ]


def _render_detail(
    request: HttpRequest,
    emergency: Emergency,
    *,
    resolve_form: ResolveForm | None = None,
    note_form: NoteForm | None = None,
    correction_form: TimeCorrectionForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    actor = _actor(request)
    state = emergency.state
    rows = timeline.emergency_timeline(actor=actor, emergency=emergency)
    can_on_site = state in {
        EmergencyState.OPEN,
        EmergencyState.ACKNOWLEDGED,
        EmergencyState.EN_ROUTE,
    }
    context = {
        "emergency": emergency,
        "people": selectors.emergency_people(emergency=emergency),
        "cases": selectors.emergency_cases(actor=actor, emergency=emergency),
        "calls": selectors_calls.emergency_calls(actor=actor, emergency=emergency),
        "text": _text_unless_sealed(actor, emergency),
        "events": [EventRow(row, _since(emergency.reported_at, row.event.at)) for row in rows],
        "pages": timeline.emergency_pages(emergency=emergency),
        "times": _times(emergency, rows),
        "can_acknowledge": state == EmergencyState.OPEN,
        "can_en_route": state in {EmergencyState.OPEN, EmergencyState.ACKNOWLEDGED},
        "can_on_site": can_on_site,
        "can_resolve": selectors.emergency_may_resolve(actor=actor, emergency=emergency),
        "is_active": emergency.is_active,
        "resolve_form": resolve_form or ResolveForm(),
        "note_form": note_form or NoteForm(),
        "correction_form": correction_form or _correction_form(emergency),
        "error": error,
    }
    return render(request, "alerts/emergency_detail.html", context, status=status)


def _correction_form(emergency: Emergency, data: Any = None) -> TimeCorrectionForm:
    fields = corrections.correctable_fields(emergency)
    return TimeCorrectionForm(
        data, fields=[(name, str(corrections.CORRECTABLE[name])) for name in fields]
    )


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
        except response.ResolveRefusedError as error:
            emergency.refresh_from_db()
            return _render_detail(request, emergency, error=error.message, status=403)
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


@login_required
@require_POST
def emergency_time_correct(request: HttpRequest, emergency_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    emergency = _emergency(request, emergency_id, access.EDIT)
    form = _correction_form(emergency, request.POST)
    if form.is_valid():
        try:
            corrections.emergency_time_correct(
                actor=actor,
                emergency=emergency,
                field=form.cleaned_data["field"],
                at=form.cleaned_data["at"],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(
                request,
                _("%(code)s: the time is corrected; the original stays on the timeline.")
                % {"code": emergency.code},
            )
            return redirect(_detail_url(emergency, "times"))
    emergency.refresh_from_db()
    return _render_detail(request, emergency, correction_form=form, status=400)
