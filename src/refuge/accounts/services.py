"""Writes on staff accounts and teams. Each is atomic and audited in the same transaction.

Who may do what (security design b.6): administrators manage accounts but never see cases;
coordinators administer the teams that need-to-know follows. `actor=None` is accepted only where
the server's own command line creates accounts and teams (`refuge createuser`): whoever runs it
already controls the server, and the audit records it as "system".
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from refuge.accounts.models import Role, Team, TeamMembership, User
from refuge.accounts.validators import demo_password_allowed, is_demo_password
from refuge.core.errors import DomainError
from refuge.security import audit

ACCOUNT_MANAGERS = frozenset({Role.ADMIN})
TEAM_MANAGERS = frozenset({Role.COORDINATOR})
LANGUAGES = ("en", "ru")
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,149}$")
MAX_TEAM_NAME = 100


def _require(actor: Any, roles: frozenset[Role], *, system_allowed: bool = False) -> None:
    if actor is None and system_allowed:
        return
    if actor is None or not actor.is_active or actor.role not in roles:
        raise DomainError(_("Your role cannot do this."))


def _invalid(errors: dict[str, list[str]]) -> DomainError:
    return DomainError(_("Please correct the errors below."), field_errors=errors)


def _check_password(password: str, user: User, errors: dict[str, list[str]]) -> None:
    if not password:
        errors.setdefault("password", []).append(_("Enter a password."))
        return
    if is_demo_password(password) and demo_password_allowed():
        # The shared demo password is deliberately short; demo mode is the only place it lives.
        return
    try:
        validate_password(password, user)
    except ValidationError as error:
        errors.setdefault("password", []).extend(error.messages)


def _check_role(role: str, errors: dict[str, list[str]]) -> None:
    if role not in Role.values:
        errors.setdefault("role", []).append(_("Choose a role from the list."))


def _check_language(language: str, errors: dict[str, list[str]]) -> None:
    if language not in LANGUAGES:
        errors.setdefault("language", []).append(_("Choose English or Russian."))


def user_create(
    *, actor: Any, username: str, role: str, password: str, language: str = "en"
) -> User:
    _require(actor, ACCOUNT_MANAGERS, system_allowed=True)
    errors: dict[str, list[str]] = {}
    username = username.strip()
    if not USERNAME_RE.match(username):
        errors.setdefault("username", []).append(
            _("A username is 2-150 Latin letters, digits, dots, dashes or underscores.")
        )
    elif User.objects.filter(username__iexact=username).exists():
        errors.setdefault("username", []).append(_("This username is already taken."))
    _check_role(role, errors)
    _check_language(language, errors)
    user = User(username=username, role=role, language=language)
    _check_password(password, user, errors)
    if errors:
        raise _invalid(errors)
    user.set_password(password)
    with transaction.atomic():
        try:
            with transaction.atomic():
                user.save(force_insert=True)
        except IntegrityError:
            raise _invalid({"username": [_("This username is already taken.")]}) from None
        audit.record(
            "refuge.accounts.user.created",
            actor=actor,
            obj=user,
            detail={"role": role, "language": language},
        )
    return user


def user_update(
    *,
    actor: Any,
    user: User,
    role: str | None = None,
    is_active: bool | None = None,
    language: str | None = None,
) -> User:
    _require(actor, ACCOUNT_MANAGERS)
    errors: dict[str, list[str]] = {}
    if role is not None:
        _check_role(role, errors)
    if language is not None:
        _check_language(language, errors)
    # An administrator who demotes or locks out themselves may leave nobody to undo it.
    if actor.pk == user.pk and role is not None and role != user.role:
        errors.setdefault("role", []).append(_("You cannot change your own role."))
    if actor.pk == user.pk and is_active is False:
        errors.setdefault("is_active", []).append(_("You cannot deactivate your own account."))
    if errors:
        raise _invalid(errors)
    changed: dict[str, Any] = {}
    for name, value in (("role", role), ("is_active", is_active), ("language", language)):
        if value is not None and getattr(user, name) != value:
            setattr(user, name, value)
            changed[name] = value
    if changed:
        with transaction.atomic():
            user.save(update_fields=list(changed))
            audit.record(
                "refuge.accounts.user.updated",
                actor=actor,
                obj=user,
                detail={"fields": sorted(changed), **changed},
            )
    return user


def user_set_password(*, actor: Any, user: User, password: str) -> User:
    _require(actor, ACCOUNT_MANAGERS)
    errors: dict[str, list[str]] = {}
    _check_password(password, user, errors)
    if errors:
        raise _invalid(errors)
    with transaction.atomic():
        # A new password also ends the user's other sessions (Django's session auth hash).
        user.set_password(password)
        user.save(update_fields=["password"])
        audit.record("refuge.accounts.user.password_set", actor=actor, obj=user, detail={})
    return user


def team_create(*, actor: Any, name: str) -> Team:
    _require(actor, TEAM_MANAGERS, system_allowed=True)
    name = " ".join(name.split())
    errors: dict[str, list[str]] = {}
    if not name:
        errors.setdefault("name", []).append(_("Enter a name."))
    elif len(name) > MAX_TEAM_NAME:
        errors.setdefault("name", []).append(
            _("Keep this under %(limit)d characters.") % {"limit": MAX_TEAM_NAME}
        )
    elif Team.objects.filter(name__iexact=name).exists():
        errors.setdefault("name", []).append(_("A team with this name already exists."))
    if errors:
        raise _invalid(errors)
    with transaction.atomic():
        team = Team(name=name)
        try:
            with transaction.atomic():
                team.save(force_insert=True)
        except IntegrityError:
            raise _invalid({"name": [_("A team with this name already exists.")]}) from None
        audit.record("refuge.accounts.team.created", actor=actor, obj=team, detail={})
    return team


def team_member_add(*, actor: Any, team: Team, user: User, is_lead: bool = False) -> TeamMembership:
    _require(actor, TEAM_MANAGERS, system_allowed=True)
    errors: dict[str, list[str]] = {}
    if user.role == Role.ADMIN:
        errors.setdefault("user", []).append(
            _("Administrators manage accounts and never see cases; they cannot join a team.")
        )
    elif not user.is_active:
        errors.setdefault("user", []).append(_("This account is deactivated."))
    elif TeamMembership.objects.filter(team=team, user=user).exists():
        errors.setdefault("user", []).append(_("This person is already on the team."))
    if errors:
        raise _invalid(errors)
    with transaction.atomic():
        try:
            with transaction.atomic():
                membership = TeamMembership.objects.create(team=team, user=user, is_lead=is_lead)
        except IntegrityError:
            raise _invalid({"user": [_("This person is already on the team.")]}) from None
        audit.record(
            "refuge.accounts.membership.added",
            actor=actor,
            obj=membership,
            detail={"team": str(team.pk), "user": str(user.pk), "is_lead": is_lead},
        )
    return membership


def _membership(team: Team, user: User) -> TeamMembership:
    try:
        return TeamMembership.objects.get(team=team, user=user)
    except TeamMembership.DoesNotExist:
        raise DomainError(_("This person is not on the team.")) from None


def team_member_remove(*, actor: Any, team: Team, user: User) -> None:
    _require(actor, TEAM_MANAGERS, system_allowed=True)
    membership = _membership(team, user)
    with transaction.atomic():
        # Access is never cached (security design b.6): the next request already lacks it.
        audit.record(
            "refuge.accounts.membership.removed",
            actor=actor,
            obj=membership,
            detail={"team": str(team.pk), "user": str(user.pk)},
        )
        membership.delete()


def team_member_set_lead(
    *, actor: Any, team: Team, user: User, is_lead: bool = True
) -> TeamMembership:
    _require(actor, TEAM_MANAGERS, system_allowed=True)
    membership = _membership(team, user)
    if membership.is_lead != is_lead:
        with transaction.atomic():
            membership.is_lead = is_lead
            membership.save(update_fields=["is_lead"])
            audit.record(
                "refuge.accounts.membership.lead_changed",
                actor=actor,
                obj=membership,
                detail={"team": str(team.pk), "user": str(user.pk), "is_lead": is_lead},
            )
    return membership
