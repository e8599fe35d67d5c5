"""The cases pages: thin interfaces that parse input, call one selector or service, and render.

Reads go through refuge.cases.selectors and refuge.people.selectors (scoped by need-to-know);
objects about to be changed are fetched with action=EDIT; outsiders get NotFoundError (404).
Every state change is a POST; a refused one re-renders its form with the reasons and status 400.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from refuge.accounts.models import Role, User
from refuge.cases import selectors, services
from refuge.cases.forms import (
    CaseCreateForm,
    CaseEditForm,
    CaseFilterForm,
    RefugeForm,
    StatusChangeForm,
    TaskForm,
    TimelineEntryForm,
)
from refuge.cases.models import Case, CaseStatus, CaseType, Task, TimelineEntry
from refuge.core import clock, formatting
from refuge.core.errors import DomainError
from refuge.core.web import apply_domain_error, focus_first_error, paginate, require_role
from refuge.people import selectors as people_selectors
from refuge.security import access

DASHBOARD_CASES = 20
# Every role but the administrators works with cases.
CASE_READERS = {role for role in Role.values if role != Role.ADMIN}
TASK_EVENTS = {
    "created": gettext_lazy("created"),
    "done": gettext_lazy("done"),
    "reopened": gettext_lazy("reopened"),
}


def _actor(request: HttpRequest) -> User:
    # login_required has already turned anonymous visitors away; this narrows the type.
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


def _is_htmx(request: HttpRequest) -> bool:
    # A history restore asks for the whole page even though htmx sent it.
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def _refuse(form: RefugeForm, error: DomainError) -> None:
    """The service's reasons next to the fields, and its summary message above the form."""
    apply_domain_error(form, error)
    if error.field_errors:
        form.add_error(None, error.message)


def _detail_url(case_id: uuid.UUID, anchor: str = "") -> str:
    url = reverse("cases:detail", args=[case_id])
    return f"{url}#{anchor}" if anchor else url


# Dashboard and list -----------------------------------------------------------------------


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    if actor.role == Role.ADMIN:
        # Administrators manage accounts and see no case contents.
        return redirect("accounts:user_list")
    context = {
        "dashboard": selectors.dashboard_cases(actor=actor, limit=DASHBOARD_CASES),
        "my_cases_limit": DASHBOARD_CASES,
        "tasks": selectors.tasks_due(actor=actor),
        "activity": selectors.recent_activity(actor=actor),
        "can_open": bool(services.openable_case_types(actor)),
        "today": clock.today(),
    }
    return render(request, "cases/case_dashboard.html", context)


@login_required
@require_GET
def case_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    require_role(actor, CASE_READERS, _("Administrators manage staff accounts; they see no case."))
    form = CaseFilterForm(request.GET, assignees=selectors.task_assignees(actor=actor))
    form.is_valid()  # invalid filters are reported on the page and left out of the query
    page = paginate(request, selectors.case_list(actor=actor, filters=form.filters()))
    context = {
        "form": form,
        "page": page,
        "can_open": bool(services.openable_case_types(actor)),
    }
    template = "cases/_case_results.html" if _is_htmx(request) else "cases/case_list.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# Detail -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineRow:
    entry: TimelineEntry
    facts: list[tuple[str, str]]


def _entry_facts(entry: TimelineEntry) -> list[tuple[str, str]]:
    """The structured part of an entry (status from/to, task, team, people) in words."""
    data: dict[str, Any] = entry.data or {}
    kind = entry.kind
    facts: list[tuple[str, Any]] = []
    if kind == TimelineEntry.Kind.STATUS:
        facts = [
            (pgettext("status change", "From"), formatting.label(CaseStatus, data.get("from"))),
            (pgettext("status change", "To"), formatting.label(CaseStatus, data.get("to"))),
        ]
    elif kind == TimelineEntry.Kind.OPENED:
        facts = [(_("Type"), formatting.label(CaseType, data.get("type")))]
        facts.append((_("People"), ", ".join(data.get("people") or [])))
    elif kind == TimelineEntry.Kind.ASSIGNMENT:
        facts = [(_("From team"), data.get("from_team")), (_("To team"), data.get("to_team"))]
    elif kind == TimelineEntry.Kind.PEOPLE:
        facts = [(_("People"), ", ".join(data.get("people") or []) or _("nobody"))]
    elif kind == TimelineEntry.Kind.TASK:
        facts = [(_("Task"), TASK_EVENTS.get(data.get("event", ""), data.get("event")))]
        if data.get("due"):
            due = dt.date.fromisoformat(data["due"])
            facts.append((_("Due"), formats.date_format(due, "SHORT_DATE_FORMAT")))
        facts.append((_("Assignee"), data.get("assignee")))
    return [(label, str(value)) for label, value in facts if value]


