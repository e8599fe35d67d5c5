"""Calls logged without paging: the list, one call with what was heard, and the one-click
"Turn into an emergency".

Thin interfaces over alerts.selectors_calls and alerts.services.calls. Roles that see no
emergency get 403 with the reason (they may never log a call); a call outside the actor's
need-to-know is a 404, like one that does not exist. Opening a call's page decrypts what was
heard, and the read is audited.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from refuge.alerts import selectors_calls as selectors
from refuge.alerts import selectors_emergencies
from refuge.alerts.models import CallRecord
from refuge.alerts.selectors_calls import CallText
from refuge.alerts.services import calls as services
from refuge.alerts.views_emergencies import _actor, line_refused
from refuge.core.errors import DomainError
from refuge.core.web import paginate
from refuge.security import access
from refuge.security.sealing import SealedError

BAD_REQUEST = 400


@login_required
@require_GET
def call_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    if not selectors_emergencies.sees_emergencies(actor=actor):
        return line_refused(request)
    page = paginate(request, selectors.call_list(actor=actor))
    return render(request, "alerts/call_list.html", {"page": page})


def _text_unless_sealed(actor: object, call: CallRecord) -> CallText | None:
    try:
        return selectors.call_text(actor=actor, call=call)
    except SealedError:
        return None


def _render_detail(
    request: HttpRequest, call: CallRecord, *, error: str = "", status: int = 200
) -> HttpResponse:
    actor = _actor(request)
    context = {
        "call": call,
        "people": sorted(call.people.all(), key=lambda p: p.pseudonym),
        "text": _text_unless_sealed(actor, call),
        "error": error,
    }
    return render(request, "alerts/call_detail.html", context, status=status)


@login_required
@require_GET
def call_detail(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    call = selectors.call_get(actor=_actor(request), call_id=call_id)
    return _render_detail(request, call)


@login_required
@require_POST
def call_escalate(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    call = selectors.call_get(actor=actor, call_id=call_id, action=access.EDIT)
    try:
        emergency = services.call_escalate(actor=actor, call=call)
    except DomainError as error:
        call.refresh_from_db()
        if call.emergency is not None:  # turned already (a second click): go to it
            messages.info(request, error.message)
            return redirect("alerts:emergency_detail", emergency_id=call.emergency.pk)
        return _render_detail(request, call, error=error.message, status=BAD_REQUEST)
    messages.success(
        request,
        _("Call %(call)s is now emergency %(code)s; escalation has started.")
        % {"call": call.code, "code": emergency.code},
    )
    return redirect("alerts:emergency_detail", emergency_id=emergency.pk)
