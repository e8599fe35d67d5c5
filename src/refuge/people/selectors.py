"""Reads of protected people, always scoped by need-to-know."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from refuge.accounts.models import Role, User
from refuge.core.errors import DomainError, NotFoundError
from refuge.people import blind_index, normalise, services
from refuge.people.models import BlindIndexEntry, ProtectedPerson, Relative, RelativeContact
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


def person_is_on_a_case(*, person: ProtectedPerson) -> bool:
    """Whether the person is on any case at all (whether or not the caller may see it)."""
    return person.cases.exists()


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


def relative_contacts(*, actor: Any, relatives: list[Relative]) -> dict[Any, list[RelativeContact]]:
    """The contact log of each relative, newest first, keyed by relative id (one query)."""
    log: dict[Any, list[RelativeContact]] = {relative.pk: [] for relative in relatives}
    contacts = access.scope(actor, RelativeContact.objects.filter(relative__in=relatives))
    for contact in contacts.select_related("staff", "data_key").order_by(
        "-occurred_at", "-created_at"
    ):
        log[contact.relative_id].append(contact)
    return log


def relative_contact_get(
    *, actor: Any, contact_id: Any, action: str = access.VIEW
) -> RelativeContact:
    return access.get_or_404(
        actor,
        RelativeContact.objects.select_related("relative", "staff", "data_key"),
        action=action,
        pk=contact_id,
    )


def relative_contact_staff(*, relative: Relative) -> list[User]:
    """Who may be named as having had a contact: active staff on the person's case teams or
    intake team, and coordinators, who may each see the relative."""
    person = relative.person
    candidates = User.objects.filter(is_active=True).filter(
        Q(role=Role.COORDINATOR)
        | Q(memberships__team__cases__people=person)
        | Q(memberships__team_id=person.intake_team_id)
    )
    return [
        user
        for user in candidates.distinct().order_by("username")
        if access.can_reveal(user, relative)
    ]


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
