"""Second factors: which a role needs, enrolment, verification with a lockout, recovery codes.

Every staff account needs a second factor (security-design b.9, ASVS 6.3.3). Passkeys are the
phishing-resistant factor and are required for coordinators and for every role that may reveal
a legal identity (case workers and lawyers, cases/access.py); operators, analysts and admins may
use TOTP instead. Recovery codes (django-otp static tokens) open a session when a device is lost.

Secrets never leave this module in logs or audit entries: not the TOTP seed, not a code.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from refuge.accounts import notices
from refuge.accounts.models import Role, SecondFactorThrottle, SecurityNotice, User
from refuge.accounts.stepup import passkey_relaxed
from refuge.core import clock
from refuge.core.errors import DomainError
from refuge.security import audit

# Coordinators, and every role that can reveal an identity (cases/access.py: NO_IDENTITY_ROLES
# are the others), must use a passkey.
PASSKEY_ROLES = frozenset({Role.COORDINATOR, Role.CASEWORKER, Role.LAWYER})

RECOVERY_CODE_COUNT = 10
# 24 base32 characters = 120 bits (ASVS 6.5.2 asks for at least 112 bits of entropy).
RECOVERY_CODE_LENGTH = 24
RECOVERY_GROUP = 4
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
RECOVERY_DEVICE_NAME = "recovery codes"
TOTP_DIGITS = 6
# Demo accounts' TOTP seeds are derived from this public label and the username.
DEMO_TOTP_LABEL = b"refuge-demo-totp-seed"
MAX_DEVICE_NAME = 64


class FactorLockedError(DomainError):
    """Too many wrong second-factor codes: the account is locked until `until`."""

    def __init__(self, until: dt.datetime) -> None:
        super().__init__(
            _("Too many wrong codes. This account is locked; try again later or ask a coordinator.")
        )
        self.until = until


def passkey_required(user: User) -> bool:
    """Must this account use a passkey? Demo mode relaxes it to TOTP (with a banner)."""
    return user.role in PASSKEY_ROLES and not passkey_relaxed()


def totp_allowed(user: User) -> bool:
    return not passkey_required(user)


@dataclass
class Factors:
    passkeys: list[WebAuthnCredential] = field(default_factory=list)
    totp: list[TOTPDevice] = field(default_factory=list)
    recovery: StaticDevice | None = None
    recovery_left: int = 0

    @property
    def any(self) -> bool:
        return bool(self.passkeys or self.totp or self.recovery_left)


def user_factors(user: User) -> Factors:
    recovery = StaticDevice.objects.filter(user=user, confirmed=True).first()
    return Factors(
        passkeys=list(WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("pk")),
        totp=list(TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk")),
        recovery=recovery,
        recovery_left=recovery.token_set.count() if recovery else 0,
    )


def has_required_factor(user: User, factors: Factors | None = None) -> bool:
    """Does the account hold a factor its role may sign in with (recovery codes do not count)?"""
    if factors is None:
        # One or two EXISTS queries: this runs on every staff request (VerifiedSessionMiddleware).
        if WebAuthnCredential.objects.filter(user=user, confirmed=True).exists():
            return True
        return totp_allowed(user) and TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    return bool(factors.passkeys or (factors.totp and totp_allowed(user)))


def device_satisfies_role(user: User, device: Device | None) -> bool:
    """May a session verified with `device` use the staff pages? A recovery code may (it is how a
    lost device is replaced); TOTP only where the role allows it."""
    if device is None or device.user_id != user.pk:
        return False
    if isinstance(device, TOTPDevice):
        return totp_allowed(user)
    return isinstance(device, WebAuthnCredential | StaticDevice)


def session_factor_ok(user: User, device: Device | None) -> bool:
    """May a session verified with `device` use the staff pages? Without queries when the device
    is itself a factor the role signs in with (this runs on every request)."""
    if not device_satisfies_role(user, device) or not getattr(device, "confirmed", False):
        return False
    if isinstance(device, StaticDevice):
        return has_required_factor(user)  # after a recovery code: only if a real factor is left
    return True


def device_kind(device: Device) -> str:
    if isinstance(device, WebAuthnCredential):
        return "passkey"
    if isinstance(device, TOTPDevice):
        return "totp"
    return "recovery"


# --- Lockout -------------------------------------------------------------------------------------


def _cooloff() -> dt.timedelta:
    return dt.timedelta(hours=settings.AXES_COOLOFF_TIME)


def _throttle(user: User) -> SecondFactorThrottle:
    SecondFactorThrottle.objects.get_or_create(user=user)
    return SecondFactorThrottle.objects.select_for_update().get(user=user)


def locked_until(user: User) -> dt.datetime | None:
    row = SecondFactorThrottle.objects.filter(user=user).first()
    if row is None or row.locked_until is None or row.locked_until <= clock.now():
        return None
    return row.locked_until


def record_failure(user: User, *, method: str, reason: str) -> dt.datetime | None:
    """Count a wrong code; returns the lock's end when this failure locks the account."""
    now = clock.now()
    row = _throttle(user)
    if row.first_failure_at is None or now - row.first_failure_at > _cooloff():
        row.failures, row.first_failure_at = 0, now
    row.failures += 1
    audit.record(
        "refuge.accounts.factor.verify_failed",
        actor=user,
        obj=user,
        detail={"method": method, "reason": reason, "failures": row.failures},
    )
    if row.failures == 1:
        # The password was right but the second factor was not: coordinators are told once per
        # window (ASVS 6.3.5), not once per keystroke.
        notices.notice_raise(kind=SecurityNotice.Kind.SECOND_FACTOR_FAILED, user=user)
    if row.failures >= settings.SECOND_FACTOR_FAILURE_LIMIT:
        row.locked_until = now + _cooloff()
        row.failures, row.first_failure_at = 0, None
        audit.record(
            "refuge.accounts.factor.locked_out",
            actor=user,
            obj=user,
            detail={"until": row.locked_until.isoformat()},
        )
        notices.notice_raise(kind=SecurityNotice.Kind.SECOND_FACTOR_LOCKED_OUT, user=user)
    row.save()
    return row.locked_until if row.locked_until and row.locked_until > now else None


