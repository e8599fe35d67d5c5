"""Each staff member's notification channels, in their order of preference."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from refuge.accounts.models import User
from refuge.alerts import selectors
from refuge.alerts.models import StaffChannel
from refuge.alerts.services.setup.common import (
    MAX_CHANNELS,
    MAX_TARGET,
    add_error,
    apply_changes,
    invalid,
    lock,
    move,
    renumber,
)
from refuge.core.errors import DomainError, NotFoundError
from refuge.security import audit

Kind = StaffChannel.Kind
_TELEGRAM_URL = re.compile(r"^tgram://\d{3,}:[A-Za-z0-9_-]{20,}(/[^/\s?#]+)+/?(\?[^\s#]*)?$")
_TELEGRAM_ID = re.compile(r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$")
_PHONE = re.compile(r"^\+[1-9]\d{7,14}$")
_MATRIX_ID = re.compile(r"^[@!#][^:\s]+:[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:\d{1,5})?$")
_URL_SCHEMES = {
    Kind.SIGNAL: {"signal", "signals"},
    Kind.MATRIX: {"matrix", "matrixs"},
    Kind.WEBHOOK: {"json", "jsons", "form", "forms", "xml", "xmls"},
}


def _require_channel_manager(actor: Any, user: Any) -> None:
    if not selectors.can_manage_channels_of(actor, user):
        raise NotFoundError


# --- Staff channels -------------------------------------------------------------------------------


def target_help(kind: str) -> str:
    """What a target of `kind` looks like (the message for a target that does not)."""
    if kind == Kind.EMAIL:
        return _("Enter an e-mail address, such as name@example.org.")
    if kind == Kind.TELEGRAM:
        return _(
            "Enter a Telegram chat id (digits), an @username, or an Apprise URL such as "
            "tgram://BOT_TOKEN/CHAT_ID."
        )
    if kind == Kind.SIGNAL:
        return _(
            "Enter a phone number in international format (+…), or an Apprise URL such as "
            "signal://host:8080/+FROM/+TO."
        )
    if kind == Kind.MATRIX:
        return _(
            "Enter a Matrix id (@name:example.org or #room:example.org), or an Apprise URL "
            "such as matrixs://user:token@example.org/#room."
        )
    return _("Enter an Apprise webhook URL such as jsons://hooks.example.org/refuge.")


def _is_url(target: str, schemes: set[str]) -> bool:
    if any(c.isspace() or not c.isprintable() for c in target):
        return False
    try:
        parts = urlsplit(target)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return False
    return parts.scheme.lower() in schemes and bool(parts.hostname) and port_ok


def _target_ok(kind: str, target: str) -> bool:
    if kind == Kind.EMAIL:
        try:
            validate_email(target)
        except ValidationError:
            return False
        return True
    if kind == Kind.TELEGRAM:
        return bool(_TELEGRAM_URL.match(target) or _TELEGRAM_ID.match(target))
    if kind == Kind.SIGNAL and _PHONE.match(target):
        return True
    if kind == Kind.MATRIX and _MATRIX_ID.match(target):
        return True
    return _is_url(target, _URL_SCHEMES.get(Kind(kind), set()))


def _check_channel(kind: str, target: str, errors: dict[str, list[str]]) -> str:
    target = target.strip()
    if kind not in Kind.values:
        add_error(errors, "kind", _("Choose a kind of channel from the list."))
    elif not target:
        add_error(errors, "target", _("Enter where to send the alerts."))
    elif len(target) > MAX_TARGET:
        add_error(
            errors, "target", _("Keep this under %(limit)d characters.") % {"limit": MAX_TARGET}
        )
    elif not _target_ok(kind, target):
        add_error(errors, "target", target_help(kind))
    return target


def _channels(user_id: Any) -> list[StaffChannel]:
    return list(StaffChannel.objects.filter(user_id=user_id).order_by("position", "created_at"))


def _channel_detail(channel: StaffChannel) -> dict[str, Any]:
    # Never the target: it is a staff member's contact data.
    return {
        "user": str(channel.user_id),
        "kind": channel.kind,
        "position": channel.position,
        "active": channel.active,
    }


def staff_channel_add(
    *, actor: Any, user: User, kind: str, target: str, active: bool = True
) -> StaffChannel:
    """A new last channel for `user` (failover tries the channels in order)."""
    _require_channel_manager(actor, user)
    errors: dict[str, list[str]] = {}
    target = _check_channel(kind, target, errors)
    if errors:
        raise invalid(errors)
    with transaction.atomic():
        lock(User, user.pk)
        count = StaffChannel.objects.filter(user=user).count()
        if count >= MAX_CHANNELS:
            raise DomainError(
                _("Each person has at most %(limit)d channels.") % {"limit": MAX_CHANNELS}
            )
        channel = StaffChannel.objects.create(
            user=user, kind=kind, target=target, position=count, active=active
        )
        audit.record(
            "refuge.alerts.staff_channel.added",
            actor=actor,
            obj=channel,
            detail=_channel_detail(channel),
        )
    return channel


def staff_channel_update(
    *,
    actor: Any,
    channel: StaffChannel,
    kind: str | None = None,
    target: str | None = None,
    active: bool | None = None,
) -> StaffChannel:
    _require_channel_manager(actor, channel.user)
    errors: dict[str, list[str]] = {}
    if kind is not None or target is not None:
        target = _check_channel(
            kind if kind is not None else channel.kind,
            target if target is not None else channel.target,
            errors,
        )
    if errors:
        raise invalid(errors)
    with transaction.atomic():
        changed = apply_changes(channel, {"kind": kind, "target": target, "active": active})
        if changed:
            channel.save(update_fields=[*changed, "updated_at"])
            audit.record(
                "refuge.alerts.staff_channel.updated",
                actor=actor,
                obj=channel,
                detail={"fields": sorted(changed), **_channel_detail(channel)},
            )
    return channel


def staff_channel_remove(*, actor: Any, channel: StaffChannel) -> None:
    _require_channel_manager(actor, channel.user)
    with transaction.atomic():
        lock(User, channel.user_id)
        audit.record(
            "refuge.alerts.staff_channel.removed",
            actor=actor,
            obj=channel,
            detail=_channel_detail(channel),
        )
        channel.delete()
        renumber(StaffChannel, _channels(channel.user_id))


def staff_channel_move(*, actor: Any, channel: StaffChannel, position: int) -> StaffChannel:
    _require_channel_manager(actor, channel.user)
    with transaction.atomic():
        lock(User, channel.user_id)
        old = move(StaffChannel, _channels(channel.user_id), channel, position)
        audit.record(
            "refuge.alerts.staff_channel.moved",
            actor=actor,
            obj=channel,
            detail={"user": str(channel.user_id), "from": old, "to": position},
        )
    return channel
