"""Security notices for coordinators (ASVS 6.3.5): lockouts, logins stopped at the second
factor, a login from a new place, the seal's state changing and refused unseal shares. Each is
also in the audit chain; the notice is what a coordinator sees on every page until someone
acknowledges it.

The notifier lives in `alerts`, a higher layer that accounts may not import. So a raised notice
fires the `notice_raised` hook, and alerts connects to it: it writes one delivery per active
coordinator to its outbox in the same transaction, and its worker sends them through each
coordinator's notification channels with retries. What was sent where comes back the same way:
alerts registers a reader (`register_delivery_reader`) the notices page and API call.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from refuge.accounts.models import Role, SecurityNotice, User
from refuge.core import clock
from refuge.core.errors import DomainError, NotFoundError
from refuge.core.hooks import Hook
from refuge.security import audit, seal_events

# Only the newest notices are listed; older ones stay in the audit log.
LIST_LIMIT = 200

notice_raised: Hook[SecurityNotice] = Hook("accounts.notice_raised")


@dataclass(frozen=True)
class Delivery:
    """Where one notice was sent (or is being sent) to one coordinator."""

    recipient: str
    channel: str  # the channel's kind ("email", "telegram", ...); empty before any channel
    channel_label: str
    state: str  # pending, sent, failed or cancelled
    state_label: str
    sent_at: dt.datetime | None
    next_attempt_at: dt.datetime | None  # while pending
    attempts: int
    no_channel: bool  # the coordinator has no active notification channel


DeliveryReader = Callable[[Sequence[uuid.UUID]], dict[uuid.UUID, list[Delivery]]]
_delivery_reader: list[DeliveryReader] = []


def register_delivery_reader(reader: DeliveryReader) -> None:
    _delivery_reader[:] = [reader]


def notice_deliveries(notices: Iterable[SecurityNotice]) -> dict[uuid.UUID, list[Delivery]]:
    ids = [notice.pk for notice in notices]
    if not ids or not _delivery_reader:
        return {}
    return _delivery_reader[0](ids)


def notice_raise(*, kind: str, user: User | None) -> SecurityNotice:
    with transaction.atomic():
        notice = SecurityNotice.objects.create(kind=kind, user=user)
        audit.record(
            "refuge.accounts.notice.raised",
            actor=None,
            obj=notice,
            detail={"kind": kind, "user": str(user.pk) if user else ""},
        )
        # In the same transaction: the notice and its outgoing messages exist together. A
        # receiver that fails is rolled back alone and the notice stands (core.hooks).
        notice_raised.fire(notice)
    return notice


def _may_read(actor: Any) -> bool:
    return bool(
        actor is not None
        and actor.is_authenticated
        and actor.is_active
        and actor.role == Role.COORDINATOR
    )


def notice_list(*, actor: Any) -> QuerySet[SecurityNotice]:
    if not _may_read(actor):
        return SecurityNotice.objects.none()
    return SecurityNotice.objects.select_related("user", "acknowledged_by")[:LIST_LIMIT]


def notice_open_count(*, actor: Any) -> int:
    if not _may_read(actor):
        return 0
    return SecurityNotice.objects.filter(acknowledged_at__isnull=True).count()


def notice_acknowledge_all(*, actor: Any) -> int:
    """Mark every open notice as seen by `actor`; returns how many. Messages about them that
    are still waiting to be sent are cancelled (alerts' worker checks before each send)."""
    if not _may_read(actor):
        raise NotFoundError
    with transaction.atomic():
        count = SecurityNotice.objects.filter(acknowledged_at__isnull=True).update(
            acknowledged_by=actor, acknowledged_at=clock.now()
        )
        if not count:
            raise DomainError(_("There are no open notices."))
        audit.record(
            "refuge.accounts.notice.acknowledged", actor=actor, obj=actor, detail={"count": count}
        )
    return count


def _cooloff() -> dt.timedelta:
    return dt.timedelta(hours=settings.AXES_COOLOFF_TIME)


def _raised_recently(kind: str, user: User | None) -> bool:
    return SecurityNotice.objects.filter(
        kind=kind, user=user, created_at__gte=clock.now() - _cooloff()
    ).exists()


# django-axes repeats its signal for every attempt during a lockout; one notice per lockout.
MAX_AUDITED_USERNAME = 150


def on_login_locked_out(sender: Any, *, username: str | None = None, **kwargs: Any) -> None:
    """Receiver of django-axes' `user_locked_out` (connected in AccountsConfig.ready)."""
    del sender, kwargs
    typed = str(username or "")[:MAX_AUDITED_USERNAME]
    user = User.objects.filter(username=typed).first() if typed else None
    if _raised_recently(SecurityNotice.Kind.LOGIN_LOCKED_OUT, user):
        return
    with transaction.atomic():
        # The typed name is kept as the login_failed entries keep it: it may be a real user's.
        audit.record("refuge.accounts.session.locked_out", actor=None, detail={"username": typed})
        notice_raise(kind=SecurityNotice.Kind.LOGIN_LOCKED_OUT, user=user)


_SEAL_NOTICES = {
    seal_events.SEALED: SecurityNotice.Kind.SEALED,
    seal_events.UNSEALED: SecurityNotice.Kind.UNSEALED,
    seal_events.SHARE_REFUSED: SecurityNotice.Kind.UNSEAL_SHARE_REFUSED,
}


def on_seal_event(event: seal_events.SealEvent) -> None:
    """Receiver of security's `seal_changed` hook (connected in AccountsConfig.ready). Refused
    shares are told once per cool-off window, not once per attempt; each one is audited."""
    kind = _SEAL_NOTICES.get(event.kind)
    if kind is None:
        return
    user = User.objects.filter(pk=event.actor_id).first() if event.actor_id else None
    if (
        kind == SecurityNotice.Kind.UNSEAL_SHARE_REFUSED
        and SecurityNotice.objects.filter(
            kind=kind, acknowledged_at__isnull=True, created_at__gte=clock.now() - _cooloff()
        ).exists()
    ):
        return
    notice_raise(kind=kind, user=user)
