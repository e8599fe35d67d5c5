"""Security notices for coordinators (ASVS 6.3.5): lockouts and logins stopped at the second
factor. Each is also in the audit chain; the notice is what a coordinator sees on every page
until someone acknowledges it.

The emergency line's notifier lives in `alerts`, a higher layer that accounts may not import, so
notices are shown in the interface (a banner on every coordinator page and the notices page).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from refuge.accounts.models import Role, SecurityNotice, User
from refuge.core import clock
from refuge.core.errors import DomainError, NotFoundError
from refuge.security import audit

# Only the newest notices are listed; older ones stay in the audit log.
LIST_LIMIT = 200


def notice_raise(*, kind: str, user: User | None) -> SecurityNotice:
    with transaction.atomic():
        notice = SecurityNotice.objects.create(kind=kind, user=user)
        audit.record(
            "refuge.accounts.notice.raised",
            actor=None,
            obj=notice,
            detail={"kind": kind, "user": str(user.pk) if user else ""},
        )
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
    """Mark every open notice as seen by `actor`; returns how many."""
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


# django-axes repeats its signal for every attempt during a lockout; one notice per lockout.
MAX_AUDITED_USERNAME = 150


def on_login_locked_out(sender: Any, *, username: str | None = None, **kwargs: Any) -> None:
    """Receiver of django-axes' `user_locked_out` (connected in AccountsConfig.ready)."""
    del sender, kwargs
    typed = str(username or "")[:MAX_AUDITED_USERNAME]
    user = User.objects.filter(username=typed).first() if typed else None
    since = clock.now() - dt.timedelta(hours=settings.AXES_COOLOFF_TIME)
    recent = SecurityNotice.objects.filter(
        kind=SecurityNotice.Kind.LOGIN_LOCKED_OUT, user=user, created_at__gte=since
    )
    if recent.exists():
        return
    with transaction.atomic():
        # The typed name is kept as the login_failed entries keep it: it may be a real user's.
        audit.record("refuge.accounts.session.locked_out", actor=None, detail={"username": typed})
        notice_raise(kind=SecurityNotice.Kind.LOGIN_LOCKED_OUT, user=user)
