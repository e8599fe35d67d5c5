"""The access-scoping function: every queryset of protected data passes through `scope()`.

Need-to-know rules are registered per model by the domain apps (the person and case rules live
together in refuge.cases.access). `scope()` fails closed: an anonymous or inactive actor gets
nothing, and a model without a registered rule raises instead of returning everything.
Outsiders get NotFoundError, the same as for ids that do not exist (HTTP 404).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist, ValidationError
from django.db import models

from refuge.core.errors import NotFoundError

M = TypeVar("M", bound=models.Model)
Rule = Callable[[Any, "models.QuerySet[Any]", str], "models.QuerySet[Any]"]
RevealRule = Callable[[Any, Any], bool]

VIEW = "view"
LOG = "log"  # add to a record's timeline (a call, a note) without changing the record
EDIT = "edit"
ACTIONS = (VIEW, LOG, EDIT)

_rules: dict[type[models.Model], Rule] = {}
_reveal_rules: dict[type[models.Model], RevealRule] = {}


def register(model: type[models.Model], rule: Rule) -> None:
    _rules[model] = rule


def register_reveal(model: type[models.Model], rule: RevealRule) -> None:
    """Who may see the encrypted identity fields of an object they can already see."""
    _reveal_rules[model] = rule


def _is_live(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False) and actor.is_active


def is_registered(model: type[models.Model]) -> bool:
    return model in _rules


def scope(actor: Any, queryset: models.QuerySet[M], *, action: str = VIEW) -> models.QuerySet[M]:
    """Only the rows of `queryset` that `actor` may see (action=VIEW), add timeline entries to
    (LOG) or change (EDIT)."""
    rule = _rules.get(queryset.model)
    if rule is None:
        raise ImproperlyConfigured(f"No access rule is registered for {queryset.model.__name__}.")
    if action not in ACTIONS:
        raise ValueError(f"unknown access action {action!r}")
    if not _is_live(actor):
        return queryset.none()
    return rule(actor, queryset, action)


def can_reveal(actor: Any, obj: models.Model) -> bool:
    """May `actor` see the legal identity (encrypted fields) of `obj`? Fails closed."""
    rule = _reveal_rules.get(type(obj))
    if rule is None or not _is_live(actor):
        return False
    return bool(rule(actor, obj))


def get_or_404(actor: Any, queryset: models.QuerySet[M], *, action: str = VIEW, **lookup: Any) -> M:
    try:
        return scope(actor, queryset, action=action).get(**lookup)
    except (ObjectDoesNotExist, ValidationError, ValueError):
        raise NotFoundError from None
