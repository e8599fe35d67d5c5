"""Forms of the emergency line's staff pages. They parse and type the input; every rule (which
transitions are allowed, what a valid schedule or PIN is) lives in the alerts services."""

from __future__ import annotations

import zoneinfo
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from refuge.alerts import deadlines
from refuge.alerts.models import CheckinSchedule, Outcome
from refuge.alerts.services.call_time import MAX_CALL_AGE
from refuge.alerts.services.corrections import MAX_REASON
from refuge.alerts.services.response import STAFF_OUTCOMES
from refuge.people.models import ProtectedPerson

MAX_TEXT = 10_000
MAX_HINT = 1_000


class AlertsForm(forms.Form):
    error_css_class = "invalid"
    required_css_class = "required"


if TYPE_CHECKING:
    _PersonField = forms.ModelChoiceField[ProtectedPerson]
    _PeopleField = forms.ModelMultipleChoiceField[ProtectedPerson]
else:  # Django's form fields are not subscriptable at run time
    _PersonField = forms.ModelChoiceField
    _PeopleField = forms.ModelMultipleChoiceField


def _pseudonym(person: ProtectedPerson) -> str:
    if person.is_minor:
        return str(_("%(pseudonym)s (minor)") % {"pseudonym": person.pseudonym})
    return person.pseudonym


class CallerField(_PersonField):
    def label_from_instance(self, obj: ProtectedPerson) -> str:
        return _pseudonym(obj)


class PeopleField(_PeopleField):
    def label_from_instance(self, obj: ProtectedPerson) -> str:
        return _pseudonym(obj)


class CallForm(AlertsForm):
    """ "Log a call": who called, when, what was heard, where, and whom it concerns. The same
    form opens an emergency or only logs the call (the button pressed says which)."""

    caller = CallerField(
        label=_("Who called"),
        queryset=None,
        required=False,
        empty_label=_("Unknown caller"),
        help_text=_("A protected person's pseudonym, or “Unknown caller”."),
    )
    received_at = forms.DateTimeField(
        label=_("Call received at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    heard = forms.CharField(
        label=_("What was heard"),
        max_length=MAX_TEXT,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Encrypted. Never sent in a notification."),
    )
    location_hint = forms.CharField(
        label=_("Location hint"),
        max_length=MAX_HINT,
        required=False,
        help_text=_("Where it may be happening, as far as known. Encrypted."),
    )
    people = PeopleField(
        label=_("People concerned"),
        queryset=None,
        required=False,
        help_text=_(
            "Pseudonyms only; their open cases are linked automatically. The caller is "
            "included. Hold Ctrl (or ⌘) to choose several."
        ),
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )

    def __init__(self, data: Any = None, *, people: QuerySet[ProtectedPerson]) -> None:
        super().__init__(data)
        cast("CallerField", self.fields["caller"]).queryset = people
        cast("PeopleField", self.fields["people"]).queryset = people
        self.fields["received_at"].help_text = _(
            "In your time zone (%(zone)s). Leave empty when the call is happening now; fill it "
            "in when you write a call down afterwards (up to %(days)d days)."
        ) % {"zone": timezone.get_current_timezone_name(), "days": MAX_CALL_AGE.days}


class ResolveForm(AlertsForm):
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[
            ("", _("Choose the outcome")),
            *((value, Outcome(value).label) for value in STAFF_OUTCOMES),
        ],
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=MAX_TEXT,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Encrypted. What happened, what follows."),
    )


class TimeCorrectionForm(AlertsForm):
    """Correct one of an emergency's recorded times, with the reason."""

    field = forms.ChoiceField(label=_("Which time"))
    at = forms.DateTimeField(
        label=_("Correct time"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("In your time zone."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=MAX_REASON,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required. Shown on the timeline with the original time; encrypted."),
    )

    def __init__(self, data: Any = None, *, fields: list[tuple[str, str]]) -> None:
        super().__init__(data)
        cast("forms.ChoiceField", self.fields["field"]).choices = [
            ("", _("Choose the time")),
            *fields,
        ]


class NoteForm(AlertsForm):
    text = forms.CharField(
        label=_("Note"),
        max_length=MAX_TEXT,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def zone_choices() -> list[tuple[str, str]]:
    names = sorted(n for n in zoneinfo.available_timezones() if "/" in n or n == "UTC")
    return [(name, name) for name in names]


class ScheduleForm(AlertsForm):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=CheckinSchedule.Kind.choices,
        initial=CheckinSchedule.Kind.DAILY,
        widget=forms.RadioSelect,
    )
    interval_hours = forms.IntegerField(
        label=_("Every (hours)"),
        required=False,
        min_value=deadlines.MIN_INTERVAL_HOURS,
        max_value=deadlines.MAX_INTERVAL_HOURS,
        help_text=_("For “Every N hours”."),
    )
    daily_time = forms.TimeField(
        label=_("Daily at"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_("For “Daily at a time”, in the person's time zone."),
    )
    time_zone = forms.ChoiceField(label=_("The person's time zone"))
    grace_minutes = forms.IntegerField(
        label=_("Grace period (minutes)"),
        min_value=deadlines.MIN_GRACE_MINUTES,
        max_value=deadlines.MAX_GRACE_MINUTES,
        initial=120,
        help_text=_("How long after the deadline a missed check-in raises an alert."),
    )
    window_minutes = forms.IntegerField(
        label=_("Check-ins count from (minutes before the deadline)"),
        required=False,
        min_value=deadlines.MIN_WINDOW_MINUTES,
        max_value=deadlines.MAX_INTERVAL_HOURS * 60,
        help_text=_(
            "An earlier check-in is recorded but does not count, so the deadline stays. "
            "At most the interval (1440 for a daily schedule). Empty: 240 (4 hours) for a "
            "daily schedule, the whole interval for every N hours."
        ),
    )

    def __init__(self, data: Any = None, *, initial: dict[str, Any] | None = None) -> None:
        super().__init__(data, initial=initial)
        cast("forms.ChoiceField", self.fields["time_zone"]).choices = zone_choices()


class PauseForm(AlertsForm):
    until = forms.DateTimeField(
        label=_("Paused until"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("In your time zone. Leave empty to pause until resumed by hand."),
    )


class PinsForm(AlertsForm):
    """The two PINs. They are never rendered back (render_value=False) and never logged."""

    pin = forms.CharField(
        label=_("Normal PIN"),
        strip=False,
        max_length=32,
        widget=forms.PasswordInput(
            attrs={"autocomplete": "off", "inputmode": "numeric"}, render_value=False
        ),
        help_text=_("4 to 8 digits. The person checks in with it."),
    )
    duress_pin = forms.CharField(
        label=_("Duress PIN"),
        required=False,
        strip=False,
        max_length=32,
        widget=forms.PasswordInput(
            attrs={"autocomplete": "off", "inputmode": "numeric"}, render_value=False
        ),
        help_text=_(
            "4 to 8 digits, different from the normal PIN. It looks like a normal check-in "
            "and silently raises a top-priority emergency. Leave empty for none."
        ),
    )
