"""Escalation policies and their ordered steps."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from refuge.accounts.models import User
from refuge.alerts.models import EscalationPolicy, EscalationStep, OnCallRota, StaffChannel
from refuge.alerts.services.setup.common import (
    MAX_DELAY_MINUTES,
    MAX_EN_ROUTE_MINUTES,
    MAX_REPEAT,
    MAX_STEPS,
    Target,
    add_error,
    apply_changes,
    check_pageable,
    check_range,
    clean_name,
    invalid,
    lock,
    move,
    ref,
    renumber,
    require_manager,
    save_unique,
)
from refuge.core.errors import DomainError
from refuge.security import audit

# --- Escalation policies ----------------------------------------------------------------------


def policy_create(
    *,
    actor: Any,
    name: str,
    is_default: bool = False,
    repeat: int = 1,
    en_route_within_minutes: int = 10,
) -> EscalationPolicy:
    """The first policy becomes the default whatever `is_default` says: there must be one."""
    require_manager(actor)
    errors: dict[str, list[str]] = {}
    name = clean_name(name, EscalationPolicy, errors)
    check_range(repeat, 0, MAX_REPEAT, "repeat", errors)
    check_range(en_route_within_minutes, 1, MAX_EN_ROUTE_MINUTES, "en_route_within_minutes", errors)
    if errors:
        raise invalid(errors)
    with transaction.atomic():
        defaults = EscalationPolicy.objects.select_for_update().filter(is_default=True)
        is_default = is_default or not defaults.exists()
        if is_default:
            defaults.update(is_default=False)
        policy = EscalationPolicy(
            name=name,
            is_default=is_default,
            repeat=repeat,
            en_route_within_minutes=en_route_within_minutes,
        )
        save_unique(policy, "name")
        audit.record(
            "refuge.alerts.policy.created",
            actor=actor,
            obj=policy,
            detail={
                "name": name,
                "is_default": is_default,
                "repeat": repeat,
                "en_route_within_minutes": en_route_within_minutes,
            },
        )
    return policy


def policy_update(
    *,
    actor: Any,
    policy: EscalationPolicy,
    name: str | None = None,
    is_default: bool | None = None,
    repeat: int | None = None,
    en_route_within_minutes: int | None = None,
) -> EscalationPolicy:
    """Making a policy the default unsets the previous default; a default is never unset
    directly (make another policy the default instead)."""
    require_manager(actor)
    errors: dict[str, list[str]] = {}
    if name is not None:
        name = clean_name(name, EscalationPolicy, errors, pk=policy.pk)
    if repeat is not None:
        check_range(repeat, 0, MAX_REPEAT, "repeat", errors)
    if en_route_within_minutes is not None:
        check_range(
            en_route_within_minutes, 1, MAX_EN_ROUTE_MINUTES, "en_route_within_minutes", errors
        )
    if is_default is False and policy.is_default:
        add_error(errors, "is_default", _("Make another policy the default instead."))
    if errors:
        raise invalid(errors)
    values = {
        "name": name,
        "is_default": is_default,
        "repeat": repeat,
        "en_route_within_minutes": en_route_within_minutes,
    }
    with transaction.atomic():
        changed = apply_changes(policy, values)
        if changed:
            if changed.get("is_default"):
                EscalationPolicy.objects.filter(is_default=True).exclude(pk=policy.pk).update(
                    is_default=False
                )
            try:
                with transaction.atomic():
                    policy.save(update_fields=list(changed))
            except IntegrityError:
                raise invalid({"name": [_("This name is already taken.")]}) from None
            audit.record(
                "refuge.alerts.policy.updated",
                actor=actor,
                obj=policy,
                detail={"fields": sorted(changed), **changed},
            )
    return policy


def policy_delete(*, actor: Any, policy: EscalationPolicy) -> None:
    """Emergencies keep the copy of the policy frozen onto them when they opened."""
    require_manager(actor)
    if policy.is_default and EscalationPolicy.objects.exclude(pk=policy.pk).exists():
        raise DomainError(_("Make another policy the default before deleting this one."))
    with transaction.atomic():
        audit.record(
            "refuge.alerts.policy.deleted", actor=actor, obj=policy, detail={"name": policy.name}
        )
        policy.delete()


# --- Escalation steps -----------------------------------------------------------------------------


def _check_step(
    errors: dict[str, list[str]],
    *,
    target: str,
    delay_minutes: int,
    user: User | None,
    rota: OnCallRota | None,
    channel_kinds: Iterable[str],
) -> dict[str, Any]:
    """The step's fields, cleaned: a rota only for the on-call target, a user only for a named
    staff member, channel kinds without repeats."""
    if target not in Target.values:
        add_error(errors, "target", _("Choose who to page from the list."))
    check_range(delay_minutes, 0, MAX_DELAY_MINUTES, "delay_minutes", errors)
    if target == Target.ON_CALL and rota is None:
        add_error(errors, "rota", _("Choose the rota whose on-call operator is paged."))
    if target == Target.USER:
        check_pageable(user, "user", errors)
    kinds = list(dict.fromkeys(channel_kinds))
    unknown = [str(k) for k in kinds if k not in StaffChannel.Kind.values]
    if unknown:
        add_error(
            errors,
            "channel_kinds",
            _("Unknown channel kind: %(kinds)s.") % {"kinds": ", ".join(unknown[:5])},
        )
    return {
        "target": target,
        "delay_minutes": delay_minutes,
        "user": user if target == Target.USER else None,
        "rota": rota if target == Target.ON_CALL else None,
        "channel_kinds": kinds,
    }


def _step_detail(step: EscalationStep) -> dict[str, Any]:
    return {
        "policy": str(step.policy_id),
        "position": step.position,
        "target": step.target,
        "delay_minutes": step.delay_minutes,
        "user": ref(step.user),
        "rota": ref(step.rota),
        "channel_kinds": step.channel_kinds,
    }


def _steps(policy_id: Any) -> list[EscalationStep]:
    return list(EscalationStep.objects.filter(policy_id=policy_id).order_by("position"))


def step_add(
    *,
    actor: Any,
    policy: EscalationPolicy,
    target: str,
    delay_minutes: int = 0,
    user: User | None = None,
    rota: OnCallRota | None = None,
    channel_kinds: Iterable[str] = (),
) -> EscalationStep:
    """A new last step. `delay_minutes` counts from the step before (0 for the first: at once)."""
    require_manager(actor)
    errors: dict[str, list[str]] = {}
    values = _check_step(
        errors,
        target=target,
        delay_minutes=delay_minutes,
        user=user,
        rota=rota,
        channel_kinds=channel_kinds,
    )
    if errors:
        raise invalid(errors)
    with transaction.atomic():
        lock(EscalationPolicy, policy.pk)
        count = EscalationStep.objects.filter(policy=policy).count()
        if count >= MAX_STEPS:
            raise DomainError(_("A policy has at most %(limit)d steps.") % {"limit": MAX_STEPS})
        step = EscalationStep.objects.create(policy=policy, position=count, **values)
        audit.record("refuge.alerts.step.added", actor=actor, obj=step, detail=_step_detail(step))
    return step


def step_update(
    *,
    actor: Any,
    step: EscalationStep,
    target: str,
    delay_minutes: int,
    user: User | None = None,
    rota: OnCallRota | None = None,
    channel_kinds: Iterable[str] = (),
) -> EscalationStep:
    """Replaces the step's definition (its position changes with step_move)."""
    require_manager(actor)
    errors: dict[str, list[str]] = {}
    values = _check_step(
        errors,
        target=target,
        delay_minutes=delay_minutes,
        user=user,
        rota=rota,
        channel_kinds=channel_kinds,
    )
    if errors:
        raise invalid(errors)
    with transaction.atomic():
        for name, value in values.items():
            setattr(step, name, value)
        step.save(update_fields=list(values))
        audit.record("refuge.alerts.step.updated", actor=actor, obj=step, detail=_step_detail(step))
    return step


def step_remove(*, actor: Any, step: EscalationStep) -> None:
    require_manager(actor)
    with transaction.atomic():
        lock(EscalationPolicy, step.policy_id)
        audit.record("refuge.alerts.step.removed", actor=actor, obj=step, detail=_step_detail(step))
        step.delete()
        renumber(EscalationStep, _steps(step.policy_id))


def step_move(*, actor: Any, step: EscalationStep, position: int) -> EscalationStep:
    require_manager(actor)
    with transaction.atomic():
        lock(EscalationPolicy, step.policy_id)
        rows = _steps(step.policy_id)
        old = move(EscalationStep, rows, step, position)
        audit.record(
            "refuge.alerts.step.moved",
            actor=actor,
            obj=step,
            detail={"policy": str(step.policy_id), "from": old, "to": position},
        )
    return step
