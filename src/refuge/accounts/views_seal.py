"""Unseal and seal-now pages for coordinators (404 for everyone else).

Entering a share or sealing needs a recent passkey step-up. The share is read from the form and
handed to keyd; it is never stored, logged or put back into the page.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from refuge.accounts.models import Role, User
from refuge.accounts.stepup import step_up_required
from refuge.core.web import require_role
from refuge.security import sealing, services_seal
from refuge.security import shares as share_format

MAX_SHARE_FILE_BYTES = 4096
View = Callable[..., HttpResponse]


class ShareForm(forms.Form):
    share = forms.CharField(
        label=gettext_lazy("Share"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"}),
        help_text=gettext_lazy("Paste the text of your share file, or upload the file below."),
    )
    share_file = forms.FileField(label=gettext_lazy("Share file"), required=False)
    passphrase = forms.CharField(
        label=gettext_lazy("Passphrase (only if your share file is protected by one)"),
        required=False,
        max_length=1000,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("share_file")
        text = data.get("share") or ""
        if upload is not None:
            if upload.size > MAX_SHARE_FILE_BYTES:
                raise forms.ValidationError(_("That file is too large to be a share."))
            try:
                text = upload.read().decode("ascii")
            except UnicodeDecodeError:
                raise forms.ValidationError(_("That file is not a share.")) from None
        if not text.strip():
            raise forms.ValidationError(_("Paste a share or upload a share file."))
        data["share_text"] = text
        return data


def _coordinator_only(view: View) -> View:
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = cast("User", request.user)
        if settings.KEY_MODE != "sealed":
            raise Http404  # with a plain key file there is no seal to manage
        require_role(user, {Role.COORDINATOR}, _("Sealing and unsealing are for coordinators."))
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def _page(request: HttpRequest, errors: list[str] | None = None, status: int = 200) -> HttpResponse:
    """The seal page with a blank form: a submitted share is never echoed back into the page."""
    seal = services_seal.seal_status()
    context = {"seal": seal, "form": ShareForm(), "seal_errors": errors or []}
    return render(request, "accounts/seal_status.html", context, status=status)


def _messages_of(form: ShareForm) -> list[str]:
    return [str(message) for messages_ in form.errors.values() for message in messages_]


@_coordinator_only
def seal_status(request: HttpRequest) -> HttpResponse:
    return _page(request)


@_coordinator_only
@require_POST
@step_up_required(passkey=True)
def seal_unseal(request: HttpRequest) -> HttpResponse:
    form = ShareForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, _messages_of(form), status=400)
    user = cast("User", request.user)
    try:
        status = services_seal.seal_unseal(
            actor=user,
            share_text=form.cleaned_data["share_text"],
            passphrase=form.cleaned_data["passphrase"] or None,
            holder=user.get_username(),
        )
    except (share_format.ShareError, sealing.NotInitialisedError) as exc:
        return _page(request, [_("Share refused: %(why)s") % {"why": exc}], status=400)
    except sealing.SealedError:
        message = _("The key daemon cannot be reached: is refuge keyd running?")
        return _page(request, [message], status=503)
    if status.sealed:
        messages.success(
            request,
            _("Share accepted: %(progress)s of %(k)s entered.")
            % {"progress": status.progress, "k": status.threshold},
        )
    else:
        messages.success(request, _("Unsealed."))
    return redirect("accounts:seal_status")


@_coordinator_only
@require_POST
def seal_reset(request: HttpRequest) -> HttpResponse:
    user = cast("User", request.user)
    try:
        services_seal.seal_reset(actor=user, holder=user.get_username())
    except sealing.SealedError:
        messages.error(request, _("The key daemon cannot be reached: is refuge keyd running?"))
    else:
        messages.success(request, _("Shares entered so far were discarded."))
    return redirect("accounts:seal_status")


@_coordinator_only
@step_up_required(passkey=True, resume_fields=())
def seal_now(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "accounts/seal_now.html", {"seal": services_seal.seal_status()})
    user = cast("User", request.user)
    try:
        services_seal.seal_now(actor=user, holder=user.get_username())
    except sealing.SealedError:
        messages.info(request, _("Already sealed: the key daemon cannot be reached."))
    else:
        messages.success(request, _("Sealed. Every process lost access to the keys."))
    return redirect("accounts:seal_status")
