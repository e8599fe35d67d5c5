"""Template helpers for form widgets (see templates/django/forms/widgets/select.html)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

OptGroups = Iterable[tuple[Any, list[dict[str, Any]], int]]


def _escape(value: Any) -> str:
    """django.utils.html.conditional_escape, without its lazy-string wrapper on every call."""
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return html.escape(str(value))


def _attributes(attrs: Mapping[str, Any]) -> str:
    """What django/forms/widgets/attrs.html writes: False is left out, True is a bare name."""
    parts = []
    for name, value in attrs.items():
        if value is True:
            parts.append(f" {_escape(name)}")
        elif value is not False:
            parts.append(f' {_escape(name)}="{_escape(value)}"')
    return "".join(parts)


@register.simple_tag
def select_options(optgroups: OptGroups) -> SafeString:
    """The <option>s (and <optgroup>s) of a select widget, with the markup and escaping of
    Django's select_option.html and attrs.html. Written here rather than with two template
    includes per option: a filter select of a few hundred staff members took 20 ms."""
    parts: list[str] = []
    for group_name, options, _index in optgroups:
        if group_name:
            parts.append(f'<optgroup label="{_escape(group_name)}">')
        parts.extend(
            f'<option value="{_escape(option["value"])}"{_attributes(option["attrs"])}>'
            f"{_escape(option['label'])}</option>"
            for option in options
        )
        if group_name:
            parts.append("</optgroup>")
    return mark_safe("".join(parts))  # every value above is escaped
