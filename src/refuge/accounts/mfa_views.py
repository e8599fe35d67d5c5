"""The second-factor pages: the login's second step, enrolment, the account security page
(devices, recovery codes), re-authentication for step-up, and the coordinators' notices.

Thin: parse, call refuge.accounts.factors / notices / stepup, render. Passkey ceremonies run in
the browser against accounts.webauthn.
"""

from __future__ import annotations

import io
import json
from typing import Any

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.templatetags.otp_webauthn import get_configuration

from refuge.accounts import factors, notices, places, stepup
from refuge.accounts.forms import SecondFactorForm, StepUpForm, TotpConfirmForm
from refuge.accounts.models import Role, User
from refuge.core.errors import DomainError
from refuge.core.web import apply_domain_error, require_role

QR_SCALE = 4


def _actor(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User) or not user.is_active:
        raise Http404
    return user


def _safe_next(request: HttpRequest, default: str = "") -> str:
    """The `next` target if it stays on this site, else `default` (or the dashboard)."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default or resolve_url(settings.LOGIN_REDIRECT_URL)


def _may_enrol(actor: User) -> bool:
    """Adding a factor needs a verified session, except for an account that has none at all
    (its first factor is enrolled after the password: docs/authentication.md)."""
    return stepup.is_verified(actor) or not factors.user_factors(actor).any


def _webauthn_config(request: HttpRequest) -> str:
    """The passkey script's settings (URLs, CSRF token) as JSON text for a hidden element."""
    return json.dumps(get_configuration(request))


def _locked_out(request: HttpRequest) -> HttpResponse:
    """The same page django-axes shows for a password lockout; the session ends."""
    logout(request)
    return render(request, settings.AXES_LOCKOUT_TEMPLATE, status=403)


@never_cache
@require_http_methods(["GET", "POST"])
def second_factor(request: HttpRequest) -> HttpResponse:
    """The login's second step: a passkey, a TOTP code or a recovery code."""
    actor = _actor(request)
    if stepup.is_verified(actor):
        return HttpResponseRedirect(_safe_next(request))
    held = factors.user_factors(actor)
    if not held.any:
        return redirect("accounts:enrol")
    form = SecondFactorForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                device = factors.factor_verify(
                    user=actor,
                    method=form.cleaned_data["method"],
                    code=form.cleaned_data["code"],
                    purpose="login",
                )
            except factors.FactorLockedError:
                return _locked_out(request)
            except DomainError as error:
                apply_domain_error(form, error)
            else:
                request.session.cycle_key()  # ASVS 7.2.4: a new session id once fully signed in
                otp_login(request, device)
                places.login_completed(request, actor)
                if form.cleaned_data["method"] == "recovery":
                    messages.warning(
                        request,
                        _(
                            "You used a recovery code. Add a new device and generate new codes "
                            "on the account security page."
                        ),
                    )
                return HttpResponseRedirect(_safe_next(request))
    context = {
        "form": form,
        "factors": held,
        "totp_offered": bool(held.totp) and (factors.totp_allowed(actor) or not held.passkeys),
        "next": _safe_next(request),
        "webauthn_config": _webauthn_config(request),
    }
    return render(request, "accounts/second_factor.html", context, status=status)


@never_cache
def enrol(request: HttpRequest) -> HttpResponse:
    """Accounts without a factor their role may sign in with add one before anything else."""
    actor = _actor(request)
    if factors.has_required_factor(actor) and factors.device_satisfies_role(
        actor, getattr(actor, "otp_device", None)
    ):
        return redirect("accounts:security")
    context = {
        "passkey_required": factors.passkey_required(actor),
        "totp_allowed": factors.totp_allowed(actor),
        "after_passkey": _after_enrolment_url(actor),
        "webauthn_config": _webauthn_config(request),
    }
    return render(request, "accounts/enrol.html", context)


def _after_enrolment_url(actor: User) -> str:
    if factors.user_factors(actor).recovery_left:
        return resolve_url("accounts:security")
    return resolve_url("accounts:recovery_codes")


