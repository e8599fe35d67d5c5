"""Staff accounts, roles, teams and API tokens."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from refuge.core.models import UUIDModel


class Role(models.TextChoices):
    OPERATOR = "operator", _("Hotline operator")
    CASEWORKER = "caseworker", _("Case worker")
    LAWYER = "lawyer", _("Lawyer")
    ANALYST = "analyst", _("Documentation analyst")
    COORDINATOR = "coordinator", _("Coordinator")
    ADMIN = "admin", _("Administrator")


class User(AbstractUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    language = models.CharField(
        _("language"), max_length=5, choices=[("en", "English"), ("ru", "Русский")], default="en"
    )
    # A zoneinfo name; empty means the server's time zone (settings.TIME_ZONE). Pages show times
    # in it (accounts.middleware.TimeZoneMiddleware activates it for each request).
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True, default="")

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    @property
    def is_coordinator(self) -> bool:
        return self.role == Role.COORDINATOR

    @property
    def is_account_admin(self) -> bool:
        return self.role == Role.ADMIN


class Team(UUIDModel):
    name = models.CharField(_("name"), max_length=100, unique=True)
    members: models.ManyToManyField[User, TeamMembership] = models.ManyToManyField(
        User, through="TeamMembership", related_name="teams"
    )

    objects: ClassVar[models.Manager[Team]]

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    is_lead = models.BooleanField(_("team lead"), default=False)

    objects: ClassVar[models.Manager[TeamMembership]]

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["team", "user"], name="accounts_membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


class ApiToken(UUIDModel):
    """A bearer token for integrations. Only a SHA-256 digest is stored; the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # A token cannot re-authenticate, so it reveals legal identities only if created for that
    # (`refuge token create USER --reveal`); see docs/authentication.md.
    can_reveal = models.BooleanField(default=False)

    objects: ClassVar[models.Manager[ApiToken]]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"


class SecondFactorThrottle(models.Model):
    """Wrong second-factor codes of one account (refuge.accounts.factors). Reaching the limit
    locks the account for the login cool-off; a correct factor clears the count."""

    user = models.OneToOneField(
        User, primary_key=True, on_delete=models.CASCADE, related_name="factor_throttle"
    )
    failures = models.PositiveIntegerField(default=0)
    first_failure_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager[SecondFactorThrottle]]

    def __str__(self) -> str:
        return f"{self.user}: {self.failures}"


class SecurityNotice(UUIDModel):
    """Something coordinators must look at: a lockout, a login stopped at the second factor, a
    login from a new place, the seal's state changing, a refused unseal share. Shown in the
    interface and sent through the coordinators' notification channels (alerts)."""

    class Kind(models.TextChoices):
        LOGIN_LOCKED_OUT = "login_locked_out", _("Login locked out after wrong passwords")
        SECOND_FACTOR_FAILED = "second_factor_failed", _("Password accepted, second factor failed")
        SECOND_FACTOR_LOCKED_OUT = (
            "second_factor_locked_out",
            _("Account locked after wrong second-factor codes"),
        )
        NEW_PLACE_LOGIN = "new_place_login", _("Signed in from a new place")
        SEALED = "sealed", _("Refuge was sealed")
        UNSEALED = "unsealed", _("Refuge was unsealed")
        UNSEAL_SHARE_REFUSED = "unseal_share_refused", _("An unseal share was refused")

    kind = models.CharField(_("what happened"), max_length=40, choices=Kind.choices)
    # The account concerned, if the typed username is one (never the typed text otherwise).
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="security_notices"
    )
    acknowledged_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager[SecurityNotice]]

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.kind} {self.created_at:%Y-%m-%d %H:%M}"


class KnownPlace(models.Model):
    """A network an account has signed in from (refuge.accounts.places). Only a keyed digest of
    the network prefix is kept, never an address: enough to tell a new place from a known one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="known_places")
    digest = models.CharField(max_length=64)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    objects: ClassVar[models.Manager[KnownPlace]]

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["user", "digest"], name="accounts_known_place_once"),
        ]

    def __str__(self) -> str:
        return f"place of {self.user_id}"
