"""Shared checks and helpers of the setup services: errors, ranges, names, positions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from refuge.accounts.models import User
from refuge.alerts import selectors
from refuge.alerts.models import EscalationStep
from refuge.core.errors import DomainError, NotFoundError

MAX_NAME = 100
MAX_REPEAT = 5
MAX_EN_ROUTE_MINUTES = 240
MAX_DELAY_MINUTES = 1440
MAX_SHIFT_DAYS = 28
MAX_STEPS = 20
MAX_MEMBERS = 50
MAX_CHANNELS = 10
MAX_TARGET = 500
# Renumbering moves every row out of the way first, so the unique (parent, position) constraints
# never see two rows on one number, on PostgreSQL (checked row by row) as on SQLite.
_OUT_OF_THE_WAY = 1000

Target = EscalationStep.Target


def invalid(errors: dict[str, list[str]]) -> DomainError:
    return DomainError(_("Please correct the errors below."), field_errors=errors)


def add_error(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def require_manager(actor: Any) -> None:
    if not selectors.can_manage_setup(actor):
        raise NotFoundError


def check_range(value: Any, low: int, high: int, field: str, errors: dict[str, list[str]]) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        add_error(
            errors,
            field,
            _("Enter a whole number from %(low)d to %(high)d.") % {"low": low, "high": high},
        )


def clean_name(
    name: str, model: type[models.Model], errors: dict[str, list[str]], pk: Any = None
) -> str:
    name = " ".join(name.split())
    if not name:
        add_error(errors, "name", _("Enter a name."))
    elif len(name) > MAX_NAME:
        add_error(errors, "name", _("Keep this under %(limit)d characters.") % {"limit": MAX_NAME})
    elif model._default_manager.filter(name__iexact=name).exclude(pk=pk).exists():
        add_error(errors, "name", _("This name is already taken."))
    return name


def check_pageable(user: User | None, field: str, errors: dict[str, list[str]]) -> None:
    if user is None:
        add_error(errors, field, _("Choose a staff member."))
    elif not user.is_active:
        add_error(errors, field, _("This account is deactivated."))
    elif user.role in selectors.UNPAGEABLE_ROLES:
        add_error(
            errors,
            field,
            _("Administrators and analysts never see emergencies: page someone else."),
        )


def aware(value: dt.datetime) -> dt.datetime:
    """A time typed without an offset means the viewer's (the active) time zone."""
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def save_unique(obj: models.Model, field: str) -> None:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        raise invalid({field: [_("This name is already taken.")]}) from None


def apply_changes(obj: models.Model, values: dict[str, Any]) -> dict[str, Any]:
    """Set the given (not None) values that differ; return them."""
    changed = {k: v for k, v in values.items() if v is not None and getattr(obj, k) != v}
    for name, value in changed.items():
        setattr(obj, name, value)
    return changed


def printable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in values.items()}


def lock(model: type[models.Model], pk: Any) -> None:
    """Serialise position changes under one parent (a no-op on SQLite, where the writer already
    holds the database lock)."""
    model._default_manager.select_for_update().filter(pk=pk).first()


def renumber(model: type[models.Model], rows: Sequence[Any]) -> None:
    model._default_manager.filter(pk__in=[r.pk for r in rows]).update(
        position=F("position") + _OUT_OF_THE_WAY
    )
    for index, row in enumerate(rows):
        row.position = index
    model._default_manager.bulk_update(rows, ["position"])


def move(model: type[models.Model], rows: list[Any], row: Any, position: int) -> int:
    """Put `row` at `position` among `rows` (all of its parent's, in order); the old position."""
    last = len(rows) - 1
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= last:
        raise invalid(
            {"position": [_("Enter a position from 0 to %(last)d.") % {"last": max(last, 0)}]}
        )
    ordered = [r for r in rows if r.pk != row.pk]
    old = next(i for i, r in enumerate(rows) if r.pk == row.pk)
    ordered.insert(position, row)
    renumber(model, ordered)
    return old


def ref(obj: models.Model | None) -> str | None:
    return None if obj is None else str(obj.pk)
