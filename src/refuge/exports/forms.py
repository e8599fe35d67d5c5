"""Forms of the exports page. They parse and type the input; every rule lives in the services."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from refuge.accounts.models import Team
from refuge.exports.services import MAX_PURPOSE, MAX_REASON

FORMAT_CHOICES = [("json", _("JSON")), ("csv", _("CSV (spreadsheet)"))]
MAX_CODES_TEXT = 8000


class ExportForm(forms.Form):
    error_css_class = "invalid"
    required_css_class = "required"


class _ScopeForm(ExportForm):
    team: forms.ModelChoiceField[Team] = forms.ModelChoiceField(
        label=_("Team"), required=False, queryset=None
    )
    cases = forms.CharField(
        label=_("Or these cases"),
        required=False,
        max_length=MAX_CODES_TEXT,
        help_text=_("Case codes, separated by spaces or commas."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, data: Any = None, *, teams: QuerySet[Team], **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        cast("forms.ModelChoiceField[Team]", self.fields["team"]).queryset = teams


class RedactedExportForm(_ScopeForm):
    format = forms.ChoiceField(label=_("Format"), choices=FORMAT_CHOICES, initial="json")

    def __init__(self, data: Any = None, *, teams: QuerySet[Team], **kwargs: Any) -> None:
        super().__init__(data, teams=teams, prefix="redacted", **kwargs)
        self.fields["team"].empty_label = _("All cases I can see")  # type: ignore[attr-defined]


class ExportRequestForm(_ScopeForm):
    purpose = forms.CharField(
        label=_("Purpose"),
        max_length=MAX_PURPOSE,
        help_text=_(
            "What the export is for and who will receive it. The approving coordinator reads this."
        ),
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, data: Any = None, *, teams: QuerySet[Team], **kwargs: Any) -> None:
        super().__init__(data, teams=teams, prefix="request", **kwargs)
        self.fields["team"].empty_label = _("Choose a team")  # type: ignore[attr-defined]


class RejectForm(ExportForm):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=MAX_REASON,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class DownloadForm(ExportForm):
    format = forms.ChoiceField(label=_("Format"), choices=FORMAT_CHOICES, initial="json")
