"""How a protected person reaches their check-ins: secret personal links, bound SMS numbers and
Telegram chats, and the ids of inbound messages already accepted (replays are refused).

Only digests are stored: the SHA-256 of a link token (256 random bits, so an unkeyed digest is
enough), and keyed hashes of senders (alerts.pins.sender_hash), so the database lists no token,
phone number or chat id.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from refuge.alerts import pins
from refuge.alerts.models import ChannelBinding, CheckinLink, InboundMessage
from refuge.core import clock
from refuge.core.errors import DomainError, NotFoundError
from refuge.people.models import ProtectedPerson
from refuge.security import access, audit

TOKEN_BYTES = 32
MAX_TOKEN = 100
MAX_MESSAGE_ID = 200


def can_edit_person(actor: Any, person: ProtectedPerson) -> None:
    """Staff change a person's check-ins when they may change the person; `actor=None` is the
    server's command line, which acts as the system (like the other operator commands)."""
    if actor is None:
        return
    people = ProtectedPerson.objects.filter(pk=person.pk)
    if not access.scope(actor, people, action=access.EDIT).exists():
        raise NotFoundError


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_issue(*, actor: Any, person: ProtectedPerson) -> str:
    """A new personal link token (returned once, never stored); earlier links stop working."""
    can_edit_person(actor, person)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        revoked = _revoke_links(person)
        link = CheckinLink.objects.create(person=person, token_digest=_digest(token))
        audit.record(
            "refuge.alerts.link.issued",
            actor=actor,
            obj=link,
            detail={"person": str(person.pk), "revoked": revoked},
        )
    return token


def link_revoke(*, actor: Any, person: ProtectedPerson) -> int:
    """Every live link of the person stops working; returns how many there were."""
    can_edit_person(actor, person)
    with transaction.atomic():
        revoked = _revoke_links(person)
        audit.record(
            "refuge.alerts.link.revoked",
            actor=actor,
            obj=person,
            detail={"revoked": revoked},
        )
    return revoked


def _revoke_links(person: ProtectedPerson) -> int:
    return CheckinLink.objects.filter(person=person, revoked_at__isnull=True).update(
        revoked_at=clock.now()
    )


def link_path(token: str) -> str:
    """The path of the person's own SOS and check-in page (prefix settings.PUBLIC_BASE_URL)."""
    return reverse("intake:person_page", kwargs={"token": token})


def link_person(token: str) -> ProtectedPerson | None:
    """The person a live link token belongs to, or None (unknown, revoked or malformed alike)."""
    digest = _digest((token or "")[:MAX_TOKEN])
    link = (
        CheckinLink.objects.filter(token_digest=digest, revoked_at__isnull=True)
        .select_related("person")
        .first()
    )
    return link.person if link is not None else None


def binding_add(*, actor: Any, person: ProtectedPerson, kind: str, sender: str) -> ChannelBinding:
    """Bind an SMS number or a Telegram chat id to the person's check-ins."""
    can_edit_person(actor, person)
    try:
        digest = pins.sender_hash(kind, sender)
    except pins.SenderError:
        raise DomainError(
            _("Please correct the errors below."),
            field_errors={"sender": [_("Enter a phone number as +79001234567 or a chat id.")]},
        ) from None
    with transaction.atomic():
        live = ChannelBinding.objects.filter(kind=kind, sender_hash=digest, revoked_at__isnull=True)
        existing = live.first()
        if existing is not None and existing.person_id == person.pk:
            return existing
        if existing is not None:
            raise DomainError(_("This number or chat is already bound to someone else."))
        try:
            with transaction.atomic():
                binding = ChannelBinding.objects.create(
                    person=person, kind=kind, sender_hash=digest
                )
        except IntegrityError:
            raise DomainError(_("This number or chat is already bound to someone else.")) from None
        audit.record(
            "refuge.alerts.binding.added",
            actor=actor,
            obj=binding,
            detail={"person": str(person.pk), "kind": kind},
        )
    return binding


def binding_revoke(*, actor: Any, person: ProtectedPerson, kind: str, sender: str) -> int:
    """Unbind a number or chat from the person; returns how many bindings ended (0 or 1)."""
    can_edit_person(actor, person)
    try:
        digest = pins.sender_hash(kind, sender)
    except pins.SenderError:
        return 0
    with transaction.atomic():
        ended = ChannelBinding.objects.filter(
            person=person, kind=kind, sender_hash=digest, revoked_at__isnull=True
        ).update(revoked_at=clock.now())
        if ended:
            audit.record(
                "refuge.alerts.binding.revoked",
                actor=actor,
                obj=person,
                detail={"kind": kind},
            )
    return ended


def binding_person(kind: str, sender: str) -> tuple[ProtectedPerson | None, str]:
    """The person bound to a sender (or None) and the sender's keyed hash ("" if malformed)."""
    try:
        digest = pins.sender_hash(kind, sender)
    except pins.SenderError:
        return None, ""
    binding = (
        ChannelBinding.objects.filter(kind=kind, sender_hash=digest, revoked_at__isnull=True)
        .select_related("person")
        .first()
    )
    return (binding.person if binding is not None else None), digest


def inbound_accept(*, source: str, message_id: str) -> bool:
    """Record an inbound message id (as its keyed hash); False if it was seen before (a
    replay)."""
    if not message_id or len(message_id) > MAX_MESSAGE_ID:
        return False
    source = source[:20]
    try:
        with transaction.atomic():
            InboundMessage.objects.create(
                source=source,
                message_hash=pins.inbound_message_hash(source, message_id),
                received_at=clock.now(),
            )
    except IntegrityError:
        return False
    return True


def person_by_pseudonym(pseudonym: str) -> ProtectedPerson:
    """For the server's command line, which acts as the system. NotFoundError if nobody."""
    person = ProtectedPerson.objects.filter(pseudonym=pseudonym.strip().upper()[:40]).first()
    if person is None:
        raise NotFoundError
    return person
