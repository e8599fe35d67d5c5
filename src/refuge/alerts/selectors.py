"""Reads of the emergency line's setup: escalation policies, on-call rotas, staff channels.

Who may read what:
- policies and rotas (and their steps, members and overrides): coordinators, who manage them;
- a staff member's channels: the staff member, coordinators (to check that whoever is paged can
  be reached) and administrators (who help staff set them up). A channel's target is contact data
  of staff and is shown to nobody else.
Everyone else gets NotFoundError (404), so the pages do not even confirm that the objects exist.
`actor=None` is the server's own command line (whoever runs it controls the server).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet, Sum

from refuge.accounts.models import Role, User
from refuge.alerts.models import (
    EscalationPolicy,
    EscalationStep,
    OnCallRota,
    RotaMember,
    RotaOverride,
    StaffChannel,
)
from refuge.alerts.rota import on_call
from refuge.core import clock
from refuge.core.errors import NotFoundError

SETUP_MANAGERS = frozenset({Role.COORDINATOR})
CHANNEL_ADMINS = frozenset({Role.ADMIN})
CHANNEL_VIEWERS = frozenset({Role.COORDINATOR, Role.ADMIN})
# Administrators and analysts never see emergencies (alerts.access): paging them is pointless.
UNPAGEABLE_ROLES = frozenset({Role.ADMIN, Role.ANALYST})
# How far ahead the rota pages look for the next changes of who is on call.
NEXT_CHANGES = 6
MAX_OVERRIDES_SHOWN = 50


def _is_live(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False) and bool(actor.is_active)


def can_manage_setup(actor: Any) -> bool:
    """Coordinators manage policies and rotas (None: the server's command line)."""
    return actor is None or (_is_live(actor) and actor.role in SETUP_MANAGERS)


def can_manage_channels_of(actor: Any, user: Any) -> bool:
    """Everyone manages their own channels; administrators anyone's."""
    if actor is None:
        return True
    if not _is_live(actor):
        return False
    return bool(actor.pk == user.pk or actor.role in CHANNEL_ADMINS)


def can_view_channels_of(actor: Any, user: Any) -> bool:
    return can_manage_channels_of(actor, user) or (
        _is_live(actor) and actor.role in CHANNEL_VIEWERS
    )


def _require_manager(actor: Any) -> None:
    if not can_manage_setup(actor):
        raise NotFoundError


def _get(queryset: QuerySet[Any], object_id: Any) -> Any:
    try:
        return queryset.get(pk=object_id)
    except (queryset.model.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFoundError from None


# --- Staff who can be paged -------------------------------------------------------------------


def pageable_staff(*, actor: Any) -> QuerySet[User]:
    """Active staff who see emergencies, so a page to them can be acted on."""
    _require_manager(actor)
    return (
        User.objects.filter(is_active=True).exclude(role__in=UNPAGEABLE_ROLES).order_by("username")
    )


def user_get(*, actor: Any, user_id: Any) -> User:
    """A staff member whose channels `actor` may see."""
    if not _is_live(actor):
        raise NotFoundError
    user: User = _get(User.objects.all(), user_id)
    if not can_view_channels_of(actor, user):
        raise NotFoundError
    return user


def staff_member(*, actor: Any, user_id: Any = None, username: str = "") -> User | None:
    """A staff account named in a policy or rota (the services judge whether it can be paged)."""
    _require_manager(actor)
    if username:
        return User.objects.filter(username=username).first()
    try:
        return User.objects.filter(pk=user_id).first()
    except (ValidationError, ValueError, TypeError):
        return None


# --- Escalation policies ----------------------------------------------------------------------


def _steps() -> Prefetch[Any]:
    return Prefetch(
        "steps",
        queryset=EscalationStep.objects.select_related("user", "rota").order_by("position"),
    )


def policy_list(*, actor: Any) -> QuerySet[EscalationPolicy]:
    _require_manager(actor)
    return EscalationPolicy.objects.prefetch_related(_steps()).order_by("-is_default", "name")


def policy_get(*, actor: Any, policy_id: Any) -> EscalationPolicy:
    _require_manager(actor)
    policy: EscalationPolicy = _get(EscalationPolicy.objects.prefetch_related(_steps()), policy_id)
    return policy


def policy_get_by_name(*, actor: Any, name: str) -> EscalationPolicy | None:
    _require_manager(actor)
    return (
        EscalationPolicy.objects.prefetch_related(_steps())
        .filter(name__iexact=" ".join(name.split()))
        .first()
    )


def policy_default(*, actor: Any) -> EscalationPolicy | None:
    _require_manager(actor)
    return EscalationPolicy.objects.filter(is_default=True).first()


def step_get(*, actor: Any, step_id: Any) -> EscalationStep:
    _require_manager(actor)
    step: EscalationStep = _get(
        EscalationStep.objects.select_related("policy", "user", "rota"), step_id
    )
    return step


def step_fires_after(*, actor: Any, step: EscalationStep) -> int:
    """Minutes after the alert at which `step` first fires."""
    _require_manager(actor)
    total = EscalationStep.objects.filter(
        policy_id=step.policy_id, position__lte=step.position
    ).aggregate(total=Sum("delay_minutes"))["total"]
    return int(total or 0)


def fires_after(steps: list[EscalationStep]) -> list[tuple[EscalationStep, int]]:
    """Each step with the minutes after the alert at which it first fires (delays add up)."""
    total = 0
    timed = []
    for step in steps:
        total += step.delay_minutes
        timed.append((step, total))
    return timed


# --- On-call rotas ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ShiftChange:
    at: dt.datetime
    user: User | None


@dataclass(frozen=True)
class RotaSummary:
    rota: OnCallRota
    on_call_now: User | None


def _members() -> Prefetch[Any]:
    return Prefetch(
        "members", queryset=RotaMember.objects.select_related("user").order_by("position")
    )


def rota_list(*, actor: Any) -> list[RotaSummary]:
    """Every rota with who is on call now (two queries a rota: there are only a few)."""
    _require_manager(actor)
    now = clock.now()
    rotas = OnCallRota.objects.prefetch_related(_members()).order_by("name")
    return [RotaSummary(rota=rota, on_call_now=on_call(rota, now)) for rota in rotas]


def rota_choices(*, actor: Any) -> QuerySet[OnCallRota]:
    _require_manager(actor)
    return OnCallRota.objects.order_by("name")


def rota_get(*, actor: Any, rota_id: Any) -> OnCallRota:
    _require_manager(actor)
    rota: OnCallRota = _get(OnCallRota.objects.prefetch_related(_members()), rota_id)
    return rota


def rota_get_by_name(*, actor: Any, name: str) -> OnCallRota | None:
    _require_manager(actor)
    return (
        OnCallRota.objects.prefetch_related(_members())
        .filter(name__iexact=" ".join(name.split()))
        .first()
    )


def rota_on_call(*, actor: Any, rota: OnCallRota, at: dt.datetime | None = None) -> User | None:
    _require_manager(actor)
    found: User | None = on_call(rota, at or clock.now())
    return found


def rota_next_changes(
    *, actor: Any, rota: OnCallRota, after: dt.datetime | None = None, limit: int = NEXT_CHANGES
) -> list[ShiftChange]:
    """The next moments at which someone else goes on call, and who.

    Candidates are the next rotation boundaries (only when two or more members rotate) and the
    edges of overrides still to come; each is asked of alerts.rota.on_call, the same function the
    escalation engine uses, so the page cannot disagree with who is actually paged."""
    _require_manager(actor)
    now = after or clock.now()
    candidates: set[dt.datetime] = set()
    active = RotaMember.objects.filter(rota=rota, user__is_active=True).count()
    if active > 1:
        shift = dt.timedelta(days=rota.shift_days)
        elapsed = now - rota.starts_on
        # Before the rotation starts its first member is on call, as on its first shift.
        first = elapsed // shift + 1 if elapsed >= dt.timedelta(0) else 1
        candidates.update(rota.starts_on + shift * (first + k) for k in range(limit))
    for starts_at, ends_at in RotaOverride.objects.filter(rota=rota, ends_at__gt=now).values_list(
        "starts_at", "ends_at"
    )[:MAX_OVERRIDES_SHOWN]:
        candidates.update(moment for moment in (starts_at, ends_at) if moment > now)
    changes: list[ShiftChange] = []
    current = on_call(rota, now)
    for moment in sorted(candidates):
        who = on_call(rota, moment)
        if who != current:
            changes.append(ShiftChange(at=moment, user=who))
            current = who
        if len(changes) >= limit:
            break
    return changes


def rota_members(*, actor: Any, rota: OnCallRota) -> QuerySet[RotaMember]:
    _require_manager(actor)
    return RotaMember.objects.filter(rota=rota).select_related("user").order_by("position")


def rota_overrides(*, actor: Any, rota: OnCallRota) -> QuerySet[RotaOverride]:
    """Overrides not yet over, soonest first."""
    _require_manager(actor)
    return (
        RotaOverride.objects.filter(rota=rota, ends_at__gt=clock.now())
        .select_related("user")
        .order_by("starts_at")[:MAX_OVERRIDES_SHOWN]
    )


def rota_member_get(*, actor: Any, member_id: Any) -> RotaMember:
    _require_manager(actor)
    member: RotaMember = _get(RotaMember.objects.select_related("rota", "user"), member_id)
    return member


def rota_member_candidates(*, actor: Any, rota: OnCallRota) -> QuerySet[User]:
    return pageable_staff(actor=actor).exclude(
        pk__in=RotaMember.objects.filter(rota=rota).values("user_id")
    )


def rota_override_get(*, actor: Any, override_id: Any) -> RotaOverride:
    _require_manager(actor)
    override: RotaOverride = _get(RotaOverride.objects.select_related("rota", "user"), override_id)
    return override


def channel_kinds_of(*, actor: Any, users: list[Any]) -> dict[Any, list[str]]:
    """The kinds of each user's active channels, in their order (for the rota page's warning
    that someone cannot be reached). Kinds only: the targets stay on the channels pages."""
    _require_manager(actor)
    kinds: dict[Any, list[str]] = {user.pk: [] for user in users}
    for user_id, kind in (
        StaffChannel.objects.filter(user__in=[u.pk for u in users], active=True)
        .order_by("user", "position")
        .values_list("user_id", "kind")
    ):
        kinds[user_id].append(kind)
    return kinds


# --- Staff channels -------------------------------------------------------------------------------


def channels_of(*, actor: Any, user: Any) -> QuerySet[StaffChannel]:
    """A staff member's channels in their order of preference (failover goes down the list)."""
    if not can_view_channels_of(actor, user):
        raise NotFoundError
    return StaffChannel.objects.filter(user=user).order_by("position", "created_at")


def channel_get(*, actor: Any, channel_id: Any) -> StaffChannel:
    """A channel its owner (or an administrator) may change; anyone else gets NotFoundError."""
    if actor is not None and not _is_live(actor):
        raise NotFoundError
    channel: StaffChannel = _get(StaffChannel.objects.select_related("user"), channel_id)
    if not can_manage_channels_of(actor, channel.user):
        raise NotFoundError
    return channel


def can_browse_staff_channels(actor: Any) -> bool:
    return _is_live(actor) and actor.role in CHANNEL_VIEWERS


def staff_with_channels(*, actor: Any) -> QuerySet[User]:
    """Active staff with their channels, for coordinators (who can be reached?) and
    administrators (whose channels need setting up?)."""
    if not can_browse_staff_channels(actor):
        raise NotFoundError
    return (
        User.objects.filter(is_active=True)
        .prefetch_related(
            Prefetch("channels", queryset=StaffChannel.objects.order_by("position", "created_at"))
        )
        .order_by("username")
    )
