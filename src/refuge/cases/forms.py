"""Forms of the cases pages. They parse and type the input; every rule lives in the services."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from refuge.accounts.models import Team, User
from refuge.cases.models import CaseStatus, CaseType, TimelineEntry
from refuge.cases.selectors import CaseFilters
from refuge.cases.services import MAX_TASK_TITLE
from refuge.people.models import ProtectedPerson, RiskLevel

# The case list's free-text filter; the selector looks at no more than this.
MAX_QUERY = 40


class RefugeForm(forms.Form):
    error_css_class = "invalid"
    required_css_class = "required"


class CaseFilterForm(RefugeForm):
    """The GET filters of the case list. Every field is optional; an invalid value is reported
    next to its field and left out of the query."""

    q = forms.CharField(
        label=_("Code or pseudonym"),
        required=False,
        max_length=MAX_QUERY,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    case_type = forms.ChoiceField(
        label=_("Type"), required=False, choices=[("", _("Any type")), *CaseType.choices]
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *CaseStatus.choices]
    )
    risk_level = forms.ChoiceField(
        label=_("Risk"), required=False, choices=[("", _("Any risk")), *RiskLevel.choices]
    )
    assignee: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        label=_("Open task for"),
        required=False,
        queryset=None,
        empty_label=_("Anyone"),
    )

    def __init__(self, data: Any, *, assignees: QuerySet[User]) -> None:
        super().__init__(data)
        cast("forms.ModelChoiceField[User]", self.fields["assignee"]).queryset = assignees

    def filters(self) -> CaseFilters:
        """The valid filters, after is_valid(); invalid ones are simply absent."""
        data = getattr(self, "cleaned_data", {})
        assignee: User | None = data.get("assignee")
        return CaseFilters(
            case_type=data.get("case_type", ""),
            status=data.get("status", ""),
            risk_level=data.get("risk_level", ""),
            assignee=assignee.pk if assignee is not None else None,
            query=data.get("q", ""),
        )

    def is_filtered(self) -> bool:
        return any(self.data.get(name) for name in self.fields)


if TYPE_CHECKING:
    _PeopleField = forms.ModelMultipleChoiceField[ProtectedPerson]
else:  # Django's form fields are not subscriptable at run time
    _PeopleField = forms.ModelMultipleChoiceField


class PersonChoiceField(_PeopleField):
    """People by pseudonym only; a minor is marked so the stricter rules are visible."""

    def label_from_instance(self, obj: ProtectedPerson) -> str:
        if obj.is_minor:
            return str(_("%(pseudonym)s (minor)") % {"pseudonym": obj.pseudonym})
        return obj.pseudonym


class CaseEditForm(RefugeForm):
    team: forms.ModelChoiceField[Team] = forms.ModelChoiceField(
        label=_("Team"), queryset=None, empty_label=_("Choose a team")
    )
    people = PersonChoiceField(
        label=_("People"),
        queryset=None,
        required=False,
        help_text=_("Pseudonyms only. Hold Ctrl (or ⌘) to choose several."),
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    risk_level = forms.ChoiceField(
        label=_("Risk level"), choices=RiskLevel.choices, initial=RiskLevel.HIGH
    )
    summary = forms.CharField(
        label=_("Summary"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Encrypted. Visible to everyone who can see the case."),
    )

    def __init__(
        self,
        data: Any = None,
        *,
        teams: QuerySet[Team],
        people: QuerySet[ProtectedPerson],
        initial: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(data, initial=initial)
        cast("forms.ModelChoiceField[Team]", self.fields["team"]).queryset = teams
        cast("PersonChoiceField", self.fields["people"]).queryset = people.only(
            "id", "pseudonym", "is_minor"
        )


class CaseCreateForm(CaseEditForm):
    case_type = forms.ChoiceField(label=_("Type"))

    field_order = ("case_type", "team", "people", "risk_level", "summary")

    def __init__(
        self,
        data: Any = None,
        *,
        case_types: Sequence[str],
        teams: QuerySet[Team],
        people: QuerySet[ProtectedPerson],
        initial: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(data, teams=teams, people=people, initial=initial)
        type_field = cast("forms.ChoiceField", self.fields["case_type"])
        type_field.choices = [(value, CaseType(value).label) for value in case_types]
        if len(case_types) == 1:
            type_field.initial = case_types[0]
        if not self.is_bound and "team" not in self.initial:
            only = list(teams[:2])
            if len(only) == 1:
                self.initial["team"] = only[0].pk


class TimelineEntryForm(RefugeForm):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[
            (TimelineEntry.Kind.NOTE, TimelineEntry.Kind.NOTE.label),
            (TimelineEntry.Kind.CALL, TimelineEntry.Kind.CALL.label),
        ],
        initial=TimelineEntry.Kind.NOTE,
        widget=forms.RadioSelect,
    )
    text = forms.CharField(label=_("Text"), strip=False, widget=forms.Textarea(attrs={"rows": 4}))
    occurred_at = forms.DateTimeField(
        label=_("When"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Leave empty for now; fill in for a call taken earlier."),
    )


class StatusChangeForm(RefugeForm):
    # A free value rendered as a select of the allowed transitions: whatever is submitted goes
    # to the service, whose refusal names the statuses that are allowed.
    status = forms.CharField(label=_("New status"), widget=forms.Select)
    note = forms.CharField(
        label=_("Reason (optional)"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, data: Any = None, *, allowed: Sequence[str]) -> None:
        super().__init__(data)
        cast("forms.Select", self.fields["status"].widget).choices = [
            ("", _("Choose the next status")),
            *((value, CaseStatus(value).label) for value in allowed),
        ]


class TaskForm(RefugeForm):
    title = forms.CharField(label=_("Task"), max_length=MAX_TASK_TITLE)
    due_date = forms.DateField(
        label=_("Due date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    assignee: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        label=_("Assignee"),
        required=False,
        queryset=None,
        empty_label=_("Nobody yet"),
    )

    def __init__(self, data: Any = None, *, assignees: QuerySet[User]) -> None:
        super().__init__(data)
        cast("forms.ModelChoiceField[User]", self.fields["assignee"]).queryset = assignees
