"""Writes on protected people and their relatives. Each is atomic and audited in the same
transaction; audit details name the fields that changed, never their values."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from refuge.accounts.models import Role, Team
from refuge.core import clock
from refuge.core.errors import DomainError
from refuge.people import blind_index, validation
from refuge.people.models import Language, ProtectedPerson, Relative, RiskLevel
from refuge.people.pseudonyms import random_pseudonym
from refuge.security import audit
from refuge.security.models import AuditEntry, DataKey

IDENTITY_FIELDS = (
    "legal_name",
    "aliases",
    "date_of_birth",
    "phones",
    "messengers",
    "address",
    "notes",
)
RELATIVE_FIELDS = ("name", "phones", "location", "notes")
# Who may create or change people at all (need-to-know on a given person is checked by access).
PERSON_EDITORS = {Role.COORDINATOR, Role.CASEWORKER, Role.LAWYER, Role.OPERATOR}
# Who is offered the exact identity search: the roles that may reveal identities at all (the
# search itself still keeps only people access.can_reveal allows, person by person).
IDENTITY_SEARCHERS = {Role.COORDINATOR, Role.CASEWORKER, Role.LAWYER}


@dataclass
class IdentityInput:
    legal_name: str | None = None
    aliases: str | None = None
    date_of_birth: dt.date | None = None
    phones: str | None = None
    messengers: str | None = None
    address: str | None = None
    notes: str | None = None
    provided: set[str] = field(default_factory=set)


def _clean_identity(data: IdentityInput, errors: dict[str, list[str]]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for name in data.provided:
        value = getattr(data, name)
        if name in {"legal_name", "aliases"}:
            cleaned[name] = validation.clean_text(
                value, limit=validation.MAX_NAME, field=name, errors=errors
            )
        elif name == "date_of_birth":
            cleaned[name] = validation.clean_birth_date(value, errors=errors)
        elif name in {"phones", "messengers"}:
            cleaned[name] = validation.clean_lines(
                value, field=name, errors=errors, phone=name == "phones"
            )
        elif name == "address":
            cleaned[name] = validation.clean_text(
                value, limit=validation.MAX_ADDRESS, field=name, errors=errors
            )
        elif name == "notes":
            cleaned[name] = validation.clean_text(
                value, limit=validation.MAX_NOTES, field=name, errors=errors
            )
    return cleaned


def _clean_languages(languages: list[str] | None, errors: dict[str, list[str]]) -> str | None:
    if languages is None:
        return None
    allowed = set(Language.values)
    unknown = [code for code in languages if code not in allowed]
    if unknown:
        errors.setdefault("languages", []).append(
            _("Unknown language code(s): %(codes)s.") % {"codes": ", ".join(unknown)[:100]}
        )
    if not languages:
        errors.setdefault("languages", []).append(_("Choose at least one language."))
    return ",".join(dict.fromkeys(languages))


def _clean_risk(
    risk_level: str | None, errors: dict[str, list[str]], name: str = "risk_level"
) -> None:
    if risk_level is not None and risk_level not in RiskLevel.values:
        errors.setdefault(name, []).append(_("Choose a risk level from the list."))


def _require_editor(actor: Any) -> None:
    if actor.role not in PERSON_EDITORS:
        raise DomainError(_("Your role cannot change protected people."))


def intake_team_choices(actor: Any) -> list[Team]:
    """The teams `actor` may record a person for: their own; any team for a coordinator."""
    if actor.role == Role.COORDINATOR:
        return list(Team.objects.order_by("name"))
    return list(Team.objects.filter(memberships__user=actor).distinct().order_by("name"))


def _clean_intake_team(actor: Any, team: Team | None, errors: dict[str, list[str]]) -> Team | None:
    """The team the new person is recorded for (refuge.cases.access: it sees the person until
    they are on a case). Someone on exactly one team records for it without choosing."""
    choices = intake_team_choices(actor)
    if team is not None:
        if team.pk not in {t.pk for t in choices}:
            errors.setdefault("team", []).append(
                _("You can only record people for a team you are on.")
            )
        return team
    if actor.role in {Role.COORDINATOR, Role.OPERATOR}:
        return None  # they see every person already
    if len(choices) == 1:
        return choices[0]
    if choices:
        errors.setdefault("team", []).append(
            _("Choose the team this person is recorded for: it sees them until they are on a case.")
        )
    return None


def person_create(
    *,
    actor: Any,
    identity: IdentityInput,
    pseudonym: str | None = None,
    risk_level: str = RiskLevel.HIGH,
    languages: list[str] | None = None,
    team: Team | None = None,
) -> ProtectedPerson:
    """Record a person, for `team` (see _clean_intake_team)."""
    _require_editor(actor)
    errors: dict[str, list[str]] = {}
    intake_team = _clean_intake_team(actor, team, errors)
    if pseudonym is not None:
        pseudonym = pseudonym.strip().upper()
        if not validation.PSEUDONYM_RE.match(pseudonym):
            errors.setdefault("pseudonym", []).append(
                _(
                    "A pseudonym is 2-40 capital Latin letters, digits or dashes, "
                    "starting with a letter."
                )
            )
        elif ProtectedPerson.objects.filter(pseudonym=pseudonym).exists():
            errors.setdefault("pseudonym", []).append(_("This pseudonym is already taken."))
    _clean_risk(risk_level, errors)
    langs = _clean_languages(languages if languages is not None else ["ru"], errors)
    cleaned = _clean_identity(identity, errors)
    if errors:
        raise DomainError(_("Please correct the errors below."), field_errors=errors)
    with transaction.atomic():
        if pseudonym is None:
            taken = set(ProtectedPerson.objects.values_list("pseudonym", flat=True))
            pseudonym = random_pseudonym(taken)
        person = ProtectedPerson(
            pseudonym=pseudonym,
            risk_level=risk_level,
            languages=langs or "ru",
            created_by=actor,
            intake_team=intake_team,
        )
        for name, value in cleaned.items():
            setattr(person, name, value)
        person.is_minor = validation.is_minor(cleaned.get("date_of_birth"))
        try:
            with transaction.atomic():
                person.save(force_insert=True)
        except IntegrityError:
            raise DomainError(
                _("Please correct the errors below."),
                field_errors={"pseudonym": [_("This pseudonym is already taken.")]},
            ) from None
        blind_index.person_index_refresh(person)
        audit.record(
            "refuge.people.person.created",
            actor=actor,
            obj=person,
            detail={
                "identity_fields": sorted(n for n, v in cleaned.items() if v),
                "intake_team": str(intake_team.pk) if intake_team else None,
            },
        )
    return person


def person_update(
    *,
    actor: Any,
    person: ProtectedPerson,
    identity: IdentityInput | None = None,
    risk_level: str | None = None,
    languages: list[str] | None = None,
) -> ProtectedPerson:
    """Change a person the caller fetched through access (action=EDIT)."""
    _require_editor(actor)
    errors: dict[str, list[str]] = {}
    _clean_risk(risk_level, errors)
    langs = _clean_languages(languages, errors)
    cleaned = _clean_identity(identity, errors) if identity else {}
    if errors:
        raise DomainError(_("Please correct the errors below."), field_errors=errors)
    changed: list[str] = []
    with transaction.atomic():
        if risk_level is not None and risk_level != person.risk_level:
            person.risk_level = risk_level
            changed.append("risk_level")
        if langs is not None and langs != person.languages:
            person.languages = langs
            changed.append("languages")
        for name, value in cleaned.items():
            if (getattr(person, name) or None) != (value or None):
                setattr(person, name, value)
                changed.append(name)
        if "date_of_birth" in changed and cleaned["date_of_birth"] is not None:
            # Only a known birth date clears the flag: erasing the date keeps a minor protected.
            person.is_minor = validation.is_minor(cleaned["date_of_birth"])
        if changed:
            person.save()
            if {"legal_name", "phones"} & set(changed):
                blind_index.person_index_refresh(person)
            audit.record(
                "refuge.people.person.updated", actor=actor, obj=person, detail={"fields": changed}
            )
    return person


def person_identity_viewed(*, actor: Any, person: ProtectedPerson, purpose: str) -> None:
    """Every read of a legal identity leaves a trace."""
    audit.record(
        "refuge.people.identity.viewed", actor=actor, obj=person, detail={"purpose": purpose[:50]}
    )


IDENTITY_SEARCHED = "refuge.people.identity.searched"
IDENTITY_SEARCH_REFUSED = "refuge.people.identity.search_refused"
SEARCH_WINDOW = dt.timedelta(hours=1)


class SearchRateLimitedError(DomainError):
    """Too many identity searches in the last hour (HTTP 429)."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def identity_searches_per_hour() -> int:
    return int(settings.IDENTITY_SEARCHES_PER_HOUR)


