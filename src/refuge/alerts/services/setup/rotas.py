"""On-call rotas, their members (the rotation order) and overrides."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from refuge.accounts.models import User
from refuge.alerts.models import (
    EscalationStep,
    OnCallRota,
    RotaMember,
    RotaOverride,
)
from refuge.alerts.services.setup.common import (
    MAX_MEMBERS,
    MAX_SHIFT_DAYS,
    add_error,
    apply_changes,
    aware,
    check_pageable,
    check_range,
    clean_name,
    invalid,
    lock,
    move,
    printable,
    renumber,
    require_manager,
    save_unique,
)
from refuge.core import clock
from refuge.core.errors import DomainError
from refuge.security import audit

# --- On-call rotas --------------------------------------------------------------------------------


def _check_shift(errors: dict[str, list[str]], shift_days: int | None) -> None:
    if shift_days is not None:
        check_range(shift_days, 1, MAX_SHIFT_DAYS, "shift_days", errors)


def rota_create(
    *, actor: Any, name: str, starts_on: dt.datetime | None, shift_days: int = 7
) -> OnCallRota:
    """A rotation through its members, one shift of `shift_days` each, from `starts_on`."""
    require_manager(actor)
    errors: dict[str, list[str]] = {}
    name = clean_name(name, OnCallRota, errors)
    if starts_on is None:
        add_error(errors, "starts_on", _("Enter when the rotation starts."))
    _check_shift(errors, shift_days)
    if errors or starts_on is None:
        raise invalid(errors)
    rota = OnCallRota(name=name, starts_on=aware(starts_on), shift_days=shift_days)
    with transaction.atomic():
        save_unique(rota, "name")
        audit.record(
            "refuge.alerts.rota.created",
            actor=actor,
            obj=rota,
            detail=printable({"name": name, "starts_on": rota.starts_on, "shift_days": shift_days}),
        )
    return rota


def rota_update(
    *,
    actor: Any,
    rota: OnCallRota,
    name: str | None = None,
    starts_on: dt.datetime | None = None,
    shift_days: int | None = None,
) -> OnCallRota:
    require_manager(actor)
    errors: dict[str, list[str]] = {}
    if name is not None:
        name = clean_name(name, OnCallRota, errors, pk=rota.pk)
    _check_shift(errors, shift_days)
    if errors:
        raise invalid(errors)
    values = {
        "name": name,
        "starts_on": aware(starts_on) if starts_on else None,
        "shift_days": shift_days,
    }
    with transaction.atomic():
        changed = apply_changes(rota, values)
        if changed:
            try:
                with transaction.atomic():
                    rota.save(update_fields=list(changed))
            except IntegrityError:
                raise invalid({"name": [_("This name is already taken.")]}) from None
            audit.record(
                "refuge.alerts.rota.updated",
                actor=actor,
                obj=rota,
                detail={"fields": sorted(changed), **printable(changed)},
            )
    return rota


def rota_delete(*, actor: Any, rota: OnCallRota) -> None:
    require_manager(actor)
    if EscalationStep.objects.filter(rota=rota).exists():
        raise DomainError(_("A policy pages this rota: change or remove those steps first."))
    with transaction.atomic():
        audit.record(
            "refuge.alerts.rota.deleted", actor=actor, obj=rota, detail={"name": rota.name}
        )
        rota.delete()


def _members(rota_id: Any) -> list[RotaMember]:
    return list(RotaMember.objects.filter(rota_id=rota_id).order_by("position"))


def rota_member_add(*, actor: Any, rota: OnCallRota, user: User | None) -> RotaMember:
    """A new member at the end of the rotation."""
    require_manager(actor)
    errors: dict[str, list[str]] = {}
    check_pageable(user, "user", errors)
    if errors or user is None:
        raise invalid(errors)
    with transaction.atomic():
        lock(OnCallRota, rota.pk)
        members = _members(rota.pk)
        if any(m.user_id == user.pk for m in members):
            raise invalid({"user": [_("This person is already on the rota.")]})
        if len(members) >= MAX_MEMBERS:
            raise DomainError(_("A rota has at most %(limit)d members.") % {"limit": MAX_MEMBERS})
        member = RotaMember.objects.create(rota=rota, user=user, position=len(members))
        audit.record(
            "refuge.alerts.rota_member.added",
            actor=actor,
            obj=member,
            detail={"rota": str(rota.pk), "user": str(user.pk), "position": member.position},
        )
    return member


def rota_member_remove(*, actor: Any, member: RotaMember) -> None:
    require_manager(actor)
    with transaction.atomic():
        lock(OnCallRota, member.rota_id)
        audit.record(
            "refuge.alerts.rota_member.removed",
            actor=actor,
            obj=member,
            detail={"rota": str(member.rota_id), "user": str(member.user_id)},
        )
        member.delete()
        renumber(RotaMember, _members(member.rota_id))


def rota_member_move(*, actor: Any, member: RotaMember, position: int) -> RotaMember:
    require_manager(actor)
    with transaction.atomic():
        lock(OnCallRota, member.rota_id)
        old = move(RotaMember, _members(member.rota_id), member, position)
        audit.record(
            "refuge.alerts.rota_member.moved",
            actor=actor,
            obj=member,
            detail={"rota": str(member.rota_id), "from": old, "to": position},
        )
    return member


def rota_override_add(
    *,
    actor: Any,
    rota: OnCallRota,
    user: User | None,
    starts_at: dt.datetime | None,
    ends_at: dt.datetime | None,
) -> RotaOverride:
    """`user` is on call from `starts_at` to `ends_at` instead of the rotation."""
    require_manager(actor)
    errors: dict[str, list[str]] = {}
    check_pageable(user, "user", errors)
    if starts_at is None:
        add_error(errors, "starts_at", _("Enter when the override starts."))
    if ends_at is None:
        add_error(errors, "ends_at", _("Enter when the override ends."))
    if errors or user is None or starts_at is None or ends_at is None:
        raise invalid(errors)
    starts_at, ends_at = aware(starts_at), aware(ends_at)
    if ends_at <= starts_at:
        add_error(errors, "ends_at", _("The override must end after it starts."))
    elif ends_at <= clock.now():
        add_error(errors, "ends_at", _("This override would already be over."))
    if errors:
        raise invalid(errors)
    with transaction.atomic():
        override = RotaOverride.objects.create(
            rota=rota, user=user, starts_at=starts_at, ends_at=ends_at
        )
        audit.record(
            "refuge.alerts.rota_override.added",
            actor=actor,
            obj=override,
            detail=printable(
                {
                    "rota": str(rota.pk),
                    "user": str(user.pk),
                    "starts_at": starts_at,
                    "ends_at": ends_at,
                }
            ),
        )
    return override


def rota_override_remove(*, actor: Any, override: RotaOverride) -> None:
    require_manager(actor)
    with transaction.atomic():
        audit.record(
            "refuge.alerts.rota_override.removed",
            actor=actor,
            obj=override,
            detail={"rota": str(override.rota_id), "user": str(override.user_id)},
        )
        override.delete()
