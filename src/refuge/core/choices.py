"""Labels of model field choices, looked up once per field and language.

Django's get_<field>_display() builds a dict of the field's choices and translates every label
on each call (about 45 µs for a five-choice field); a case list shows three per row. The labels
of a field with fixed choices only change with the active language, so they are kept per
(field, language) for the life of the process.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import models
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable
from django.utils.translation import get_language


def choice_label(field: models.Field[Any, Any], value: Any) -> Any:
    """What get_<field>_display() returns: the label of `value` in the active language, or
    `value` itself when it is not one of the field's choices."""
    key = make_hashable(value)
    if isinstance(field.choices, list | tuple):
        labels = _labels(field, get_language())
        if key in labels:
            return labels[key]
        return force_str(value, strings_only=True)
    # Choices given as a callable may change between calls: Django's own lookup.
    return force_str(dict(make_hashable(field.flatchoices)).get(key, value), strings_only=True)


@cache
def _labels(field: models.Field[Any, Any], language: str | None) -> dict[Any, Any]:
    del language  # part of the cache key: the labels below are translated into it
    return {
        make_hashable(key): force_str(label, strings_only=True) for key, label in field.flatchoices
    }
