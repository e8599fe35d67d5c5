"""Input-validation messages of the JSON API in the request's language.

Pydantic's own messages are English only; each error type maps to a translated sentence, with
the limits pydantic reports (lengths, allowed values) filled in. Rejected input is never echoed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.utils.translation import gettext as _

Context = Mapping[str, Any]


def _choices(ctx: Context) -> str:
    return _("Choose one of: %(choices)s.") % {"choices": str(ctx.get("expected", ""))[:200]}


def _too_long(ctx: Context) -> str:
    return _("Too long: at most %(max)s characters.") % {"max": ctx.get("max_length", "?")}


def _too_short(ctx: Context) -> str:
    return _("Too short: at least %(min)s characters.") % {"min": ctx.get("min_length", "?")}


def _fixed(message: Callable[[], str]) -> Callable[[Context], str]:
    return lambda _ctx: message()


_BY_TYPE: dict[str, Callable[[Context], str]] = {
    "missing": _fixed(lambda: _("This field is required.")),
    "extra_forbidden": _fixed(lambda: _("This field is not part of the request; remove it.")),
    "string_too_long": _too_long,
    "string_too_short": _too_short,
    "string_type": _fixed(lambda: _("Send text here.")),
    "string_unicode": _fixed(lambda: _("Send text here.")),
    "uuid_parsing": _fixed(lambda: _("Send an id (a UUID) here.")),
    "uuid_type": _fixed(lambda: _("Send an id (a UUID) here.")),
    "enum": _choices,
    "literal_error": _choices,
    "int_parsing": _fixed(lambda: _("Send a whole number here.")),
    "int_type": _fixed(lambda: _("Send a whole number here.")),
    "int_from_float": _fixed(lambda: _("Send a whole number here.")),
    "greater_than_equal": _fixed(lambda: _("The number is too small.")),
    "greater_than": _fixed(lambda: _("The number is too small.")),
    "less_than_equal": _fixed(lambda: _("The number is too large.")),
    "less_than": _fixed(lambda: _("The number is too large.")),
    "bool_parsing": _fixed(lambda: _("Send true or false here.")),
    "bool_type": _fixed(lambda: _("Send true or false here.")),
    "list_type": _fixed(lambda: _("Send a list here.")),
    "too_long": _fixed(lambda: _("The list is too long.")),
    "too_short": _fixed(lambda: _("The list is too short.")),
    "dict_type": _fixed(lambda: _("Send an object here.")),
    "model_type": _fixed(lambda: _("Send an object here.")),
    "model_attributes_type": _fixed(lambda: _("Send an object here.")),
    "json_invalid": _fixed(lambda: _("The request body must be a valid JSON object.")),
}
# Families of pydantic types that share one message.
_BY_PREFIX: tuple[tuple[str, Callable[[Context], str]], ...] = (
    (
        "datetime",
        _fixed(lambda: _("Send a date and time with a time zone, e.g. 2026-02-03T15:00:00+03:00.")),
    ),
    (
        "timezone",
        _fixed(lambda: _("Send a date and time with a time zone, e.g. 2026-02-03T15:00:00+03:00.")),
    ),
    ("date", _fixed(lambda: _("Send a date as YYYY-MM-DD."))),
)


def translated_message(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    ctx: Context = error.get("ctx") or {}
    if kind in _BY_TYPE:
        return _BY_TYPE[kind](ctx)
    for prefix, message in _BY_PREFIX:
        if kind.startswith(prefix):
            return message(ctx)
    return _("This value is not valid.")
