"""Input shapes for the people pages. They only parse: every rule (phone format, lengths, unique
pseudonyms, languages) lives in refuge.people.services and comes back as a DomainError."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from refuge.accounts.models import Team, User
from refuge.people.models import ContactChannel, ContactDirection, Language, Relative, RiskLevel
from refuge.people.services import IDENTITY_FIELDS

if TYPE_CHECKING:
    _TeamField = forms.ModelChoiceField[Team]
    _UserField = forms.ModelChoiceField[User]
else:  # Django's form fields are not subscriptable at run time
    _TeamField = forms.ModelChoiceField
    _UserField = forms.ModelChoiceField


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
    team = _TeamField(
        label=_("Recorded for team"),
        queryset=Team.objects.none(),
        required=False,
        empty_label=_("No team"),
        help_text=_(
            "This team sees the person until they are on a case, so it can open one for them "
            "or add them to one of its cases."
        ),
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
        self,
        *args: Any,
        with_pseudonym: bool = True,
        with_identity: bool = True,
        teams: Sequence[Team] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # Fields the user may not change are not on the form at all, so they cannot be posted.
        if teams is None:
            del self.fields["team"]
        else:
            team_field = cast("_TeamField", self.fields["team"])
            team_field.queryset = Team.objects.filter(pk__in=[t.pk for t in teams]).order_by("name")
            if len(teams) == 1:
                team_field.initial = teams[0].pk
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
        help_text=_(
            "Standing notes: threats received, who may reach them safely. Log each contact "
            "in the relative's contact log."
        ),
        widget=_lines(6),
    )


class StaffChoiceField(_UserField):
    def label_from_instance(self, obj: User) -> str:
        return f"{obj.get_username()} · {obj.get_role_display()}"


class RelativeContactForm(forms.Form):
    occurred_at = forms.DateTimeField(
        label=_("Date and time of the contact"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("In your time zone."),
    )
    channel = forms.ChoiceField(label=_("Channel"), choices=ContactChannel.choices)
    direction = forms.ChoiceField(
        label=_("Direction"),
        choices=ContactDirection.choices,
        initial=ContactDirection.OUTGOING,
        widget=forms.RadioSelect,
    )
    staff = StaffChoiceField(
        label=_("Who on staff"),
        queryset=User.objects.none(),
        empty_label=None,
        help_text=_("Only staff who may see this relative are listed."),
    )
    summary = forms.CharField(
        label=_("Summary"),
        required=False,
        strip=False,
        help_text=_("What was said, threats received, how they are. Encrypted."),
        widget=_lines(6),
    )
    follow_up_needed = forms.BooleanField(label=_("Follow-up needed"), required=False)

    def __init__(
        self,
        data: Any = None,
        *,
        staff: Sequence[User],
        actor: User,
        now: dt.datetime | None = None,
    ) -> None:
        initial: dict[str, Any] = {"occurred_at": now}
        if actor in staff:
            initial["staff"] = actor.pk
        super().__init__(data, initial=initial)
        cast("StaffChoiceField", self.fields["staff"]).queryset = User.objects.filter(
            pk__in=[user.pk for user in staff]
        ).order_by("username")


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
