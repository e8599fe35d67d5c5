"""JSON API: authentication, the plumbing every app's router shares, and the account endpoints.

The shared pieces live here because `accounts` is the lowest app with an API: `people` and
`cases` may import from it without breaking the layer contract (import-linter).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer
from ninja.security import SessionAuth as NinjaSessionAuth
from pydantic import ConfigDict

from refuge.accounts import stepup, tokens
from refuge.accounts.models import ApiToken, Role, TeamMembership, User
from refuge.core.errors import NotFoundError
from refuge.security import access

M = TypeVar("M", bound=Model)

# Every operation documents these, so clients (and schemathesis) know every status they may get:
# 400 unreadable body, 401 no valid credentials, 403 CSRF failure on a session request,
# 404 missing *or* not allowed, 413 body too large, 422 invalid input or refused by the domain.
ERROR_CODES = (400, 401, 403, 404, 413, 422)
MAX_PAGE = 100_000
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL; refuse it before it reaches a query


class ErrorOut(Schema):
    detail: str = Field(description="What went wrong, in the request's language.")
    errors: dict[str, list[str]] = Field(
        default_factory=dict, description="Messages per input field, when the input was at fault."
    )


class InputSchema(Schema):
    """Request bodies: unknown fields are refused, so a typo is never silently ignored."""

    model_config = ConfigDict(extra="forbid")


class PageOut(Schema):
    count: int = Field(description="Number of items on all pages.")
    page: int
    pages: int


class PageIn(Schema):
    page: int = Field(1, ge=1, le=MAX_PAGE)


# How an app's API fetches the object a path parameter names, for the VIEW (GET) or EDIT (other
# methods) action, raising NotFoundError when the caller may not. Each api module publishes a
# {parameter name: Fetch} table that its own endpoints use, so config.api can answer 404 for a
# hidden object before judging the rest of the request, exactly as the endpoint would.
Fetch = Callable[[User, UUID, str], object]


def responses(status: int, schema: Any) -> dict[int, Any]:
    return {status: schema, **dict.fromkeys(ERROR_CODES, ErrorOut)}


def actor(request: HttpRequest) -> User:
    """The authenticated user; the auth classes below put it on `request.auth`."""
    user = getattr(request, "auth", None)
    if not isinstance(user, User):
        raise AuthenticationError
    return user


def paginate(queryset: QuerySet[M], page: int) -> tuple[Sequence[M], dict[str, int]]:
    """One page of `queryset` and the page metadata; past the last page there are no items,
    so clients that page until the list is empty stop."""
    paginator = Paginator(queryset, settings.PAGE_SIZE)
    items: Sequence[M] = (
        list(paginator.page(page).object_list) if page <= paginator.num_pages else []
    )
    return items, {"count": paginator.count, "page": page, "pages": paginator.num_pages}


class TokenAuth(HttpBearer):
    """`Authorization: Bearer rfg_…` for integrations."""

    def __call__(self, request: HttpRequest) -> User | None:
        # Not HttpBearer.__call__: in DEBUG it logs a header with an unexpected scheme verbatim,
        # which may be a credential.
        scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        return self.authenticate(request, token)

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        found = tokens.token_authenticate_with_scopes(token)
        if found is None:
            return None
        user, scopes = found
        # accounts.stepup reads the scopes: a token cannot re-authenticate, so only a token
        # created for it may do what needs a step-up in a browser (e.g. reveal an identity).
        setattr(request, stepup.TOKEN_SCOPES_ATTRIBUTE, scopes)
        return user


class SessionAuth(NinjaSessionAuth):
    """The browser's Django session, with ninja's CSRF check on unsafe methods.

    Not consulted when an Authorization header is present: a request that presents a token is
    judged by that token alone (a bad token is a 401, even next to a valid session). Without a
    signed-in user there is nothing to forge, so the CSRF check (a 403) applies only to signed-in
    sessions and anonymous requests get the 401 they need to see.
    """

    def __call__(self, request: HttpRequest) -> Any:
        if "Authorization" in request.headers:
            return None
        user = request.user
        if not (user.is_authenticated and user.is_active):
            return None
        # A session that has not passed its second factor (or passed it with one its role may
        # not use) is not signed in as far as the API is concerned: 401, fail closed.
        if not (stepup.is_verified(user) and _session_factor_ok(user)):
            return None
        return super().__call__(request)


def _session_factor_ok(user: Any) -> bool:
    from refuge.accounts import factors  # noqa: PLC0415 - needs the app registry (otp models)

    return factors.session_factor_ok(user, getattr(user, "otp_device", None))


# --- Account endpoints --------------------------------------------------------------------------

router = Router(tags=["accounts"])


class MembershipOut(Schema):
    id: UUID = Field(description="The team's id.")
    name: str
    is_lead: bool


class MeOut(Schema):
    id: UUID
    username: str
    role: Role
    language: str
    teams: list[MembershipOut]


class TokenOut(Schema):
    id: UUID
    name: str
    prefix: str = Field(description="The first characters of the token, to recognise it.")
    created_at: dt.datetime
    last_used_at: dt.datetime | None = Field(description="Updated at most once a minute.")
    revoked_at: dt.datetime | None


def _token_out(token: ApiToken) -> TokenOut:
    return TokenOut(
        id=token.pk,
        name=token.name,
        prefix=token.prefix,
        created_at=token.created_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )


@router.get("/me", response=responses(200, MeOut), summary="The signed-in user")
def me(request: HttpRequest) -> MeOut:
    user = actor(request)
    memberships = TeamMembership.objects.filter(user=user).select_related("team")
    return MeOut(
        id=user.pk,
        username=user.get_username(),
        role=Role(user.role),
        language=user.language,
        teams=[
            MembershipOut(id=m.team.pk, name=m.team.name, is_lead=m.is_lead)
            for m in sorted(memberships, key=lambda m: m.team.name)
        ],
    )


@router.get("/tokens", response=responses(200, list[TokenOut]), summary="My API tokens")
def token_list(request: HttpRequest) -> list[TokenOut]:
    user = actor(request)
    return [_token_out(t) for t in tokens.token_list(actor=user, user=user)]


def _my_token(user: User, token_id: UUID, action: str) -> ApiToken:
    del action  # an owner may both see and revoke their token
    token = tokens.token_get(actor=user, token_id=token_id)
    # Admins manage other people's tokens from the command line; over the API everyone
    # manages only their own, so a token id of someone else is simply not found.
    if token.user_id != user.pk:
        raise NotFoundError
    return token


PATH_OBJECTS: dict[str, Fetch] = {"token_id": _my_token}


@router.post(
    "/tokens/{token_id}/revoke",
    response=responses(200, TokenOut),
    summary="Revoke one of my tokens",
)
def token_revoke(request: HttpRequest, token_id: UUID) -> TokenOut:
    user = actor(request)
    token = _my_token(user, token_id, access.EDIT)
    return _token_out(tokens.token_revoke(actor=user, token=token))
