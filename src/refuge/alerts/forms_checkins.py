"""Forms of a person's check-ins page that are not about the schedule's settings (those are in
forms_emergencies): lifting a PIN lockout."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from refuge.alerts.forms_emergencies import AlertsForm
from refuge.alerts.services.checkin_lockout import MAX_REASON


class UnlockForm(AlertsForm):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=MAX_REASON,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "How the person was reached and confirmed, e.g. by phone. Kept encrypted on the "
            "lockout's emergency; the unlocking is audited."
        ),
    )
