"""Reads of protected people, always scoped by need-to-know."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from refuge.core.errors import DomainError, NotFoundError
from refuge.people import blind_index, normalise, services
from refuge.people.models import BlindIndexEntry, ProtectedPerson, Relative
from refuge.people.services import person_identity_viewed
from refuge.security import access


@dataclass(frozen=True)
class Identity:
    legal_name: str | None
    aliases: str | None
    date_of_birth: dt.date | None
    phones: str | None
    messengers: str | None
    address: str | None
    notes: str | None


def person_list(*, actor: Any, query: str = "") -> QuerySet[ProtectedPerson]:
    people = access.scope(actor, ProtectedPerson.objects.all())
    query = query.strip()
    if query:
        people = people.filter(pseudonym__icontains=query[:40])
    return people.order_by("pseudonym")


def person_get(*, actor: Any, person_id: Any, action: str = access.VIEW) -> ProtectedPerson:
    return access.get_or_404(
        actor,
        ProtectedPerson.objects.select_related("data_key", "location_key"),
        action=action,
        pk=person_id,
    )


def person_can_reveal(*, actor: Any, person: ProtectedPerson) -> bool:
    return access.can_reveal(actor, person)


def person_identity(*, actor: Any, person: ProtectedPerson, purpose: str) -> Identity:
    """Decrypt and return the legal identity; audited. NotFoundError if not allowed."""
    if not access.can_reveal(actor, person):
        raise NotFoundError
    person_identity_viewed(actor=actor, person=person, purpose=purpose)
    return Identity(
        legal_name=person.legal_name,
        aliases=person.aliases,
        date_of_birth=person.date_of_birth,
        phones=person.phones,
        messengers=person.messengers,
        address=person.address,
        notes=person.notes,
    )


def relative_list(*, actor: Any, person: ProtectedPerson) -> QuerySet[Relative]:
    return access.scope(actor, Relative.objects.filter(person=person)).select_related(
        "data_key", "location_key"
    )


def relative_get(*, actor: Any, relative_id: Any, action: str = access.VIEW) -> Relative:
    return access.get_or_404(
        actor,
        Relative.objects.select_related("person", "data_key", "location_key"),
        action=action,
        pk=relative_id,
    )


def _search_input(phone: str | None, name: str | None) -> tuple[str, str]:
    phone, name = (phone or "").strip(), (name or "").strip()
    if bool(phone) == bool(name):
        raise DomainError(
            _("Please correct the errors below."),
            field_errors={"__all__": [_("Enter either a phone number or a legal name.")]},
        )
    if len(phone) > normalise.MAX_INPUT or len(name) > normalise.MAX_INPUT:
        field = "phone" if phone else "name"
        raise DomainError(
            _("Please correct the errors below."),
            field_errors={field: [_("This is too long to be a phone number or a name.")]},
        )
    if phone:
        number = normalise.phone(phone)
        if not number:
            raise DomainError(
                _("Please correct the errors below."),
                field_errors={"phone": [_("Enter a phone number with at least 5 digits.")]},
            )
        return BlindIndexEntry.Kind.PHONE, number
    normalised = normalise.legal_name(name)
    if not normalised:
        raise DomainError(
            _("Please correct the errors below."),
            field_errors={"name": [_("Enter a legal name with at least one letter.")]},
        )
    return BlindIndexEntry.Kind.NAME, normalised


def person_search_identity(
    *, actor: Any, phone: str | None = None, name: str | None = None
) -> list[ProtectedPerson]:
    """Exact search by phone number or legal name among the people whose identity `actor` may
    reveal (security design b.5). Rate-limited and audited with the bucket, never the query.

    Need-to-know comes first: the bucket lookup runs on the scoped queryset, only people the
    actor may reveal are decrypted, and only exact matches of the normalised value are kept."""
    kind, wanted = _search_input(phone, name)
    services.identity_search_admit(actor=actor, kind=kind)
    visible = access.scope(actor, ProtectedPerson.objects.select_related("data_key"))
    bits = blind_index.bits_in_use(kind)
    buckets = [blind_index.bucket(kind, wanted, b) for b in bits]
    in_bucket = BlindIndexEntry.objects.filter(kind=kind, bits__in=bits, value__in=buckets)
    candidates = visible.filter(pk__in=in_bucket.values("person_id")).order_by("pseudonym")
    matches: list[ProtectedPerson] = []
    for person in candidates:
        if not access.can_reveal(actor, person):
            continue
        if wanted in blind_index.value_of(person, kind):
            matches.append(person)
    services.person_identity_searched(
        actor=actor, kind=kind, buckets=buckets, bits=bits, matched=[p.pk for p in matches]
    )
    return matches
