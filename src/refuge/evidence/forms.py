"""Forms of the evidence pages. They parse and type the input; every rule lives in the services."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from refuge.evidence.models import EvidenceFile
from refuge.evidence.services import MAX_DESCRIPTION, PURPOSES


class EvidenceUploadForm(forms.Form):
    error_css_class = "invalid"
    required_css_class = "required"

    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "Photos, videos, audio, documents. The file is encrypted as it arrives; its "
            "SHA-256 is recorded."
        ),
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=MAX_DESCRIPTION,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Encrypted. What it shows, where it came from."),
    )
    sha256 = forms.CharField(
        label=_("SHA-256 (optional)"),
        required=False,
        max_length=64,
        help_text=_(
            "If you computed the file's SHA-256 before sending it, paste it here: a file that "
            "arrives different is refused."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    derived_from = forms.ChoiceField(
        label=_("Working copy of"),
        required=False,
        help_text=_(
            "For a redacted or converted version of a file already here. The original stays "
            "unchanged."
        ),
    )

    def __init__(
        self, *args: Any, origins: Iterable[tuple[EvidenceFile, str]] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["derived_from"]
        if isinstance(field, forms.ChoiceField):
            field.choices = [
                ("", _("— none: this is an original —")),
                *((str(evidence.pk), label) for evidence, label in origins),
            ]


class DownloadForm(forms.Form):
    """A GET form: the purpose is a code from a fixed list, never free text (it ends up in the
    URL and in the audit log, which is not encrypted)."""

    purpose = forms.ChoiceField(
        label=_("Purpose"),
        required=False,
        choices=[("", _("— not stated —")), *PURPOSES.items()],
    )
