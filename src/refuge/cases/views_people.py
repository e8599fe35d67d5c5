"""Putting a person on one of the cases one may change, from the person's page.

The person in the URL is fetched through access (404 for anyone who may not see them), and so is
the chosen case, with action=EDIT.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from refuge.accounts.models import User
from refuge.cases import selectors, services
from refuge.core.errors import DomainError
from refuge.people import selectors as people_selectors
from refuge.security import access

CASES_OFFERED = 100


@login_required
@require_http_methods(["GET", "POST"])
def case_add_person(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    actor = request.user
    if not isinstance(actor, User):
        raise PermissionDenied
    person = people_selectors.person_get(actor=actor, person_id=person_id)
    error, status = "", 200
    if request.method == "POST":
        case = selectors.case_get(actor=actor, case_id=request.POST.get("case"), action=access.EDIT)
        try:
            services.case_add_person(actor=actor, case=case, person=person)
        except DomainError as refused:
            error, status = refused.message, 400
        else:
            messages.success(
                request,
                _("%(pseudonym)s is now on case %(code)s.")
                % {"pseudonym": person.pseudonym, "code": case.code},
            )
            return redirect("cases:detail", case_id=case.pk)
    context = {
        "person": person,
        "cases": selectors.cases_to_add_person(actor=actor, person=person, limit=CASES_OFFERED),
        "limit": CASES_OFFERED,
        "error": error,
    }
    return render(request, "cases/case_add_person.html", context, status=status)
