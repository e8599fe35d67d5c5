"""API bearer tokens: creation, authentication, revocation.

Only a SHA-256 digest and a short prefix are stored; the plaintext is returned once by
`token_create` and cannot be recovered. Tokens have 256 bits of entropy, so a fast unsalted hash
is enough (there is nothing to brute-force) and lets authentication be a single indexed lookup.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils.translation import gettext as _

from refuge.accounts.models import ApiToken, Role, User
from refuge.core import clock
from refuge.core.errors import DomainError, NotFoundError
from refuge.security import audit

TOKEN_PREFIX = "rfg_"  # noqa: S105 - a public marker that tells scanners what this is, not a secret
PREFIX_LENGTH = 12  # "rfg_" and 8 random characters: enough to tell tokens apart in a list
MAX_NAME = 100
# token_urlsafe(32) gives 43 characters; anything far longer is not one of ours.
MAX_TOKEN_LENGTH = 100
# Writing last_used_at on every request would turn each API read into a write.
LAST_USED_GRANULARITY = dt.timedelta(minutes=1)


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _may_manage(actor: Any, user: User) -> bool:
    """The account owner and account admins manage tokens; `None` is the server's own CLI."""
    if actor is None:
        return True
    return bool(actor.pk == user.pk or actor.role == Role.ADMIN)


def token_create(
    *, actor: Any, user: User, name: str, can_reveal: bool = False
) -> tuple[ApiToken, str]:
    """Create a token for `user`; returns the row and the plaintext, which is never stored.
    `can_reveal`: the token may read legal identities the user may reveal (no step-up possible)."""
    if not _may_manage(actor, user):
        raise NotFoundError
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = [_("Give the token a name, e.g. the integration that uses it.")]
    elif "\x00" in name:
        errors["name"] = [_("This field contains a forbidden control character.")]
    elif len(name) > MAX_NAME:
        errors["name"] = [_("Keep the name under %(limit)d characters.") % {"limit": MAX_NAME}]
    if not user.is_active:
        errors["user"] = [_("This account is disabled; it cannot have API tokens.")]
    if errors:
        raise DomainError(_("Please correct the errors below."), field_errors=errors)
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken(
            user=user,
            name=name,
            prefix=plaintext[:PREFIX_LENGTH],
            digest=_digest(plaintext),
            can_reveal=can_reveal,
        )
        token.save(force_insert=True)
        audit.record(
            "refuge.accounts.token.created",
            actor=actor,
            obj=token,
            detail={"user": str(user.pk), "prefix": token.prefix, "can_reveal": can_reveal},
        )
    return token, plaintext


# What a token with `can_reveal` may do beyond a plain one (accounts.stepup.api_require_step_up).
REVEAL_SCOPE = "reveal"


def token_authenticate(raw: str) -> User | None:
    """The active user a presented token belongs to, or None (unknown, revoked or disabled)."""
    found = token_authenticate_with_scopes(raw)
    return found[0] if found else None


def token_authenticate_with_scopes(raw: str) -> tuple[User, frozenset[str]] | None:
    """Like token_authenticate, with the token's scopes."""
    raw = (raw or "").strip()
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > MAX_TOKEN_LENGTH:
        return None
    digest = _digest(raw)
    # The lookup is by digest, so its timing tells an attacker nothing about valid tokens; the
    # explicit comparison guards against a collation that would match case-insensitively.
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=digest, revoked_at__isnull=True)
        .first()
    )
    if token is None or not hmac.compare_digest(token.digest, digest):
        return None
    if not token.user.is_active:
        return None
    now = clock.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_GRANULARITY:
        # update() rather than save(): no updated_at churn and no race with a concurrent revoke.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user, frozenset({REVEAL_SCOPE} if token.can_reveal else set())


def token_list(*, actor: Any, user: User) -> QuerySet[ApiToken]:
    if not _may_manage(actor, user):
        return ApiToken.objects.none()
    # Active tokens first on every database (PostgreSQL sorts NULL last, SQLite first).
    return ApiToken.objects.filter(user=user).order_by(
        F("revoked_at").asc(nulls_first=True), "-created_at"
    )


def token_get(*, actor: Any, token_id: Any) -> ApiToken:
    """A token `actor` may manage; NotFoundError otherwise (also for malformed ids)."""
    try:
        token = ApiToken.objects.select_related("user").get(pk=token_id)
    except (ApiToken.DoesNotExist, ValidationError, ValueError):
        raise NotFoundError from None
    if not _may_manage(actor, token.user):
        raise NotFoundError
    return token


def token_find(*, actor: Any, ref: str) -> ApiToken:
    """A token by its id or its prefix (what `refuge token list` shows); NotFoundError if there is
    none `actor` may manage, DomainError if a prefix is shared by several tokens."""
    if not ref.startswith(TOKEN_PREFIX):
        return token_get(actor=actor, token_id=ref)
    matches = list(ApiToken.objects.select_related("user").filter(prefix=ref[:PREFIX_LENGTH])[:2])
    if len(matches) > 1:
        raise DomainError(_("Several tokens start with this prefix: use the id."))
    if not matches or not _may_manage(actor, matches[0].user):
        raise NotFoundError
    return matches[0]


def token_revoke(*, actor: Any, token: ApiToken) -> ApiToken:
    if not _may_manage(actor, token.user):
        raise NotFoundError
    if token.revoked_at is not None:
        raise DomainError(_("This token is already revoked."))
    with transaction.atomic():
        token.revoked_at = clock.now()
        token.save(update_fields=["revoked_at", "updated_at"])
        audit.record(
            "refuge.accounts.token.revoked",
            actor=actor,
            obj=token,
            detail={"user": str(token.user_id), "prefix": token.prefix},
        )
    return token
