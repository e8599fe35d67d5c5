"""Input shapes for the staff pages. Rules live in refuge.accounts.services; these forms only
parse, and the services' DomainError is shown next to the fields (core.web.apply_domain_error)."""

from __future__ import annotations

import zoneinfo
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _
from typing_extensions import override

from refuge.accounts.models import Role, User

LANGUAGE_CHOICES = [("en", "English"), ("ru", "Русский")]


class LoginForm(AuthenticationForm):
    """Django's login form, refusing over-long usernames before they reach the authentication
    backends: django-axes stores the typed username in a 255-character column, and PostgreSQL
    would answer a longer one with a server error."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["username"]
        if isinstance(field, forms.CharField) and field.max_length:
            field.validators.append(MaxLengthValidator(field.max_length))


class PasswordPairMixin(forms.Form):
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    @override
    def clean(self) -> dict[str, Any]:
        # Typing the same password twice is input checking, not a business rule.
        cleaned = super().clean() or {}
        first, second = cleaned.get("password"), cleaned.get("password_again")
        if first and second and first != second:
            self.add_error("password_again", _("The two passwords differ."))
        return cleaned


class UserCreateForm(PasswordPairMixin):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
    )
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES)

    field_order = ("username", "role", "language", "password", "password_again")


class UserEditForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES)
    is_active = forms.BooleanField(
        label=_("Active"),
        required=False,
        help_text=_("A deactivated account cannot log in; its open sessions end at once."),
    )


class PasswordSetForm(PasswordPairMixin):
    pass


class TeamCreateForm(forms.Form):
    name = forms.CharField(label=_("Team name"), max_length=100)


if TYPE_CHECKING:
    _UserChoiceField = forms.ModelChoiceField[User]
else:  # Django's form fields are not subscriptable at run time.
    _UserChoiceField = forms.ModelChoiceField


class CandidateField(_UserChoiceField):
    @override
    def label_from_instance(self, obj: User) -> str:
        return f"{obj.username} · {obj.get_role_display()}"


class MemberAddForm(forms.Form):
    user = CandidateField(label=_("Staff member"), queryset=User.objects.none())
    is_lead = forms.BooleanField(
        label=_("Team lead"),
        required=False,
        help_text=_("Only a team lead sees the identity of a minor on the team's cases."),
    )

    def __init__(self, *args: Any, candidates: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["user"]
        if isinstance(field, CandidateField):
            field.queryset = candidates


def time_zone_choices() -> list[tuple[str, str]]:
    """Every IANA zone name, after the server's default (the empty value)."""
    default = _("The server's time zone (%(zone)s)") % {"zone": settings.TIME_ZONE}
    names = sorted(n for n in zoneinfo.available_timezones() if "/" in n or n == "UTC")
    return [("", str(default)), *((name, name) for name in names)]


class MySettingsForm(forms.Form):
    """A staff member's own preferences (only the time zone, for now)."""

    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        required=False,
        help_text=_("Times on every page are shown in this time zone."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["time_zone"]
        if isinstance(field, forms.ChoiceField):
            field.choices = time_zone_choices()


# --- Second factors (accounts.mfa_views) ----------------------------------------------------------

CODE_MAX_LENGTH = 64


class SecondFactorForm(forms.Form):
    """A TOTP code or a recovery code; which one is the button pressed (`method`)."""

    method = forms.ChoiceField(
        choices=[("totp", "totp"), ("recovery", "recovery")], widget=forms.HiddenInput
    )
    code = forms.CharField(
        label=_("Code"),
        max_length=CODE_MAX_LENGTH,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"}
        ),
    )


class TotpConfirmForm(forms.Form):
    name = forms.CharField(
        label=_("Name of this authenticator"),
        max_length=64,
        required=False,
        help_text=_("For example the phone it is on. Optional."),
    )
    code = forms.CharField(
        label=_("The 6-digit code the app shows now"),
        max_length=CODE_MAX_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class StepUpForm(forms.Form):
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=CODE_MAX_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
