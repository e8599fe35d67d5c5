"""Reads of protected people, always scoped by need-to-know."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from refuge.core.errors import NotFoundError
from refuge.people.models import ProtectedPerson, Relative
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