@never_cache
def totp_qr(request: HttpRequest) -> HttpResponse:
    """The pending authenticator's QR code as a PNG, drawn here by segno: the seed never goes to
    an outside service, and the page loads it as an image (img-src 'self'). PNG, not SVG: an SVG
    opened on its own is a document that could run script."""
    actor = _actor(request)
    device = factors.totp_pending(actor=actor) if _may_enrol(actor) else None
    if device is None:
        raise Http404
    buffer = io.BytesIO()
    segno.make(device.config_url, error="m").save(
        buffer, kind="png", scale=QR_SCALE, dark="#000", light="#fff"
    )
    response = HttpResponse(buffer.getvalue(), content_type="image/png")
    response["Cache-Control"] = "no-store"
    # An <img> ignores this; opened on its own, the image is downloaded, never rendered as a page.
    response["Content-Disposition"] = 'attachment; filename="authenticator-qr.png"'
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def totp_enrol(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    if not _may_enrol(actor):
        return redirect("accounts:second_factor")
    if not factors.totp_allowed(actor):
        messages.error(
            request, _("Your role must use a passkey; authenticator apps are not offered.")
        )
        return redirect("accounts:enrol")
    device = factors.totp_pending(actor=actor)
    form = TotpConfirmForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and device is not None:
        status = 400
        if form.is_valid():
            try:
                device = factors.totp_confirm(
                    actor=actor,
                    device=device,
                    code=form.cleaned_data["code"],
                    name=form.cleaned_data["name"],
                )
            except DomainError as error:
                apply_domain_error(form, error)
            else:
                return _after_totp(request, actor, device)
    elif device is None or request.method == "GET":
        device = factors.totp_begin(actor=actor)
    return render(request, "accounts/totp_enrol.html", _totp_context(device, form), status=status)


def _totp_context(device: TOTPDevice, form: TotpConfirmForm) -> dict[str, Any]:
    uri = device.config_url
    secret = uri.split("secret=", 1)[1].split("&", 1)[0]
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return {"form": form, "secret": grouped}


def _after_totp(request: HttpRequest, actor: User, device: TOTPDevice) -> HttpResponse:
    if not factors.device_satisfies_role(actor, getattr(actor, "otp_device", None)):
        request.session.cycle_key()
        otp_login(request, device)
        places.login_completed(request, actor)
    messages.success(request, _("The authenticator app is set up."))
    return redirect(_after_enrolment_url(actor))


@never_cache
@require_http_methods(["GET", "POST"])
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """Shows how many codes are left; a POST replaces them all and shows the new ones once."""
    actor = _actor(request)
    if not stepup.is_verified(actor):
        return redirect("accounts:second_factor")
    codes: list[str] = []
    if request.method == "POST":
        codes = factors.recovery_codes_generate(actor=actor)
    context = {
        "codes": codes,
        "left": factors.user_factors(actor).recovery_left,
        "enrolled": factors.has_required_factor(actor),
    }
    response = render(request, "accounts/recovery_codes.html", context)
    response["Cache-Control"] = "no-store"
    return response


@never_cache
def security(request: HttpRequest) -> HttpResponse:
    """The account security page: the staff member's factors and what they can do with them."""
    actor = _actor(request)
    held = factors.user_factors(actor)
    current = getattr(actor, "otp_device", None)
    context = {
        "factors": held,
        "current_id": current.persistent_id if current is not None else "",
        "passkey_required": factors.passkey_required(actor),
        "totp_allowed": factors.totp_allowed(actor),
        "passkey_relaxed": stepup.passkey_relaxed(),
        "step_up_minutes": max(1, settings.STEP_UP_SECONDS // 60),
        "webauthn_config": _webauthn_config(request),
    }
    return render(request, "accounts/security.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def device_remove(request: HttpRequest) -> HttpResponse:
    """GET asks for confirmation, POST removes. The device is named by its persistent id."""
    actor = _actor(request)
    try:
        device = factors.device_find(
            actor=actor, persistent_id=request.POST.get("device") or request.GET.get("device", "")
        )
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("accounts:security")
    if request.method == "POST":
        try:
            factors.device_remove(
                actor=actor,
                device=device,
                current=getattr(actor, "otp_device", None),
                session_key=request.session.session_key,
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("The device was removed. Other sessions were ended."))
        return redirect("accounts:security")
    context = {"device": device, "kind": factors.device_kind(device)}
    return render(request, "accounts/device_remove.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def step_up(request: HttpRequest) -> HttpResponse:
    """Re-authentication: a passkey, or the password and a TOTP code where the role allows it."""
    actor = _actor(request)
    want_passkey = request.GET.get("passkey") == "1" and not stepup.passkey_relaxed()
    held = factors.user_factors(actor)
    totp_offered = bool(held.totp) and factors.totp_allowed(actor) and not want_passkey
    form = StepUpForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if not totp_offered:
            form.is_valid()  # binds cleaned_data, so the page can carry the message
            form.add_error(None, _("Confirm with your passkey."))
        elif form.is_valid():
            try:
                _check_password(actor, form.cleaned_data["password"])
                factors.factor_verify(
                    user=actor, method="totp", code=form.cleaned_data["code"], purpose="step_up"
                )
            except factors.FactorLockedError:
                return _locked_out(request)
            except DomainError as error:
                apply_domain_error(form, error)
            else:
                stepup.record_step_up(request, passkey=False)
                return HttpResponseRedirect(_safe_next(request))
    context = {
        "form": form,
        "passkey_offered": bool(held.passkeys),
        "totp_offered": totp_offered,
        "want_passkey": want_passkey,
        "next": _safe_next(request),
        "minutes": max(1, settings.STEP_UP_SECONDS // 60),
        "webauthn_config": _webauthn_config(request),
    }
    return render(request, "accounts/step_up.html", context, status=status)


@never_cache
@require_GET
def step_up_resume(request: HttpRequest, nonce: str) -> HttpResponse:
    """After a re-authentication: continue the action that asked for it (accounts.stepup). The
    page posts the kept action back with a fresh CSRF token; a script presses its pre-focused
    button, and without JavaScript the user presses it (Enter)."""
    _actor(request)
    pending = stepup.pending_action(request, nonce)
    if pending is None:
        # Spent, lapsed, or another session's: like any object one may not see.
        raise Http404
    here = request.get_full_path()
    context = {
        "pending": pending,
        "confirmed": stepup.has_recent_step_up(request, passkey=pending.passkey),
        "resume_field": stepup.RESUME_FIELD,
        "step_up_url": stepup.step_up_url(request, passkey=pending.passkey, next_url=here),
    }
    return render(request, "accounts/step_up_resume.html", context)


def _check_password(actor: User, password: str) -> None:
    """A wrong password here counts towards the same lockout as a wrong code."""
    if actor.check_password(password):
        return
    with transaction.atomic():
        until = factors.record_failure(actor, method="password", reason="step_up")
    if until is not None:
        raise factors.FactorLockedError(until)
    raise DomainError(_("The password or the code is not valid."))


@never_cache
def notice_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    require_role(actor, {Role.COORDINATOR}, _("Security notices are for coordinators."))
    listed = list(notices.notice_list(actor=actor))
    sent = notices.notice_deliveries(listed)
    context = {
        "notices": [(notice, sent.get(notice.pk, [])) for notice in listed],
        "open_count": notices.notice_open_count(actor=actor),
    }
    return render(request, "accounts/notice_list.html", context)


@require_POST
def notice_acknowledge(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    require_role(actor, {Role.COORDINATOR}, _("Security notices are for coordinators."))
    try:
        count = notices.notice_acknowledge_all(actor=actor)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("%(count)d notices marked as seen.") % {"count": count})
    return redirect("accounts:notice_list")
