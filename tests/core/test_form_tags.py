"""Select widgets render through templates/django/forms/widgets/select.html, whose options are
written by refuge.core.templatetags.form_tags: the markup must be Django's own."""

from __future__ import annotations

import re

from django import forms
from django.forms.renderers import DjangoTemplates


class _Form(forms.Form):
    one = forms.ChoiceField(
        choices=[
            ("", "Any"),
            ("plain", "Plain"),
            ("a&b", 'Quote " and <tag>'),
            ("Group <1>", [("g1", "In a group"), ("g2", "Also & here")]),
        ],
        required=False,
    )
    many = forms.MultipleChoiceField(choices=[("x", "X"), ("y", "Y")], required=False)


def _between_tags(html: str) -> str:
    # Django's template puts line breaks and indentation between options; browsers ignore them.
    return re.sub(r">\s+<", "><", html.strip())


def _both(data: dict[str, object], name: str) -> tuple[str, str]:
    ours = str(_Form(data)[name])
    django = str(_Form(data, renderer=DjangoTemplates())[name])
    return _between_tags(ours), _between_tags(django)


def test_options_groups_and_escaping_match_django():
    ours, django = _both({"one": "a&b"}, "one")
    assert ours == django
    assert 'value="a&amp;b" selected>Quote &quot; and &lt;tag&gt;</option>' in ours
    assert '<optgroup label="Group &lt;1&gt;">' in ours


def test_a_multiple_select_matches_django():
    ours, django = _both({"many": ["x", "y"]}, "many")
    assert ours == django
    assert ours.count(" selected>") == 2


class _MarkedSelect(forms.Select):
    def create_option(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        option = super().create_option(*args, **kwargs)
        option["attrs"].update({"data-note": 'say "hi"', "hidden": True, "lang": False})
        return option


def test_option_attributes_match_django():
    field = forms.ChoiceField(choices=[("a", "A")], widget=_MarkedSelect)
    ours = _between_tags(field.widget.render("pick", "a"))
    django = _between_tags(field.widget.render("pick", "a", renderer=DjangoTemplates()))
    assert ours == django
    assert '<option value="a" selected data-note="say &quot;hi&quot;" hidden>A</option>' in ours
