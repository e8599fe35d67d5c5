"""JSON endpoints for protected people and their relatives at risk.

Everything is fetched through the people selectors (need-to-know via security.access.scope) and
changed through the people services. Identities and relatives are only served to those who may
reveal the person's identity, and every such read is audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import StringConstraints

from refuge.accounts import stepup, tokens
from refuge.accounts.api import (
    NO_NUL,
    ErrorOut,
    Fetch,
    InputSchema,
    PageIn,
    PageOut,
    actor,
    paginate,
    responses,
)
from refuge.accounts.models import Team
from refuge.core.errors import DomainError, NotFoundError
from refuge.people import normalise, selectors, services, validation
from refuge.people.models import Language, ProtectedPerson, Relative, RiskLevel
from refuge.security import access

router = Router(tags=["people"])

Line = Annotated[str, StringConstraints(max_length=validation.MAX_LINE)]
Lines = Annotated[list[Line], Field(max_length=validation.MAX_LINES)]
Languages = Annotated[list[Language], Field(min_length=1, max_length=len(Language.values))]


def _lines(value: str | None) -> list[str]:
    return (value or "").splitlines()


def _joined(value: list[str] | None) -> str | None:
    return None if value is None else "\n".join(value)


# --- Schemas --------------------------------------------------------------------------------------


class PersonListOut(Schema):
    id: UUID
    pseudonym: str
    risk_level: RiskLevel
    languages: list[str]
    is_minor: bool


class PersonOut(PersonListOut):
    can_reveal: bool = Field(description="Whether you may read the identity and the relatives.")
    intake_team: UUID | None = Field(
        description="The team the person was recorded for; it sees them while they are on no case."
    )
    created_at: dt.datetime
    updated_at: dt.datetime


class PersonPage(PageOut):
    items: list[PersonListOut]


class PersonFilterIn(PageIn):
    q: str = Field("", max_length=100, pattern=NO_NUL, description="Part of a pseudonym.")


class IdentityIn(InputSchema):
    """Only the fields you send are changed; `null` clears one."""

    legal_name: str | None = Field(None, max_length=validation.MAX_NAME)
    aliases: str | None = Field(None, max_length=validation.MAX_NAME)
    date_of_birth: dt.date | None = None
    phones: Lines | None = None
    messengers: Lines | None = None
    address: str | None = Field(None, max_length=validation.MAX_ADDRESS)
    notes: str | None = Field(None, max_length=validation.MAX_NOTES)


class IdentityOut(Schema):
    legal_name: str | None
    aliases: str | None
    date_of_birth: dt.date | None
    phones: list[str]
    messengers: list[str]
    address: str | None
    notes: str | None


class PersonCreateIn(InputSchema):
    pseudonym: str | None = Field(
        None, max_length=40, description="Leave out to have one drawn at random."
    )
    risk_level: RiskLevel = RiskLevel.HIGH
    languages: Languages = Field(default_factory=lambda: [Language.RU])
    identity: IdentityIn | None = None
    team: UUID | None = Field(
        None,
        description=(
            "The team the person is recorded for (one of yours; any team for a coordinator). It "
            "sees the person while they are on no case, so it can put them on one. Leave out if "
            "you are on exactly one team."
        ),
    )


class PersonUpdateIn(InputSchema):
    """Only the fields you send are changed; `null` leaves risk level and languages as they are."""

    risk_level: RiskLevel | None = None
    languages: Languages | None = None
    identity: IdentityIn | None = None


class RelativeOut(Schema):
    id: UUID
    person: UUID
    relation: Relative.Relation
    risk_level: RiskLevel
    name: str | None
    phones: list[str]
    location: str | None
    notes: str | None
    created_at: dt.datetime


class RelativeCreateIn(InputSchema):
    relation: Relative.Relation
    risk_level: RiskLevel = RiskLevel.MEDIUM
    name: str | None = Field(None, max_length=validation.MAX_ADDRESS)
    phones: Lines | None = None
    location: str | None = Field(None, max_length=validation.MAX_ADDRESS)
    notes: str | None = Field(None, max_length=validation.MAX_NOTES)


class RelativeUpdateIn(InputSchema):
    """Only the fields you send are changed; `null` clears a text field and leaves relation and
    risk level as they are."""

    relation: Relative.Relation | None = None
    risk_level: RiskLevel | None = None
    name: str | None = Field(None, max_length=validation.MAX_ADDRESS)
    phones: Lines | None = None
    location: str | None = Field(None, max_length=validation.MAX_ADDRESS)
    notes: str | None = Field(None, max_length=validation.MAX_NOTES)


class IdentitySearchIn(InputSchema):
    """Exactly one of the two. Sent in the body, never in the URL, so it stays out of logs."""

    phone: str | None = Field(
        None,
        max_length=normalise.MAX_INPUT,
        pattern=NO_NUL,
        description="A phone number in any usual spelling (+7 912 345-67-89, 89123456789).",
    )
    name: str | None = Field(
        None,
        max_length=normalise.MAX_INPUT,
        pattern=NO_NUL,
        description="A full legal name, in Cyrillic or Latin (ICAO transliteration), any order.",
    )


class SearchHitOut(Schema):
    id: UUID
    pseudonym: str


# --- Conversions ----------------------------------------------------------------------------------


def _person_list_out(person: ProtectedPerson) -> PersonListOut:
    return PersonListOut(
        id=person.pk,
        pseudonym=person.pseudonym,
        risk_level=RiskLevel(person.risk_level),
        languages=person.language_list,
        is_minor=person.is_minor,
    )


def _person_out(user: Any, person: ProtectedPerson) -> PersonOut:
    return PersonOut(
        **_person_list_out(person).model_dump(),
        can_reveal=selectors.person_can_reveal(actor=user, person=person),
        intake_team=person.intake_team_id,
        created_at=person.created_at,
        updated_at=person.updated_at,
    )


def _relative_out(relative: Relative) -> RelativeOut:
    return RelativeOut(
        id=relative.pk,
        person=relative.person_id,
        relation=Relative.Relation(relative.relation),
        risk_level=RiskLevel(relative.risk_level),
        name=relative.name,
        phones=_lines(relative.phones),
        location=relative.location,
        notes=relative.notes,
        created_at=relative.created_at,
    )


def _identity_input(data: IdentityIn) -> services.IdentityInput:
    provided = set(data.model_fields_set)
    return services.IdentityInput(
        legal_name=data.legal_name,
        aliases=data.aliases,
        date_of_birth=data.date_of_birth,
        phones=_joined(data.phones),
        messengers=_joined(data.messengers),
        address=data.address,
        notes=data.notes,
        provided=provided,
    )


def _person(user: Any, person_id: UUID, action: str) -> ProtectedPerson:
    return selectors.person_get(actor=user, person_id=person_id, action=action)


def _relative(user: Any, relative_id: UUID, action: str) -> Relative:
    return selectors.relative_get(actor=user, relative_id=relative_id, action=action)


PATH_OBJECTS: dict[str, Fetch] = {"person_id": _person, "relative_id": _relative}


def _intake_team(user: Any, team_id: UUID | None) -> Team | None:
    if team_id is None:
        return None
    for team in services.intake_team_choices(user):
        if team.pk == team_id:
            return team
    raise DomainError(
        _("Please correct the errors below."),
        field_errors={"team": [_("You can only record people for a team you are on.")]},
    )


def _revealable(user: Any, person: ProtectedPerson) -> ProtectedPerson:
    """Relatives are identity data: for anyone who may not reveal the person they do not exist."""
    if not selectors.person_can_reveal(actor=user, person=person):
        raise NotFoundError
    return person


# --- People ---------------------------------------------------------------------------------------


@router.get("/people", response=responses(200, PersonPage), summary="People you may see")
def person_list(request: HttpRequest, filters: Query[PersonFilterIn]) -> PersonPage:
    people = selectors.person_list(actor=actor(request), query=filters.q)
    items, meta = paginate(people, filters.page)
    return PersonPage(items=[_person_list_out(p) for p in items], **meta)


@router.post("/people", response=responses(201, PersonOut), summary="Register a person")
def person_create(request: HttpRequest, payload: PersonCreateIn) -> Status[PersonOut]:
    user = actor(request)
    person = services.person_create(
        actor=user,
        team=_intake_team(user, payload.team),
        identity=_identity_input(payload.identity)
        if payload.identity
        else services.IdentityInput(),
        pseudonym=payload.pseudonym,
        risk_level=payload.risk_level,
        languages=[str(code) for code in payload.languages],
    )
    return Status(201, _person_out(user, person))


@router.post(
    "/people/search",
    response={**responses(200, list[SearchHitOut]), 429: ErrorOut},
    summary="Find people by exact phone number or legal name (audited, rate-limited)",
    description=(
        "Searches only the people whose identity you may see and answers with pseudonyms. "
        "Exact match after normalisation; no partial or fuzzy search. Every search is audited "
        "(with the index bucket, never the query). 422: neither or both inputs, or an input that "
        "cannot be a phone number or name. 429: the hourly limit of identity searches is used "
        "up; `Retry-After` says when to try again."
    ),
)
def person_search(request: HttpRequest, payload: IdentitySearchIn) -> Any:
    user = actor(request)
    try:
        people = selectors.person_search_identity(
            actor=user, phone=payload.phone, name=payload.name
        )
    except services.SearchRateLimitedError as error:
        response: HttpResponse = JsonResponse(
            ErrorOut(detail=error.message).model_dump(), status=429
        )
        response["Retry-After"] = str(error.retry_after)
        return response
    return [SearchHitOut(id=p.pk, pseudonym=p.pseudonym) for p in people]


@router.get("/people/{person_id}", response=responses(200, PersonOut), summary="One person")
def person_detail(request: HttpRequest, person_id: UUID) -> PersonOut:
    user = actor(request)
    return _person_out(user, _person(user, person_id, access.VIEW))


@router.patch("/people/{person_id}", response=responses(200, PersonOut), summary="Change a person")
def person_update(request: HttpRequest, person_id: UUID, payload: PersonUpdateIn) -> PersonOut:
    user = actor(request)
    person = _person(user, person_id, access.EDIT)
    if payload.identity is not None and not selectors.person_can_reveal(actor=user, person=person):
        # Writing an identity one may not read would let a caller probe or overwrite it blind.
        raise DomainError(
            _("Please correct the errors below."),
            field_errors={"identity": [_("You may not see or change this person's identity.")]},
        )
    person = services.person_update(
        actor=user,
        person=person,
        identity=_identity_input(payload.identity) if payload.identity else None,
        risk_level=payload.risk_level,
        languages=None if payload.languages is None else [str(c) for c in payload.languages],
    )
    return _person_out(user, person)


@router.get(
    "/people/{person_id}/identity",
    response=responses(200, IdentityOut),
    summary="A person's legal identity (audited)",
)
def person_identity(request: HttpRequest, person_id: UUID) -> IdentityOut:
    user = actor(request)
    person = _revealable(user, _person(user, person_id, access.VIEW))
    # A session must have re-authenticated recently; a token must have been created --reveal.
    stepup.api_require_step_up(request, token_scope=tokens.REVEAL_SCOPE)
    identity = selectors.person_identity(actor=user, person=person, purpose="api")
    return IdentityOut(
        legal_name=identity.legal_name,
        aliases=identity.aliases,
        date_of_birth=identity.date_of_birth,
        phones=_lines(identity.phones),
        messengers=_lines(identity.messengers),
        address=identity.address,
        notes=identity.notes,
    )


# --- Relatives ------------------------------------------------------------------------------------


@router.get(
    "/people/{person_id}/relatives",
    response=responses(200, list[RelativeOut]),
    summary="A person's relatives at risk (audited)",
)
def relative_list(request: HttpRequest, person_id: UUID) -> list[RelativeOut]:
    user = actor(request)
    person = _revealable(user, _person(user, person_id, access.VIEW))
    stepup.api_require_step_up(request, token_scope=tokens.REVEAL_SCOPE)
    relatives = [_relative_out(r) for r in selectors.relative_list(actor=user, person=person)]
    services.person_identity_viewed(actor=user, person=person, purpose="api:relatives")
    return relatives


@router.post(
    "/people/{person_id}/relatives",
    response=responses(201, RelativeOut),
    summary="Add a relative at risk",
)
def relative_create(
    request: HttpRequest, person_id: UUID, payload: RelativeCreateIn
) -> Status[RelativeOut]:
    user = actor(request)
    person = _person(user, person_id, access.EDIT)
    relative = services.relative_add(
        actor=user,
        person=_revealable(user, person),
        relation=payload.relation,
        risk_level=payload.risk_level,
        name=payload.name,
        phones=_joined(payload.phones),
        location=payload.location,
        notes=payload.notes,
    )
    return Status(201, _relative_out(relative))


@router.patch(
    "/relatives/{relative_id}", response=responses(200, RelativeOut), summary="Change a relative"
)
def relative_update(
    request: HttpRequest, relative_id: UUID, payload: RelativeUpdateIn
) -> RelativeOut:
    user = actor(request)
    relative = _relative(user, relative_id, access.EDIT)
    values: dict[str, Any] = {name: getattr(payload, name) for name in payload.model_fields_set}
    for name in ("relation", "risk_level"):
        # Both are required columns: null means "unchanged", as for people and cases.
        if values.get(name, "") is None:
            del values[name]
    if "phones" in values:
        values["phones"] = _joined(values["phones"])
    return _relative_out(services.relative_update(actor=user, relative=relative, values=values))


@router.delete(
    "/relatives/{relative_id}",
    response=responses(204, None),
    summary="Remove a relative (destroys their data keys)",
)
def relative_delete(request: HttpRequest, relative_id: UUID) -> Status[None]:
    user = actor(request)
    relative = _relative(user, relative_id, access.EDIT)
    services.relative_remove(actor=user, relative=relative)
    return Status(204, None)
