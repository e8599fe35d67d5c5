"""Forms of the setup pages (policies, rotas, channels). They parse and type the input; every rule
lives in refuge.alerts.services.setup, whose DomainError is shown next to the fields."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from typing_extensions import override

from refuge.accounts.models import User
from refuge.alerts.models import EscalationStep, OnCallRota, StaffChannel
from refuge.alerts.services.setup import MAX_NAME, MAX_TARGET

if TYPE_CHECKING:
    _UserField = forms.ModelChoiceField[User]
else:  # Django's form fields are not subscriptable at run time.
    _UserField = forms.ModelChoiceField


class SetupForm(forms.Form):
    error_css_class = "invalid"
    required_css_class = "required"


class StaffField(_UserField):
    @override
    def label_from_instance(self, obj: User) -> str:
        return f"{obj.username} · {obj.get_role_display()}"


class LocalDateTimeInput(forms.DateTimeInput):
    """The browser's date-and-time picker; the value is read in the viewer's time zone."""

    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M")


def _whole_number(
    label: Any, help_text: Any = "", initial: int | None = None
) -> forms.IntegerField:
    return forms.IntegerField(label=label, help_text=help_text, initial=initial)


class PolicyForm(SetupForm):
    name = forms.CharField(label=_("Name"), max_length=MAX_NAME)
    is_default = forms.BooleanField(
        label=_("Default policy"),
        required=False,
        help_text=_(
            "Emergencies follow the default policy; making this one the default unsets the "
            "previous one."
        ),
    )
    repeat = _whole_number(
        _("Repeat"),
        _("Run all the steps again this many times while nobody acknowledges (0 to 5)."),
        initial=1,
    )
    en_route_within_minutes = _whole_number(
        _("On the way within (minutes)"),
        _(
            "An acknowledgement not followed by “on my way” within this time falls back to "
            "unacknowledged, and escalation resumes (1 to 240)."
        ),
        initial=10,
    )


class StepForm(SetupForm):
    target = forms.ChoiceField(label=_("Who is paged"), choices=EscalationStep.Target.choices)
    delay_minutes = _whole_number(
        _("Delay (minutes)"),
        _("Counted from the step before; 0 pages at once (0 to 1440)."),
        initial=0,
    )
    rota: forms.ModelChoiceField[OnCallRota] = forms.ModelChoiceField(
        label=_("Rota"),
        queryset=OnCallRota.objects.none(),
        required=False,
        help_text=_("For the on-call operator: whoever is on call on this rota."),
    )
    user = StaffField(
        label=_("Staff member"),
        queryset=User.objects.none(),
        required=False,
        help_text=_("For a named staff member."),
    )
    channel_kinds = forms.MultipleChoiceField(
        label=_("Channels"),
        choices=StaffChannel.Kind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: each person's own channels, in their order."),
    )

    def __init__(
        self, *args: Any, rotas: QuerySet[OnCallRota], staff: QuerySet[User], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        cast("forms.ModelChoiceField[OnCallRota]", self.fields["rota"]).queryset = rotas
        cast("StaffField", self.fields["user"]).queryset = staff


class RotaForm(SetupForm):
    name = forms.CharField(label=_("Name"), max_length=MAX_NAME)
    starts_on = forms.DateTimeField(
        label=_("Rotation starts"),
        widget=LocalDateTimeInput(),
        help_text=_("The first member's first shift begins then; in your time zone."),
    )
    shift_days = _whole_number(_("Shift length (days)"), _("From 1 to 28 days."), initial=7)


class StaffChoiceForm(SetupForm):
    user = StaffField(label=_("Staff member"), queryset=User.objects.none())

    def __init__(self, *args: Any, staff: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast("StaffField", self.fields["user"]).queryset = staff


class OverrideForm(StaffChoiceForm):
    starts_at = forms.DateTimeField(label=_("From"), widget=LocalDateTimeInput())
    ends_at = forms.DateTimeField(label=_("Until"), widget=LocalDateTimeInput())


class ChannelForm(SetupForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=StaffChannel.Kind.choices)
    target = forms.CharField(
        label=_("Address"),
        max_length=MAX_TARGET,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
        help_text=_(
            "An e-mail address; for Telegram, Signal, Matrix and webhooks an Apprise URL "
            "(tgram://, signal://, matrixs://, jsons://) or the chat id, phone number or "
            "Matrix id."
        ),
    )


class ChannelEditForm(ChannelForm):
    active = forms.BooleanField(
        label=_("Active"), required=False, help_text=_("Inactive channels are skipped.")
    )


class MoveForm(SetupForm):
    position = forms.IntegerField(min_value=0)
