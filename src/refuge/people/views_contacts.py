"""The log of contacts with a relative at risk: adding an entry and clearing its follow-up flag.

The log is shown on the person's page, with the relatives (after a re-authentication). These
pages name a relative or an entry, so anyone without need-to-know on it gets 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from refuge.accounts.models import User
from refuge.core import clock
from refuge.core.errors import DomainError, NotFoundError
from refuge.core.web import apply_domain_error, focus_first_error
from refuge.people import selectors, services
from refuge.people.forms import RelativeContactForm
from refuge.people.models import Relative
from refuge.people.services import contacts
from refuge.security import access


def _actor(request: HttpRequest) -> User:
    if not isinstance(request.user, User):  # login_required has already sent anonymous away
        raise Http404
    return request.user


def _relative_for_log(actor: User, relative_id: Any) -> Relative:
    """A relative whose person the actor may change and whose identity they may see."""
    if actor.role not in services.PERSON_EDITORS:
        raise NotFoundError
    relative = selectors.relative_get(actor=actor, relative_id=relative_id, action=access.EDIT)
    selectors.person_get(actor=actor, person_id=relative.person_id, action=access.EDIT)
    return relative


def _back_to(relative: Relative) -> str:
    return reverse("people:detail", args=[relative.person_id]) + f"#relative-{relative.pk}"


@login_required
@require_http_methods(["GET", "POST"])
def relative_contact_add(request: HttpRequest, relative_id: Any) -> HttpResponse:
    actor = _actor(request)
    relative = _relative_for_log(actor, relative_id)
    form = RelativeContactForm(
        request.POST if request.method == "POST" else None,
        staff=selectors.relative_contact_staff(relative=relative),
        actor=actor,
        now=timezone.localtime(clock.now()).replace(second=0, microsecond=0),
    )
    context = {"form": form, "relative": relative, "person": relative.person}
    if request.method != "POST":
        return render(request, "people/relative_contact_form.html", context)
    if form.is_valid():
        try:
            contacts.relative_contact_log(
                actor=actor,
                relative=relative,
                occurred_at=form.cleaned_data["occurred_at"],
                channel=form.cleaned_data["channel"],
                direction=form.cleaned_data["direction"],
                summary=form.cleaned_data["summary"],
                staff=form.cleaned_data["staff"],
                follow_up_needed=form.cleaned_data["follow_up_needed"],
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("Contact logged."))
            return redirect(_back_to(relative))
    focus_first_error(form)
    return render(request, "people/relative_contact_form.html", context, status=400)


@login_required
@require_POST
def relative_contact_follow_up(request: HttpRequest, contact_id: Any) -> HttpResponse:
    actor = _actor(request)
    if actor.role not in services.PERSON_EDITORS:
        raise NotFoundError
    contact = selectors.relative_contact_get(actor=actor, contact_id=contact_id, action=access.EDIT)
    relative = _relative_for_log(actor, contact.relative_id)
    try:
        contacts.relative_contact_follow_up_done(actor=actor, contact=contact)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Marked as followed up."))
    return redirect(_back_to(relative))