def _timeline_rows(entries: Iterable[TimelineEntry]) -> list[TimelineRow]:
    return [TimelineRow(entry=entry, facts=_entry_facts(entry)) for entry in entries]


def _timeline_context(
    actor: User, case: Case, *, entry_form: TimelineEntryForm | None = None
) -> dict[str, Any]:
    return {
        "case": case,
        "can_log": selectors.case_can_log(actor=actor, case=case),
        "timeline": _timeline_rows(selectors.case_timeline(actor=actor, case=case)),
        "entry_form": entry_form or TimelineEntryForm(),
    }


def _refused_section(**forms: RefugeForm | None) -> str:
    """The page anchor of the form that was refused (its errors are shown there), focused."""
    anchors = {"entry_form": "timeline", "status_form": "status", "task_form": "tasks"}
    for name, form in forms.items():
        if form is not None and form.is_bound and form.errors:
            focus_first_error(form)
            return anchors[name]
    return ""


def _render_detail(
    request: HttpRequest,
    case: Case,
    *,
    entry_form: TimelineEntryForm | None = None,
    status_form: StatusChangeForm | None = None,
    task_form: TaskForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    actor = _actor(request)
    can_edit = selectors.case_can_edit(actor=actor, case=case)
    allowed = case.allowed_transitions()
    refused = _refused_section(entry_form=entry_form, status_form=status_form, task_form=task_form)
    context = _timeline_context(actor, case, entry_form=entry_form)
    context |= {
        "refused_section": refused,
        "can_edit": can_edit,
        "people": selectors.case_people(actor=actor, case=case),
        "tasks": selectors.case_tasks(actor=actor, case=case),
        "today": clock.today(),
        "error": error,
        "status_form": status_form or StatusChangeForm(allowed=allowed),
        "has_transitions": bool(allowed),
    }
    if can_edit:
        assignees = selectors.case_assignable_staff(case=case)
        context["task_form"] = task_form or TaskForm(assignees=assignees)
    return render(request, "cases/case_detail.html", context, status=status)


@login_required
@require_GET
def case_detail(request: HttpRequest, case_id: uuid.UUID) -> HttpResponse:
    case = selectors.case_get(actor=_actor(request), case_id=case_id)
    return _render_detail(request, case)


# Writes from the detail page ----------------------------------------------------------------


def _case_for_edit(request: HttpRequest, case_id: uuid.UUID) -> Case:
    return selectors.case_get(actor=_actor(request), case_id=case_id, action=access.EDIT)


@login_required
@require_POST
def timeline_add(request: HttpRequest, case_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    case = selectors.case_get(actor=actor, case_id=case_id, action=access.LOG)
    form = TimelineEntryForm(request.POST)
    added = False
    if form.is_valid():
        try:
            services.timeline_add(
                actor=actor,
                case=case,
                kind=form.cleaned_data["kind"],
                text=form.cleaned_data["text"],
                occurred_at=form.cleaned_data["occurred_at"],
            )
            added = True
        except DomainError as error:
            _refuse(form, error)
    if _is_htmx(request):
        # htmx swaps only 2xx responses (its default responseHandling), so a refused entry
        # comes back as 200 with the errors in the swapped form; nothing was written.
        context = _timeline_context(actor, case, entry_form=None if added else form)
        return render(request, "cases/_timeline.html", context)
    if added:
        messages.success(request, _("Added to the timeline."))
        return redirect(_detail_url(case.pk, "timeline"))
    return _render_detail(request, case, entry_form=form, status=400)


@login_required
@require_POST
def case_status_change(request: HttpRequest, case_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    case = _case_for_edit(request, case_id)
    form = StatusChangeForm(request.POST, allowed=case.allowed_transitions())
    if form.is_valid():
        try:
            services.case_transition(
                actor=actor,
                case=case,
                to_status=form.cleaned_data["status"],
                note=form.cleaned_data["note"],
            )
        except DomainError as error:
            _refuse(form, error)
        else:
            messages.success(
                request,
                _("The case is now “%(status)s”.") % {"status": case.get_status_display()},
            )
            return redirect(_detail_url(case.pk))
    return _render_detail(request, case, status_form=form, status=400)


@login_required
@require_POST
def task_create(request: HttpRequest, case_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    case = _case_for_edit(request, case_id)
    form = TaskForm(request.POST, assignees=selectors.case_assignable_staff(case=case))
    if form.is_valid():
        try:
            services.task_create(
                actor=actor,
                case=case,
                title=form.cleaned_data["title"],
                due_date=form.cleaned_data["due_date"],
                assignee=form.cleaned_data["assignee"],
            )
        except DomainError as error:
            _refuse(form, error)
        else:
            messages.success(request, _("Task added."))
            return redirect(_detail_url(case.pk, "tasks"))
    return _render_detail(request, case, task_form=form, status=400)


def _change_task(
    request: HttpRequest, task_id: uuid.UUID, change: Callable[..., Task], done_message: str
) -> HttpResponse:
    actor = _actor(request)
    task = selectors.task_get(actor=actor, task_id=task_id, action=access.EDIT)
    try:
        change(actor=actor, task=task)
    except DomainError as error:
        case = selectors.case_get(actor=actor, case_id=task.case_id)
        return _render_detail(request, case, error=error.message, status=400)
    messages.success(request, done_message)
    return redirect(_detail_url(task.case_id, "tasks"))


@login_required
@require_POST
def task_complete(request: HttpRequest, task_id: uuid.UUID) -> HttpResponse:
    return _change_task(request, task_id, services.task_complete, _("Task marked as done."))


@login_required
@require_POST
def task_reopen(request: HttpRequest, task_id: uuid.UUID) -> HttpResponse:
    return _change_task(request, task_id, services.task_reopen, _("Task reopened."))


# Create and edit --------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def case_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    require_role(
        actor,
        services.CASE_OPENERS,
        _(
            "Opening cases is for case workers, lawyers and coordinators, and for operators "
            "when they open an emergency."
        ),
    )
    case_types = services.openable_case_types(actor)
    form = CaseCreateForm(
        request.POST if request.method == "POST" else None,
        case_types=case_types,
        teams=selectors.case_team_choices(actor=actor),
        people=people_selectors.person_list(actor=actor),
        # "Open a case" from a person's page arrives with ?person=<id>.
        initial={"people": request.GET.getlist("person")},
    )
    if form.is_bound and form.is_valid():
        try:
            case = services.case_open(
                actor=actor,
                case_type=form.cleaned_data["case_type"],
                team=form.cleaned_data["team"],
                people=form.cleaned_data["people"],
                risk_level=form.cleaned_data["risk_level"],
                summary=form.cleaned_data["summary"],
            )
        except DomainError as error:
            _refuse(form, error)
        else:
            messages.success(request, _("Case %(code)s opened.") % {"code": case.code})
            return redirect(_detail_url(case.pk))
    status = 400 if form.is_bound else 200
    return render(request, "cases/case_create.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def case_edit(request: HttpRequest, case_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    case = _case_for_edit(request, case_id)
    form = CaseEditForm(
        request.POST if request.method == "POST" else None,
        teams=selectors.case_team_choices(actor=actor, case=case),
        people=people_selectors.person_list(actor=actor),
        initial={
            "team": case.team_id,
            "people": [person.pk for person in selectors.case_people(actor=actor, case=case)],
            "risk_level": case.risk_level,
            "summary": case.summary or "",
        },
    )
    if form.is_bound and form.is_valid():
        try:
            services.case_update(
                actor=actor,
                case=case,
                team=form.cleaned_data["team"],
                people=form.cleaned_data["people"],
                risk_level=form.cleaned_data["risk_level"],
                summary=form.cleaned_data["summary"],
            )
        except DomainError as error:
            _refuse(form, error)
        else:
            messages.success(request, _("Case %(code)s saved.") % {"code": case.code})
            return redirect(_detail_url(case.pk))
    status = 400 if form.is_bound else 200
    return render(request, "cases/case_edit.html", {"form": form, "case": case}, status=status)
