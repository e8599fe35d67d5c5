"""Input shapes for the people pages. They only parse: every rule (phone format, lengths, unique
pseudonyms, languages) lives in refuge.people.services and comes back as a DomainError."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from refuge.people.models import Language, Relative, RiskLevel
from refuge.people.services import IDENTITY_FIELDS


def _lines(rows: int = 3) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "autocomplete": "off", "spellcheck": "false"})


class PersonForm(forms.Form):
    pseudonym = forms.CharField(
        label=_("Pseudonym"),
        required=False,
        max_length=40,
        help_text=_(
            "The code name most staff will see. Leave it empty to get a random one. "
            "Never use anything that hints at the real name, age or place."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    risk_level = forms.ChoiceField(
        label=_("Risk level"), choices=RiskLevel.choices, initial=RiskLevel.HIGH
    )
    languages = forms.MultipleChoiceField(
        label=_("Languages"),
        choices=Language.choices,
        required=False,
        initial=[Language.RU],
        widget=forms.CheckboxSelectMultiple,
    )
    legal_name = forms.CharField(
        label=_("Legal name"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    aliases = forms.CharField(
        label=_("Other names"),
        required=False,
        help_text=_("Nicknames, earlier names, spellings in other alphabets."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    date_of_birth = forms.DateField(
        label=_("Date of birth"),
        required=False,
        help_text=_("Someone under 18 is flagged as a minor, with stricter access."),
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "off"}, format="%Y-%m-%d"),
    )
    phones = forms.CharField(
        label=_("Phone numbers"),
        required=False,
        help_text=_("One per line, with the country code (+7 …)."),
        widget=_lines(),
    )
    messengers = forms.CharField(
        label=_("Messenger handles"),
        required=False,
        help_text=_("One per line, e.g. Telegram: @name."),
        widget=_lines(),
    )
    address = forms.CharField(label=_("Address"), required=False, widget=_lines())
    notes = forms.CharField(label=_("Notes"), required=False, widget=_lines(6))

    def __init__(
        self, *args: Any, with_pseudonym: bool = True, with_identity: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        # Fields the user may not change are not on the form at all, so they cannot be posted.
        if not with_pseudonym:
            del self.fields["pseudonym"]
        if not with_identity:
            for name in IDENTITY_FIELDS:
                del self.fields[name]

    @property
    def identity_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in IDENTITY_FIELDS if name in self.fields]

    @property
    def public_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name not in IDENTITY_FIELDS]


class RelativeForm(forms.Form):
    relation = forms.ChoiceField(label=_("Relation"), choices=Relative.Relation.choices)
    risk_level = forms.ChoiceField(
        label=_("Risk level"), choices=RiskLevel.choices, initial=RiskLevel.MEDIUM
    )
    name = forms.CharField(
        label=_("Name"), required=False, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    phones = forms.CharField(
        label=_("Phone numbers"), required=False, help_text=_("One per line."), widget=_lines()
    )
    location = forms.CharField(label=_("Where they live"), required=False, widget=_lines())
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        help_text=_("Contact history, threats received, who may reach them safely."),
        widget=_lines(6),
    )


class IdentitySearchForm(forms.Form):
    """Exact search by phone number or legal name; sent by POST so neither ends up in a URL."""

    phone = forms.CharField(
        label=_("Phone number"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel"}),
    )
    name = forms.CharField(
        label=_("Legal name"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