def identity_search_admit(*, actor: Any, kind: str) -> None:
    """Refuse (audited) when `actor` has used up the hourly identity searches.

    The counter is the audit trail itself: it cannot be reset without breaking the chain."""
    since = clock.now() - SEARCH_WINDOW
    recent = AuditEntry.objects.filter(
        actor_id=actor.pk, action=IDENTITY_SEARCHED, occurred_at__gt=since
    ).order_by("occurred_at")
    limit = identity_searches_per_hour()
    if recent.count() < limit:
        return
    oldest = recent.values_list("occurred_at", flat=True)[max(0, recent.count() - limit)]
    retry_after = max(1, int((oldest + SEARCH_WINDOW - clock.now()).total_seconds()) + 1)
    audit.record(IDENTITY_SEARCH_REFUSED, actor=actor, detail={"kind": kind, "limit": limit})
    raise SearchRateLimitedError(
        _(
            "Too many identity searches: at most %(limit)d per hour. "
            "Try again in %(minutes)d minutes."
        )
        % {"limit": limit, "minutes": -(-retry_after // 60)},
        retry_after=retry_after,
    )


def person_identity_searched(
    *, actor: Any, kind: str, buckets: list[str], bits: list[int], matched: list[Any]
) -> None:
    """Audit one identity search: the kind and the bucket(s), never the query."""
    audit.record(
        IDENTITY_SEARCHED,
        actor=actor,
        object_type="people.protectedperson",
        detail={
            "kind": kind,
            "buckets": buckets,
            "bits": bits,
            "matched": [str(pk) for pk in matched],
        },
    )


def relative_add(
    *,
    actor: Any,
    person: ProtectedPerson,
    relation: str,
    risk_level: str = RiskLevel.MEDIUM,
    name: str | None = None,
    phones: str | None = None,
    location: str | None = None,
    notes: str | None = None,
) -> Relative:
    _require_editor(actor)
    relative = Relative(person=person)
    return _relative_write(
        actor=actor,
        relative=relative,
        created=True,
        values={
            "relation": relation,
            "risk_level": risk_level,
            "name": name,
            "phones": phones,
            "location": location,
            "notes": notes,
        },
    )


def relative_update(*, actor: Any, relative: Relative, values: dict[str, Any]) -> Relative:
    _require_editor(actor)
    return _relative_write(actor=actor, relative=relative, created=False, values=values)


def _clean_relative(values: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    if "relation" in values and values["relation"] not in Relative.Relation.values:
        errors.setdefault("relation", []).append(_("Choose a relation from the list."))
    if "risk_level" in values:
        if values["risk_level"] is None:
            errors.setdefault("risk_level", []).append(_("Choose a risk level from the list."))
        _clean_risk(values["risk_level"], errors)
    cleaned: dict[str, Any] = {k: values[k] for k in ("relation", "risk_level") if k in values}
    for key in RELATIVE_FIELDS:
        if key not in values:
            continue
        if key == "phones":
            cleaned[key] = validation.clean_lines(values[key], field=key, errors=errors, phone=True)
        else:
            limit = validation.MAX_NOTES if key == "notes" else validation.MAX_ADDRESS
            cleaned[key] = validation.clean_text(values[key], limit=limit, field=key, errors=errors)
    if errors:
        raise DomainError(_("Please correct the errors below."), field_errors=errors)
    return cleaned


def _relative_write(
    *, actor: Any, relative: Relative, created: bool, values: dict[str, Any]
) -> Relative:
    cleaned = _clean_relative(values)
    changed: list[str] = []
    with transaction.atomic():
        for key, value in cleaned.items():
            if (getattr(relative, key) or None) != (value or None):
                setattr(relative, key, value)
                changed.append(key)
        if created or changed:
            relative.save()
            audit.record(
                "refuge.people.relative.created" if created else "refuge.people.relative.updated",
                actor=actor,
                obj=relative,
                detail={"person": str(relative.person_id), "fields": changed},
            )
    return relative


def relative_remove(*, actor: Any, relative: Relative) -> None:
    _require_editor(actor)
    with transaction.atomic():
        audit.record(
            "refuge.people.relative.removed",
            actor=actor,
            obj=relative,
            detail={"person": str(relative.person_id)},
        )
        key_ids = [relative.data_key_id, relative.location_key_id]
        key_ids += list(relative.contacts.values_list("data_key_id", flat=True))
        relative.delete()
        # Destroying the data keys makes any copy of the ciphertext (backups, WAL) unreadable.
        DataKey.objects.filter(pk__in=key_ids).delete()


# Minors whose dates of birth one run of the daily job decrypts: a slice takes tens of
# milliseconds, so the worker that runs it never holds back a page for long (people.tasks).
MINOR_FLAGS_PER_RUN = 100


def people_refresh_minor_flags(
    *, after: Any = None, limit: int = MINOR_FLAGS_PER_RUN
) -> tuple[int, Any]:
    """Clear the minor flag of people who have turned 18, reading at most `limit` minors in
    id order, after the id `after` (run daily by the worker, one slice per job). Returns how
    many were cleared, and the last id read if more minors may follow (else None)."""
    minors = ProtectedPerson.objects.filter(is_minor=True).select_related("data_key").order_by("pk")
    if after is not None:
        minors = minors.filter(pk__gt=after)
    batch = list(minors[:limit])
    updated = 0
    for person in batch:
        if not validation.is_minor(person.date_of_birth):
            with transaction.atomic():
                person.is_minor = False
                person.save(update_fields=["is_minor", "updated_at"])
                audit.record("refuge.people.person.came_of_age", actor=None, obj=person, detail={})
            updated += 1
    return updated, (batch[-1].pk if len(batch) == limit else None)


def blind_indexes_rebuild() -> list[blind_index.RebuildResult]:
    """Recompute every blind-index row with the index length for today's row count
    (`refuge bidx rebuild`): maintenance over all people, run by the server's own CLI."""
    everyone = ProtectedPerson.objects.select_related("data_key").order_by("pk").iterator()
    return blind_index.rebuild(everyone)
