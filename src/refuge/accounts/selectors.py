"""Reads of staff accounts and teams: administrators and coordinators only, everyone else gets
NotFoundError (404), so the staff pages do not even confirm they exist."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from refuge.accounts.models import Role, Team, TeamMembership, User
from refuge.core.errors import NotFoundError

STAFF_VIEWERS = frozenset({Role.ADMIN, Role.COORDINATOR})


def can_view_staff(actor: Any) -> bool:
    return (
        actor is not None
        and getattr(actor, "is_authenticated", False)
        and actor.is_active
        and actor.role in STAFF_VIEWERS
    )


def _require_viewer(actor: Any) -> None:
    if not can_view_staff(actor):
        raise NotFoundError


def user_list(*, actor: Any, query: str = "") -> QuerySet[User]:
    _require_viewer(actor)
    users = User.objects.prefetch_related(
        Prefetch("memberships", queryset=TeamMembership.objects.select_related("team"))
    )
    query = query.strip()
    if query:
        users = users.filter(username__icontains=query[:150])
    return users.order_by("-is_active", "username")


def user_get(*, actor: Any, user_id: Any) -> User:
    _require_viewer(actor)
    try:
        return User.objects.get(pk=user_id)
    except (User.DoesNotExist, ValueError):
        raise NotFoundError from None


def team_list(*, actor: Any) -> QuerySet[Team]:
    _require_viewer(actor)
    return Team.objects.prefetch_related(
        Prefetch("memberships", queryset=TeamMembership.objects.select_related("user"))
    ).order_by("name")


def team_get(*, actor: Any, team_id: Any) -> Team:
    _require_viewer(actor)
    try:
        return Team.objects.get(pk=team_id)
    except (Team.DoesNotExist, ValueError):
        raise NotFoundError from None


def team_members(*, actor: Any, team: Team) -> QuerySet[TeamMembership]:
    _require_viewer(actor)
    return (
        TeamMembership.objects.filter(team=team)
        .select_related("user")
        .order_by("-is_lead", "user__username")
    )


def team_candidates(*, actor: Any, team: Team) -> QuerySet[User]:
    """Active accounts that could join `team` (administrators never join teams)."""
    _require_viewer(actor)
    return (
        User.objects.filter(is_active=True)
        .exclude(role=Role.ADMIN)
        .exclude(memberships__team=team)
        .order_by("username")
    )


def team_get_by_name(*, actor: Any, name: str) -> Team | None:
    """For the command line (actor=None: the server's own shell) and the staff pages."""
    if actor is not None:
        _require_viewer(actor)
    return Team.objects.filter(name__iexact=" ".join(name.split())).first()
