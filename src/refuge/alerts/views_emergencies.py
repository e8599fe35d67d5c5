"""The emergency line's staff pages: log a call (opening an emergency, or only logging the
call), the live board, the one-time acknowledgement link, and the response-time report. One
emergency's page and its actions are in views_response; logged calls in views_calls.

Thin interfaces: parse, call one selector or service, render. Emergencies are fetched through
refuge.alerts.selectors_emergencies (need-to-know via security.access.scope); outsiders get 404.
A page the user's role may never use (the board for an analyst) answers 403 and says who uses
it (`role_refused`). The pages work without JavaScript; htmx only refreshes the board.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from refuge.accounts.models import User
from refuge.alerts import selectors_emergencies as selectors
from refuge.alerts.display import SECONDS_PER_MINUTE, elapsed
from refuge.alerts.forms_emergencies import CallForm
from refuge.alerts.models import Emergency
from refuge.alerts.services import calls, response
from refuge.alerts.services import emergencies as services
from refuge.core import clock
from refuge.core.errors import DomainError, NotFoundError
from refuge.core.web import apply_domain_error

__all__ = ["elapsed"]  # re-exported: the check-in pages format durations the same way

UNAUTHORIZED = 401
NOT_FOUND = 404
FORBIDDEN = 403


def _actor(request: HttpRequest) -> User:
    # login_required has already sent anonymous visitors away; this narrows the type.
    if not isinstance(request.user, User):
        raise Http404
    return request.user


def role_refused(request: HttpRequest, *, title: str, who: str) -> HttpResponse:
    """403 for a page the user's role may never use, saying who uses it. (An object outside
    the user's need-to-know is a 404 instead, like one that does not exist: docs/alerting.md.)"""
    actor = _actor(request)
    context = {"title": title, "who": who, "role": actor.get_role_display()}
    return render(request, "alerts/role_refused.html", context, status=FORBIDDEN)


def line_refused(request: HttpRequest) -> HttpResponse:
    """The refusal of the emergency line's pages to roles that see no emergency."""
    return role_refused(
        request,
        title=_("The emergency line"),
        who=_(
            "Emergencies are handled by hotline operators and coordinators, and by the case "
            "workers and lawyers of the people concerned. Administrators and documentation "
            "analysts see no emergency, by design: an account that is not needed on the line "
            "cannot leak it."
        ),
    )


# --- The live board -------------------------------------------------------------------------------


def _board_context(actor: User, *, loaded_at: int) -> dict[str, Any]:
    rows = [
        {
            "emergency": row.emergency,
            "people": row.people,
            "since_reported": elapsed(row.since_reported),
            "since_opened": elapsed(row.since_opened),
            "to_acknowledge": (
                elapsed(row.emergency.acknowledged_at - row.emergency.reported_at)
                if row.emergency.acknowledged_at
                else "—"
            ),
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
        return line_refused(request)
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
        return line_refused(request)
    try:
        loaded_at = int(request.GET.get("loaded", ""))
    except ValueError:
        loaded_at = int(clock.now().timestamp())
    return render(request, "alerts/_board.html", _board_context(request.user, loaded_at=loaded_at))


# --- Log a call -----------------------------------------------------------------------------------

# The button pressed on "Log a call": open an emergency (pages at once) or only log the call.
OPEN_EMERGENCY = "open"
LOG_ONLY = "log"


def _call_errors(error: DomainError) -> DomainError:
    """The emergency service names the call's time "reported_at" (the emergency's field); the
    form calls it "received_at", like a logged call."""
    if "reported_at" in error.field_errors:
        error.field_errors["received_at"] = error.field_errors.pop("reported_at")
    return error


def _log_only(request: HttpRequest, actor: User, data: dict[str, Any]) -> HttpResponse:
    call = calls.call_log(
        actor=actor,
        caller=data["caller"],
        heard=data["heard"],
        location_hint=data["location_hint"],
        people=list(data["people"]),
        received_at=data["received_at"],
    )
    messages.success(request, _("Call %(code)s is logged; nobody was paged.") % {"code": call.code})
    return redirect("alerts:call_detail", call_id=call.pk)


def _open_emergency(request: HttpRequest, actor: User, data: dict[str, Any]) -> HttpResponse:
    emergency = services.emergency_open_call(
        actor=actor,
        caller=data["caller"],
        heard=data["heard"],
        location_hint=data["location_hint"],
        people=list(data["people"]),
        cases=[],  # the people's open cases are linked by the service
        reported_at=data["received_at"],
    )
    messages.success(
        request,
        _("Emergency %(code)s is open; escalation has started.") % {"code": emergency.code},
    )
    return redirect("alerts:emergency_detail", emergency_id=emergency.pk)


@login_required
@require_http_methods(["GET", "POST"])
def call_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    if not selectors.sees_emergencies(actor=actor):
        return line_refused(request)
    form = CallForm(
        request.POST if request.method == "POST" else None,
        people=selectors.call_people_choices(actor=actor),
    )
    # A form without the button's value (an older page, a script) opens the emergency, as the
    # form always did; an unknown value is refused rather than guessed.
    action = request.POST.get("action") or OPEN_EMERGENCY
    if form.is_bound and action not in {OPEN_EMERGENCY, LOG_ONLY}:
        form.add_error(None, _("Choose “Open the emergency” or “Log the call only”."))
    if form.is_bound and form.is_valid():
        record = _log_only if action == LOG_ONLY else _open_emergency
        try:
            return record(request, actor, form.cleaned_data)
        except DomainError as error:
            apply_domain_error(form, _call_errors(error))
    status = 400 if form.is_bound else 200
    context = {"form": form, "open_emergency": OPEN_EMERGENCY, "log_only": LOG_ONLY}
    return render(request, "alerts/emergency_call.html", context, status=status)


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
    if not selectors.sees_report(actor=actor):
        return role_refused(
            request,
            title=_("Response times"),
            who=_(
                "The response-time report is for the emergency line: hotline operators and "
                "coordinators."
            ),
        )
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