def _record_success(user: User, device: Device, *, purpose: str) -> None:
    SecondFactorThrottle.objects.filter(user=user).update(
        failures=0, first_failure_at=None, locked_until=None
    )
    audit.record(
        "refuge.accounts.factor.verified",
        actor=user,
        obj=user,
        detail={"method": device_kind(device), "purpose": purpose},
    )
    if isinstance(device, StaticDevice):
        audit.record(
            "refuge.accounts.factor.recovery_code_used",
            actor=user,
            obj=user,
            detail={"left": device.token_set.count()},
        )


def _normalise_totp(code: str) -> str:
    return "".join(ch for ch in (code or "") if not ch.isspace())


def normalise_recovery_code(code: str) -> str:
    """Typed codes may carry dashes, blanks and lower case; 0/1/8 are read as O/I/B."""
    cleaned = "".join(ch for ch in (code or "").upper() if ch not in " -\t")
    return cleaned.translate(str.maketrans("018", "OIB"))


def _recovery_digest(code: str) -> str:
    """What is stored of a recovery code: a keyed hash (the key is derived from SECRET_KEY, which
    is not in the database), cut to the 16 characters django-otp's column holds (96 bits)."""
    mac = salted_hmac("refuge.accounts.recovery-code", code, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(mac).decode("ascii")[:16]


def demo_totp_key(username: str) -> str:
    """The fixed TOTP seed of a demo account (hex, 20 bytes). Public by design: demo only."""
    return hmac.new(DEMO_TOTP_LABEL, username.encode("utf-8"), hashlib.sha256).hexdigest()[:40]


def is_demo_totp_device(device: TOTPDevice) -> bool:
    return hmac.compare_digest(device.key, demo_totp_key(device.user.get_username()))


def _totp_match(user: User, code: str) -> tuple[Device | None, str]:
    code = _normalise_totp(code)
    if not (code.isdigit() and len(code) == TOTP_DIGITS):
        return None, "malformed"
    for device in TOTPDevice.objects.filter(user=user, confirmed=True).select_for_update():
        if device.verify_token(code):
            if is_demo_totp_device(device) and not settings.DEMO_MODE:
                return None, "demo_secret"
            return device, ""
    return None, "wrong"


def _recovery_match(user: User, code: str) -> tuple[Device | None, str]:
    code = normalise_recovery_code(code)
    if len(code) != RECOVERY_CODE_LENGTH or any(ch not in BASE32 for ch in code):
        return None, "malformed"
    device = StaticDevice.objects.filter(user=user, confirmed=True).select_for_update().first()
    if device is not None and device.verify_token(_recovery_digest(code)):
        return device, ""
    return None, "wrong"


def factor_verify(*, user: User, method: str, code: str, purpose: str) -> Device:
    """Check a typed TOTP or recovery code. Returns the device; raises DomainError for a wrong
    code and FactorLockedError when the account is (or just became) locked. Passkeys are
    verified by the WebAuthn views (accounts.webauthn), which record through `passkey_verified`.
    """
    with transaction.atomic():
        until = locked_until(user)
        if until is not None:
            raise FactorLockedError(until)
        # A passkey role that has no passkey yet may use its old TOTP device, but only to reach
        # enrolment (VerifiedSessionMiddleware lets such a session do nothing else).
        totp_ok = totp_allowed(user) or not user_factors(user).passkeys
        if method == "totp" and totp_ok:
            device, reason = _totp_match(user, code)
        elif method == "recovery":
            device, reason = _recovery_match(user, code)
        else:
            device, reason = None, "method_refused"
        if device is not None:
            _record_success(user, device, purpose=purpose)
            return device
        until = record_failure(user, method=method, reason=reason)
    if until is not None:
        raise FactorLockedError(until)
    if reason == "method_refused":
        raise DomainError(_("Your role must use a passkey; an authenticator code is not enough."))
    raise DomainError(_("This code is not valid. Check it and try again."))


def passkey_verified(*, user: User, device: WebAuthnCredential, purpose: str) -> None:
    """Record a successful passkey assertion (the WebAuthn library checked it)."""
    with transaction.atomic():
        until = locked_until(user)
        if until is not None:
            raise FactorLockedError(until)
        _record_success(user, device, purpose=purpose)


def passkey_failed(*, user: User, purpose: str) -> None:
    with transaction.atomic():
        until = record_failure(user, method="passkey", reason=purpose)
    if until is not None:
        raise FactorLockedError(until)


# --- Enrolment and removal ------------------------------------------------------------------------


def totp_begin(*, actor: User) -> TOTPDevice:
    """A new, unconfirmed TOTP device with a random seed (earlier unconfirmed ones are dropped).
    In demo mode a demo account gets its fixed, printed seed instead."""
    if not totp_allowed(actor):
        raise DomainError(_("Your role must use a passkey; authenticator apps are not offered."))
    with transaction.atomic():
        TOTPDevice.objects.filter(user=actor, confirmed=False).delete()
        device = TOTPDevice(user=actor, name=_("Authenticator app"), confirmed=False)
        device.save()
    return device


def totp_pending(*, actor: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=actor, confirmed=False).order_by("-pk").first()


def totp_confirm(*, actor: User, device: TOTPDevice, code: str, name: str = "") -> TOTPDevice:
    """Confirm a pending device with its first code; the device then counts as a factor."""
    if device.user_id != actor.pk or device.confirmed:
        raise DomainError(_("Start the authenticator set-up again."))
    name = (name or "").strip()[:MAX_DEVICE_NAME] or _("Authenticator app")
    with transaction.atomic():
        code = _normalise_totp(code)
        if not (code.isdigit() and len(code) == TOTP_DIGITS) or not device.verify_token(code):
            raise DomainError(
                _("This code does not match. Scan the code again and type the current 6 digits.")
            )
        device.confirmed = True
        device.name = name
        device.save(update_fields=["confirmed", "name"])
        audit.record(
            "refuge.accounts.factor.enrolled",
            actor=actor,
            obj=actor,
            detail={"method": "totp", "device": device.persistent_id},
        )
    return device


def passkey_enrolled(*, actor: User, device: WebAuthnCredential) -> None:
    with transaction.atomic():
        audit.record(
            "refuge.accounts.factor.enrolled",
            actor=actor,
            obj=actor,
            detail={"method": "passkey", "device": device.persistent_id},
        )


def recovery_codes_generate(*, actor: User) -> list[str]:
    """Ten new single-use codes, shown once; every earlier code stops working."""
    codes = [
        "".join(secrets.choice(BASE32) for _i in range(RECOVERY_CODE_LENGTH))
        for _n in range(RECOVERY_CODE_COUNT)
    ]
    with transaction.atomic():
        device, _created = StaticDevice.objects.get_or_create(
            user=actor, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
        )
        StaticDevice.objects.filter(user=actor).exclude(pk=device.pk).delete()
        device.token_set.all().delete()
        StaticToken.objects.bulk_create(
            [StaticToken(device=device, token=_recovery_digest(code)) for code in codes]
        )
        audit.record(
            "refuge.accounts.factor.recovery_codes_generated",
            actor=actor,
            obj=actor,
            detail={"count": len(codes)},
        )
    return [format_recovery_code(code) for code in codes]


def format_recovery_code(code: str) -> str:
    return "-".join(code[i : i + RECOVERY_GROUP] for i in range(0, len(code), RECOVERY_GROUP))


def device_find(*, actor: User, persistent_id: str) -> Device:
    """One of the actor's own confirmed devices by its persistent id, else DomainError."""
    device = Device.from_persistent_id(persistent_id or "")
    kinds = (TOTPDevice, WebAuthnCredential, StaticDevice)
    if device is None or not isinstance(device, kinds) or device.user_id != actor.pk:
        raise DomainError(_("This device does not exist or is not yours."))
    if not device.confirmed:
        raise DomainError(_("This device does not exist or is not yours."))
    return device


def device_remove(
    *, actor: User, device: Device, current: Device | None, session_key: str | None
) -> int:
    """Remove a factor. The last factor the role may sign in with cannot be removed, and the
    device that verified this session cannot be removed from it (sign in with another first)."""
    if isinstance(device, StaticDevice):
        raise DomainError(_("Recovery codes are replaced by generating new ones, not removed."))
    held = user_factors(actor)
    gone = device.persistent_id
    remaining = Factors(
        passkeys=[d for d in held.passkeys if d.persistent_id != gone],
        totp=[d for d in held.totp if d.persistent_id != gone],
    )
    if not has_required_factor(actor, remaining):
        raise DomainError(
            _("This is your last factor that your role may sign in with. Add another one first.")
        )
    if current is not None and current.persistent_id == device.persistent_id:
        raise DomainError(
            _("You signed in with this device. Sign in with another factor to remove it.")
        )
    with transaction.atomic():
        persistent_id = device.persistent_id
        device.delete()
        ended = _end_other_sessions(actor, session_key)
        audit.record(
            "refuge.accounts.factor.removed",
            actor=actor,
            obj=actor,
            detail={
                "method": device_kind(device),
                "device": persistent_id,
                "sessions_ended": ended,
            },
        )
    return ended


def _end_other_sessions(user: User, keep: str | None) -> int:
    """A removed factor may be a lost or stolen device: every other session of the account ends
    (ASVS 7.4.3). Sessions are signed blobs, so each live one is decoded to find its user."""
    ended = 0
    for session in Session.objects.filter(expire_date__gt=clock.now()).exclude(session_key=keep):
        if str(session.get_decoded().get("_auth_user_id", "")) == str(user.pk):
            session.delete()
            ended += 1
    return ended


def demo_totp_device(*, user: User) -> TOTPDevice:
    """The demo's fixed, printed TOTP device for a demo account. Demo mode only."""
    if not settings.DEMO_MODE:
        raise DomainError(_("Fixed TOTP secrets exist only in demo mode."))
    device, _created = TOTPDevice.objects.update_or_create(
        user=user,
        name="demo",
        defaults={"key": demo_totp_key(user.get_username()), "confirmed": True},
    )
    return device
