"""Pages for protected people and their relatives at risk.

Most staff know a person only by pseudonym. The legal identity and the relatives are shown only
to those with need-to-know (security.access.can_reveal), and every page that decrypts them leaves
an audit entry. These pages use no JavaScript (Tor Browser "Safest").
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from refuge.accounts import stepup
from refuge.accounts.models import Role, User
from refuge.core.errors import DomainError, NotFoundError
from refuge.core.web import apply_domain_error, focus_first_error, paginate, require_role
from refuge.people import selectors, services
from refuge.people.forms import IdentitySearchForm, PersonForm, RelativeForm
from refuge.people.models import Language, ProtectedPerson, Relative, RelativeContact
from refuge.security import access

LANGUAGE_LABELS = dict(Language.choices)
# Every role but the administrators works with protected people (by pseudonym at least).
PEOPLE_READERS = {role for role in Role.values if role != Role.ADMIN}
RELATIVE_VALUES = ("relation", "risk_level", "name", "phones", "location", "notes")


def _actor(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):  # login_required has already sent anonymous users away
        raise Http404
    return user


def _require_editor_role(actor: User) -> None:
    """For pages about one person or relative: 404, like any object outside need-to-know."""
    if actor.role not in services.PERSON_EDITORS:
        raise Http404


def _can_edit(actor: User, person: ProtectedPerson) -> bool:
    if actor.role not in services.PERSON_EDITORS:
        return False
    try:
        selectors.person_get(actor=actor, person_id=person.pk, action=access.EDIT)
    except NotFoundError:
        return False
    return True


def _language_labels(person: ProtectedPerson) -> list[str]:
    return [str(LANGUAGE_LABELS.get(code, code)) for code in person.language_list]


def _identity_input(form: PersonForm, posted: Any) -> services.IdentityInput:
    # Only fields that were on the form and in the request count as "provided": an identity
    # field left out of a request is kept, one sent empty is cleared.
    provided = {name for name in services.IDENTITY_FIELDS if name in form.fields and name in posted}
    values = {name: form.cleaned_data.get(name) for name in provided}
    return services.IdentityInput(**values, provided=provided)


@login_required
def person_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    require_role(
        actor,
        PEOPLE_READERS,
        _("Administrators manage staff accounts; they see no protected person."),
    )
    # NUL never occurs in stored text, and PostgreSQL refuses it in a query (a 500 otherwise).
    query = request.GET.get("q", "").replace("\x00", "").strip()
    page = paginate(request, selectors.person_list(actor=actor, query=query))
    rows = [(person, _language_labels(person)) for person in page.object_list]
    context = {
        "page": page,
        "rows": rows,
        "q": query,
        "can_create": actor.role in services.PERSON_EDITORS,
        "search_form": IdentitySearchForm() if actor.role in services.IDENTITY_SEARCHERS else None,
    }
    return render(request, "people/person_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def person_search(request: HttpRequest) -> HttpResponse:
    """Exact search by phone number or legal name (POST, so the query stays out of URLs and
    logs). Results name pseudonyms only."""
    actor = _actor(request)
    require_role(
        actor,
        services.IDENTITY_SEARCHERS,
        _(
            "Finding people by phone number or legal name is for case workers, lawyers and "
            "coordinators: your role never sees a legal identity."
        ),
    )
    form = IdentitySearchForm(request.POST or None)
    context: dict[str, Any] = {"form": form, "results": None}
    if request.method != "POST":
        return render(request, "people/person_search.html", context)
    status, retry_after = 400, 0
    if form.is_valid():
        try:
            context["results"] = selectors.person_search_identity(
                actor=actor, phone=form.cleaned_data["phone"], name=form.cleaned_data["name"]
            )
        except services.SearchRateLimitedError as error:
            form.add_error(None, error.message)
            status, retry_after = 429, error.retry_after
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            status = 200
    response = render(request, "people/person_search.html", context, status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


@login_required
def person_detail(request: HttpRequest, person_id: Any) -> HttpResponse:
    actor = _actor(request)
    person = selectors.person_get(actor=actor, person_id=person_id)
    can_reveal = selectors.person_can_reveal(actor=actor, person=person)
    # Revealing needs a fresh re-authentication (accounts.stepup); until then the page offers a
    # button that leads through it and back here.
    revealed = can_reveal and stepup.has_recent_step_up(request)
    identity = None
    relatives: list[tuple[Relative, list[RelativeContact]]] = []
    if revealed:
        identity = selectors.person_identity(actor=actor, person=person, purpose="person_page")
        found = list(selectors.relative_list(actor=actor, person=person))
        log = selectors.relative_contacts(actor=actor, relatives=found)
        relatives = [(relative, log[relative.pk]) for relative in found]
    context = {
        "person": person,
        "spoken": _language_labels(person),
        "can_reveal": can_reveal,
        "revealed": revealed,
        "reveal_url": stepup.step_up_url(request) if can_reveal and not revealed else "",
        "identity": identity,
        "relatives": relatives,
        "can_edit": _can_edit(actor, person),
        "on_a_case": selectors.person_is_on_a_case(person=person),
    }
    return render(request, "people/person_detail.html", context)


@login_required
def person_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    require_role(
        actor,
        services.PERSON_EDITORS,
        _("Recording protected people is for case workers, lawyers, operators and coordinators."),
    )
    form = PersonForm(request.POST or None, teams=services.intake_team_choices(actor))
    if request.method != "POST":
        return render(request, "people/person_form.html", {"form": form, "person": None})
    if form.is_valid():
        try:
            person = services.person_create(
                actor=actor,
                identity=_identity_input(form, request.POST),
                pseudonym=form.cleaned_data["pseudonym"] or None,
                risk_level=form.cleaned_data["risk_level"],
                languages=form.cleaned_data["languages"],
                team=form.cleaned_data["team"],
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            return _after_create(request, actor, person)
    focus_first_error(form)
    return render(request, "people/person_form.html", {"form": form, "person": None}, status=400)


def _after_create(request: HttpRequest, actor: User, person: ProtectedPerson) -> HttpResponse:
    # The team a person is recorded for sees them until they are on a case (cases.access), so
    # the recorder can go on to put them on one. Someone on no team cannot.
    try:
        selectors.person_get(actor=actor, person_id=person.pk)
    except NotFoundError:
        messages.warning(
            request,
            _(
                "%(pseudonym)s was recorded, but you are on no team, so you cannot open the "
                "record. Ask a coordinator to put them on a case."
            )
            % {"pseudonym": person.pseudonym},
        )
        return redirect("people:list")
    if person.intake_team is not None:
        message = _(
            "%(pseudonym)s was recorded for %(team)s. Next, open a case for them or add them "
            "to one of the team's cases."
        ) % {"pseudonym": person.pseudonym, "team": person.intake_team.name}
    else:
        message = _("%(pseudonym)s was recorded. Next, open a case for them or add them to one.")
        message %= {"pseudonym": person.pseudonym}
    messages.success(request, message)
    return redirect("people:detail", person_id=person.pk)


@login_required
def person_edit(request: HttpRequest, person_id: Any) -> HttpResponse:
    actor = _actor(request)
    _require_editor_role(actor)
    person = selectors.person_get(actor=actor, person_id=person_id, action=access.EDIT)
    can_reveal = selectors.person_can_reveal(actor=actor, person=person)
    if can_reveal and not stepup.has_recent_step_up(request):
        return stepup.step_up_redirect(request)  # the form shows the identity
    context: dict[str, Any] = {"person": person, "can_reveal": can_reveal}
    if request.method != "POST":
        initial: dict[str, Any] = {
            "risk_level": person.risk_level,
            "languages": person.language_list,
        }
        if can_reveal:
            identity = selectors.person_identity(actor=actor, person=person, purpose="person_edit")
            initial.update(dataclasses.asdict(identity))
        context["form"] = PersonForm(
            initial=initial, with_pseudonym=False, with_identity=can_reveal
        )
        return render(request, "people/person_form.html", context)
    form = PersonForm(request.POST, with_pseudonym=False, with_identity=can_reveal)
    context["form"] = form
    if form.is_valid():
        try:
            services.person_update(
                actor=actor,
                person=person,
                identity=_identity_input(form, request.POST) if can_reveal else None,
                risk_level=form.cleaned_data["risk_level"],
                languages=form.cleaned_data["languages"],
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("people:detail", person_id=person.pk)
    focus_first_error(form)
    return render(request, "people/person_form.html", context, status=400)


def _person_for_relatives(actor: User, person_id: Any) -> ProtectedPerson:
    """Relatives are identity data: only those who may change the person and see the identity
    may add or change them."""
    _require_editor_role(actor)
    person = selectors.person_get(actor=actor, person_id=person_id, action=access.EDIT)
    if not selectors.person_can_reveal(actor=actor, person=person):
        raise NotFoundError
    return person


def _relative_for_edit(actor: User, relative_id: Any) -> Relative:
    _require_editor_role(actor)
    relative = selectors.relative_get(actor=actor, relative_id=relative_id, action=access.EDIT)
    _person_for_relatives(actor, relative.person_id)
    return relative


def _relative_values(form: RelativeForm) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in RELATIVE_VALUES}


@login_required
def relative_add(request: HttpRequest, person_id: Any) -> HttpResponse:
    actor = _actor(request)
    person = _person_for_relatives(actor, person_id)
    form = RelativeForm(request.POST or None)
    context = {"form": form, "person": person, "relative": None}
    if request.method != "POST":
        return render(request, "people/relative_form.html", context)
    if form.is_valid():
        try:
            services.relative_add(actor=actor, person=person, **_relative_values(form))
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("Relative added."))
            return redirect("people:detail", person_id=person.pk)
    focus_first_error(form)
    return render(request, "people/relative_form.html", context, status=400)


@login_required
def relative_edit(request: HttpRequest, relative_id: Any) -> HttpResponse:
    actor = _actor(request)
    relative = _relative_for_edit(actor, relative_id)
    person = relative.person
    if not stepup.has_recent_step_up(request):
        return stepup.step_up_redirect(request)  # the form shows the relative's details
    if request.method != "POST":
        services.person_identity_viewed(actor=actor, person=person, purpose="relative_edit")
        form = RelativeForm(initial={name: getattr(relative, name) for name in RELATIVE_VALUES})
        context = {"form": form, "person": person, "relative": relative}
        return render(request, "people/relative_form.html", context)
    form = RelativeForm(request.POST)
    context = {"form": form, "person": person, "relative": relative}
    if form.is_valid():
        try:
            services.relative_update(actor=actor, relative=relative, values=_relative_values(form))
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("people:detail", person_id=person.pk)
    focus_first_error(form)
    return render(request, "people/relative_form.html", context, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def relative_remove(request: HttpRequest, relative_id: Any) -> HttpResponse:
    actor = _actor(request)
    relative = _relative_for_edit(actor, relative_id)
    person = relative.person
    if request.method == "POST":
        services.relative_remove(actor=actor, relative=relative)
        messages.success(request, _("Relative removed; the stored record can no longer be read."))
        return redirect("people:detail", person_id=person.pk)
    # The confirmation names the relation only, so asking does not decrypt anything.
    return render(request, "people/relative_remove.html", {"relative": relative, "person": person})
