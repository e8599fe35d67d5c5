"""Small helpers shared by the HTML views of every app."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django import forms
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

from refuge.core.errors import DomainError, RoleNotAllowedError


def apply_domain_error(form: forms.Form, error: DomainError) -> None:
    """Show a service's validation errors next to the form fields (or at the top)."""
    for field, messages in error.field_errors.items():
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)
    if not error.field_errors:
        form.add_error(None, error.message)


def focus_first_error(form: forms.Form) -> None:
    """Give the first field with an error the focus, so that a re-rendered page opens at the
    reason (a form low on a long page would otherwise fail out of sight)."""
    for name in form.errors:
        if name in form.fields:
            form.fields[name].widget.attrs["autofocus"] = True
            return


def require_role(actor: Any, allowed: Collection[str], explanation: str) -> None:
    """For a page that names no object: a role that may never use it gets 403 with
    `explanation` (who uses the page). Pages about one object answer 404 instead."""
    if actor.role not in allowed:
        raise RoleNotAllowedError(explanation)


def paginate(request: HttpRequest, queryset: QuerySet, per_page: int | None = None) -> Page:  # type: ignore[type-arg]
    paginator = Paginator(queryset, per_page or settings.PAGE_SIZE)
    return paginator.get_page(request.GET.get("page"))
