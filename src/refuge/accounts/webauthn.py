"""Passkeys (django-otp-webauthn), wired into Refuge's login, step-up, lockout and audit.

The library's views run the WebAuthn ceremonies; these subclasses add what Refuge needs:
- registration is audited, and a session that was verified with a factor its role may not use
  (or was not verified, at first enrolment) is upgraded to the new passkey;
- an assertion by a session that is not yet verified is the login's second factor: the account's
  lockout is checked, the session key rotates (ASVS 7.2.4) and the event is audited;
- an assertion by a verified session is a step-up (accounts.stepup);
- a failed assertion counts towards the second-factor lockout.
Passwordless login is off (OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN): a passkey is a second factor
after the password, so the ceremony needs a signed-in user.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.urls import path
from django.views.i18n import JavaScriptCatalog
from django_otp import login as otp_login
from django_otp_webauthn import exceptions
from django_otp_webauthn.models import WebAuthnCredential
from django_otp_webauthn.views import (
    BeginCredentialAuthenticationView,
    BeginCredentialRegistrationView,
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
)
from typing_extensions import override

from refuge.accounts import factors, places, stepup
from refuge.accounts.models import User


class LockedOutError(exceptions.OTPWebAuthnApiError):  # type: ignore[misc]  # untyped library
    status_code = 403
    default_code = "locked_out"


def _user(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_active else None


class PostOnly:
    """The ceremonies are POSTs; anything else is a 405 before the library looks at the user."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc,no-any-return]


class RegistrationBegin(PostOnly, BeginCredentialRegistrationView):  # type: ignore[misc]
    @override
    def user_is_mfa_enrolled(self, user: Any) -> bool:
        # Registering needs a verified session as soon as the account holds any factor (even one
        # its role may no longer sign in with): only a brand-new account enrols after the
        # password alone.
        return factors.user_factors(user).any


class RegistrationComplete(PostOnly, CompleteCredentialRegistrationView):  # type: ignore[misc]
    @override
    def user_is_mfa_enrolled(self, user: Any) -> bool:
        return factors.user_factors(user).any

    @override
    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        user = _user(self.request)
        response: HttpResponse = super().post(*args, **kwargs)
        if user is None or response.status_code != 200:  # noqa: PLR2004
            return response
        device = WebAuthnCredential.objects.filter(user=user).order_by("-pk").first()
        if device is None:
            return response
        factors.passkey_enrolled(actor=user, device=device)
        if not factors.device_satisfies_role(user, getattr(user, "otp_device", None)):
            # The new passkey now verifies this session (it just proved possession of it).
            self.request.session.cycle_key()
            otp_login(self.request, device)
            places.login_completed(self.request, user)
        return response


class AuthenticationBegin(PostOnly, BeginCredentialAuthenticationView):  # type: ignore[misc]
    @override
    def check_can_authenticate(self) -> None:
        user = _user(self.request)
        if user is None:
            raise exceptions.PasswordlessLoginDisabled
        until = factors.locked_until(user)
        if until is not None:
            raise LockedOutError(detail=factors.FactorLockedError(until).message)


class AuthenticationComplete(PostOnly, CompleteCredentialAuthenticationView):  # type: ignore[misc]
    @override
    def check_can_authenticate(self) -> None:
        if _user(self.request) is None:
            raise exceptions.PasswordlessLoginDisabled

    @override
    def complete_auth(self, device: Any) -> None:
        user = _user(self.request)
        if user is None or device.user_id != user.pk:
            raise exceptions.CredentialNotFound
        is_step_up = stepup.is_verified(user)
        purpose = "step_up" if is_step_up else "login"
        try:
            factors.passkey_verified(user=user, device=device, purpose=purpose)
        except factors.FactorLockedError as error:
            raise LockedOutError(detail=error.message) from error
        if is_step_up:
            stepup.record_step_up(self.request, passkey=True)
        else:
            self.request.session.cycle_key()
        otp_login(self.request, device)
        if not is_step_up:
            places.login_completed(self.request, user)

    @override
    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().post(*args, **kwargs)  # type: ignore[no-any-return]
        except exceptions.OTPWebAuthnApiError as error:
            user = _user(self.request)
            if user is not None and not isinstance(error, LockedOutError):
                try:
                    factors.passkey_failed(user=user, purpose="assertion")
                except factors.FactorLockedError as locked:
                    error = LockedOutError(detail=locked.message)
            body = {"detail": str(error), "code": error.code}
            return JsonResponse(body, status=error.status_code)


app_name = "otp_webauthn"

urlpatterns = [
    path(
        "registration/begin/",
        RegistrationBegin.as_view(),
        name="credential-registration-begin",
    ),
    path(
        "registration/complete/",
        RegistrationComplete.as_view(),
        name="credential-registration-complete",
    ),
    path(
        "authentication/begin/",
        AuthenticationBegin.as_view(),
        name="credential-authentication-begin",
    ),
    path(
        "authentication/complete/",
        AuthenticationComplete.as_view(),
        name="credential-authentication-complete",
    ),
    path(
        "jsi18n/",
        # The passkey script's messages; only signed-in staff run a ceremony.
        login_required(JavaScriptCatalog.as_view(packages=["django_otp_webauthn"])),
        name="js-i18n-catalog",
    ),
]
